//! The wiring of servers and plugins from the configuration: the NATS connection, the
//! directory client, the plugin runtime and plugins, and the pipeline made of them. The
//! commands and the operators' tools take only the pieces they need from here.

use anyhow::Context as _;

use crate::backup::Backups;
use crate::bus::Bus;
use crate::config::Config;
use crate::directory::Directory;
use crate::pipeline::{Parts, Pipeline, Plugins, RetryPolicy};
use crate::plugins::{Deduper, Matcher, Role, Runtime, RuntimeOptions, Transformer};

/// NATS, with the configured credentials.
pub async fn connect_bus(config: &Config) -> anyhow::Result<Bus> {
    let nats_password = config
        .nats
        .password
        .as_ref()
        .map(|s| s.resolve())
        .transpose()?;
    let options = crate::bus::BusOptions {
        servers: config.nats.servers(),
        user: config.nats.user.clone().zip(nats_password),
        replicas: config.nats.replicas,
    };
    Ok(Bus::connect_with(&options).await?)
}

/// The directory client, checked to answer.
pub async fn connect_directory(config: &Config) -> anyhow::Result<Directory> {
    let directory = Directory::new(config.ldap.clone(), config.ldap.password.resolve()?);
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

/// The configured deduper alone (whose digests the sync state holds).
pub fn deduper(config: &Config) -> anyhow::Result<Deduper> {
    Ok(Deduper::load(
        &runtime(config)?,
        &config.plugin_spec(Role::Deduper)?,
    )?)
}

/// The three configured plugins, loaded and checked.
pub fn plugins(config: &Config) -> anyhow::Result<Plugins> {
    let runtime = runtime(config)?;
    Ok(Plugins {
        matcher: Matcher::load(&runtime, &config.plugin_spec(Role::Matcher)?)?,
        transformer: Transformer::load(&runtime, &config.plugin_spec(Role::Transformer)?)?,
        deduper: Deduper::load(&runtime, &config.plugin_spec(Role::Deduper)?)?,
    })
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
    let plugins = plugins(config)?;
    let bus = connect_bus(config).await?;
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
    }))
}
