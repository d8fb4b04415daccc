//! The wiring of servers and plugins from the configuration: the NATS connection, the
//! directory client, the plugin runtime and plugins, and the pipeline made of them. The
//! commands and the operators' tools take only the pieces they need from here.

use anyhow::Context as _;

use crate::backup::Backups;
use crate::bus::{Auth, Bus, BusOptions, Tls};
use crate::config::Config;
use crate::directory::{Directory, Login};
use crate::pipeline::{Parts, Pipeline, Plugins, RetryPolicy};
use crate::plugins::{
    Code, Deduper, PluginError, PluginSpec, Role, Runtime, RuntimeOptions, Source,
};

/// NATS, with the configured credentials and TLS.
pub async fn connect_bus(config: &Config) -> anyhow::Result<Bus> {
    Ok(Bus::connect_with(&bus_options(config)?).await?)
}

/// How the configuration says to reach NATS (secrets read from their files or variables).
pub fn bus_options(config: &Config) -> anyhow::Result<BusOptions> {
    let n = &config.nats;
    let auth = match (&n.user, &n.token, &n.nkey, &n.creds) {
        (Some(user), ..) => {
            let password = n.password.as_ref().map(|s| s.resolve()).transpose()?;
            Auth::UserPassword(user.clone(), password.unwrap_or_default())
        }
        (_, Some(token), ..) => Auth::Token(token.resolve()?),
        (_, _, Some(seed), _) => Auth::Nkey(seed.clone()),
        (_, _, _, Some(creds)) => Auth::Creds(creds.clone()),
        _ => Auth::None,
    };
    let tls = Tls {
        ca_file: n.ca_file.clone(),
        client: n.cert_file.clone().zip(n.key_file.clone()),
    };
    Ok(BusOptions {
        servers: n.servers(),
        auth,
        tls,
        replicas: n.replicas,
        retention: Some(config.retention.durations()?),
        names: n.names(),
        inbox_prefix: n.inbox_prefix.clone(),
    })
}

/// The directory client, checked to answer.
pub async fn connect_directory(config: &Config) -> anyhow::Result<Directory> {
    let directory = Directory::new(config.ldap.clone(), Login::of(&config.ldap)?);
    directory
        .check()
        .await
        .context("the directory check failed")?;
    Ok(directory)
}

/// NATS and the directory, without plugins: what the watcher and export need.
pub async fn connect_servers(config: &Config) -> anyhow::Result<(Bus, Directory)> {
    Ok((connect_bus(config).await?, connect_directory(config).await?))
}

/// The plugin runtime, with the configured code cache.
pub fn runtime(config: &Config) -> anyhow::Result<Runtime> {
    let options = RuntimeOptions {
        cache_dir: config
            .plugins
            .cache_dir
            .clone()
            .or_else(|| RuntimeOptions::default().cache_dir),
        ..RuntimeOptions::default()
    };
    Runtime::new(options).map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))
}

/// The spec of the plugin playing `role`, its code fetched when it is an object in a bucket.
pub async fn plugin_spec(config: &Config, role: Role, bus: &Bus) -> anyhow::Result<PluginSpec> {
    let mut spec = config.plugin_spec(role)?;
    fetch_code(&mut spec, bus).await?;
    Ok(spec)
}

/// Fetches the code of a plugin whose source is an Object Store object into `spec.code`, and
/// returns the object's content digest; nothing for a file or builtin.
pub async fn fetch_code(spec: &mut PluginSpec, bus: &Bus) -> Result<Option<String>, PluginError> {
    let Source::Object { bucket, name } = &spec.source else {
        return Ok(None);
    };
    let object = bus
        .get_object(bucket, name)
        .await
        .map_err(|e| PluginError::Fetch {
            plugin: spec.name.clone(),
            reason: e.to_string(),
        })?;
    spec.code = Some(Code(object.bytes.into()));
    Ok(Some(object.content))
}

/// The configured deduper alone (whose digests the sync state holds).
pub async fn deduper(config: &Config, bus: &Bus) -> anyhow::Result<Deduper> {
    let spec = plugin_spec(config, Role::Deduper, bus).await?;
    Ok(Deduper::load(&runtime(config)?, &spec)?)
}

/// The three configured plugins, loaded with `runtime` and checked.
pub async fn plugins(config: &Config, runtime: &Runtime, bus: &Bus) -> anyhow::Result<Plugins> {
    let [matcher, transformer, deduper] = Role::ALL;
    let matcher = plugin_spec(config, matcher, bus).await?;
    let transformer = plugin_spec(config, transformer, bus).await?;
    let deduper = plugin_spec(config, deduper, bus).await?;
    Ok(Plugins::load(runtime, [&matcher, &transformer, &deduper])?)
}

/// How the configuration says failed events are tried again.
pub fn retry_policy(config: &Config) -> RetryPolicy {
    RetryPolicy {
        first: std::time::Duration::from_secs(config.worker.retry_secs),
        longest: std::time::Duration::from_secs(config.worker.retry_max_secs),
        max_deliver: config.worker.max_deliver,
    }
}

/// The pipeline: plugins loaded and checked, NATS connected, directory bound. With `dry_run`,
/// one that decides everything and changes nothing.
pub async fn pipeline(config: &Config, dry_run: bool) -> anyhow::Result<Pipeline> {
    let bus = connect_bus(config).await?;
    let plugins = plugins(config, &runtime(config)?, &bus).await?;
    assemble(config, plugins, bus, dry_run).await
}

/// [`pipeline`] from plugins already loaded and a NATS connection already made.
pub async fn assemble(
    config: &Config,
    plugins: Plugins,
    bus: Bus,
    dry_run: bool,
) -> anyhow::Result<Pipeline> {
    let directory = connect_directory(config).await?;
    let backups = match config.backup.enabled && !dry_run {
        true => Some(Backups::open(&bus, config.backup.retention()).await?),
        false => None,
    };
    Ok(Pipeline::new(Parts {
        plugins,
        bus,
        directory,
        profiles: config.profiles(),
        backups,
        dry_run,
        retry: retry_policy(config),
        erase_deleted: config.retention.erase_deleted,
    }))
}
