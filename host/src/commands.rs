//! What each `photosync` command does, from its parsed arguments to an [`Outcome`]: the text
//! it prints and whether it succeeded. `main` only parses arguments and prints outcomes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;

use crate::config::Config;
use crate::events::PhotoResult;
use crate::names::Names;
use crate::ops::{self, import, resync, rollback};
use crate::plugins::{self, PluginSpec, Role, Runtime, RuntimeOptions};
use crate::{offline, profiles, publish, service, shutdown};

/// What a command ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What it prints on standard output.
    pub text: String,
    /// Printed on standard error as `photosync: refused: …` (exit status 1).
    pub refusal: Option<String>,
    /// Whether it exits with status 0.
    pub success: bool,
}

impl Outcome {
    fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            refusal: None,
            success: true,
        }
    }

    /// Success or failure as `failed` says.
    fn unless(failed: bool, text: String) -> Self {
        Self {
            text,
            refusal: None,
            success: !failed,
        }
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio_runtime()?.block_on(work)
}

/// `photosync run`: the service, until SIGINT or SIGTERM.
pub fn run(config: &Path) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    block_on(async { service::run(config, shutdown::signal()).await })?;
    Ok(Outcome::ok(""))
}

/// `photosync watch`: the directory watcher alone, until SIGINT or SIGTERM.
pub fn watch(config: &Path) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    block_on(async { service::watch(config, shutdown::signal()).await })?;
    Ok(Outcome::ok(""))
}

/// `photosync healthcheck`: succeeds when `url` (a worker's /readyz, by default) answers 200
/// within 5 s; for a HEALTHCHECK in an image without a shell.
pub fn healthcheck(url: &str) -> anyhow::Result<Outcome> {
    let status = block_on(async {
        tokio::time::timeout(Duration::from_secs(5), crate::health::get_status(url))
            .await
            .map_err(|_| anyhow::anyhow!("{url} did not answer within 5 s"))?
    })?;
    Ok(Outcome::unless(status != 200, format!("{url}: {status}\n")))
}

/// `photosync export --all`.
pub fn export(config: &Path) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    let (entries, events) = block_on(service::export_all(&config))?;
    Ok(Outcome::ok(format!(
        "exported {events} photos from {entries} entries on {}\n",
        config.nats.names().photo_changed
    )))
}

/// Where a command without a configuration of its own finds NATS: a URL (no credentials) and
/// the deployment's prefix, or a configuration file's `[nats]` section.
#[derive(Debug, Clone)]
pub enum NatsTarget {
    Url { url: String, prefix: String },
    Config(PathBuf),
}

impl NatsTarget {
    async fn connect(&self) -> anyhow::Result<crate::bus::Bus> {
        match self {
            NatsTarget::Url { url, .. } => {
                let mut options = crate::bus::BusOptions::url(url);
                options.names = self.names()?;
                Ok(crate::bus::Bus::connect_with(&options).await?)
            }
            NatsTarget::Config(config) => service::connect_bus(&Config::load(config)?).await,
        }
    }

    /// The names of the deployment's subjects, streams and buckets.
    fn names(&self) -> anyhow::Result<Names> {
        match self {
            NatsTarget::Url { prefix, .. } => {
                crate::names::check_prefix(prefix)
                    .map_err(|reason| anyhow::anyhow!("--prefix {reason}"))?;
                Ok(Names::new(prefix))
            }
            NatsTarget::Config(config) => Ok(Config::load(config)?.nats.names()),
        }
    }
}

/// `photosync forget`: one person's data erased from photosync's streams and buckets, one line
/// per thing removed.
pub fn forget(config: &Path, target: &ops::forget::Target) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    let removed = block_on(ops::forget::run(&config, target))?;
    let mut text: String = removed.iter().map(|l| format!("removed {l}\n")).collect();
    text += &format!("forget: {} things removed\n", removed.len());
    Ok(Outcome::ok(text))
}

/// `photosync replay`: dead letters published again.
pub fn replay(nats: &NatsTarget) -> anyhow::Result<Outcome> {
    let replayed = block_on(async {
        let bus = nats.connect().await?;
        Ok(bus.replay_dead_letters().await?)
    })?;
    Ok(Outcome::ok(format!("replayed {replayed} dead letters\n")))
}

/// `photosync check-config`.
pub fn check_config(config: &Path) -> anyhow::Result<Outcome> {
    Config::load(config)?;
    Ok(Outcome::ok(format!("{}: valid\n", config.display())))
}

/// `photosync import`: the preview or the real run; fails when a photo failed or was rejected.
pub fn import(config: &Path, options: &import::Options) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    block_on(async {
        if options.dry_run {
            let preview = import::preview(&config, options).await?;
            let text = import::render_preview(&preview, 20);
            return Ok(Outcome::unless(preview.summary.any_failed(), text));
        }
        let summary = import::run(&config, options).await?;
        let text = format!(
            "import: {} photos from {}\n{}\n",
            summary.total(),
            options.dir.display(),
            summary.render(20)
        );
        Ok(Outcome::unless(summary.any_failed(), text))
    })
}

/// `photosync watch-folder`, until SIGINT or SIGTERM.
pub fn watch_folder(config: &Path, options: &ops::folder::Options) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    block_on(async {
        let bus = service::connect_bus(&config).await?;
        ops::folder::run(&bus, options, shutdown::signal()).await
    })?;
    Ok(Outcome::ok(""))
}

/// `photosync resync`; fails when an entry's photo failed or was rejected.
pub fn resync(
    config: &Path,
    target: &resync::Target,
    patience: Duration,
) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    let summary = block_on(resync::run(&config, target, patience))?;
    let text = format!(
        "resync: {} entries\n{}\n",
        summary.total(),
        summary.render(20)
    );
    Ok(Outcome::unless(summary.any_failed(), text))
}

/// `photosync rollback`; fails when an attribute could not be restored.
pub fn rollback(
    config: &Path,
    entry: Option<String>,
    since: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    let scope = match (entry, since) {
        (Some(dn), _) => rollback::Scope::Entry(dn),
        (None, Some(t)) => rollback::Scope::Since(ops::parse_since(t).map_err(anyhow::Error::msg)?),
        (None, None) => bail!("give --entry DN or --since TIME"),
    };
    let restored = block_on(rollback::run(&config, &scope, dry_run))?;
    let mut text = String::new();
    for r in &restored {
        text += &format!("{} {}: {}\n", r.record.dn, r.record.attribute, r.note);
    }
    let written = restored.iter().filter(|r| r.written).count();
    text += &format!(
        "rollback{}: {written} of {} attributes restored\n",
        if dry_run { " (dry run)" } else { "" },
        restored.len()
    );
    Ok(Outcome::unless(restored.iter().any(|r| r.failed), text))
}

/// `photosync report`: the HTML page written to `output`.
pub fn report(config: &Path, since: Option<&str>, output: &Path) -> anyhow::Result<Outcome> {
    let config = Config::load(config)?;
    let since = since
        .map(ops::parse_since)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let html = block_on(async {
        let bus = service::connect_bus(&config).await?;
        let backups = crate::backup::Backups::open(&bus, config.backup.retention()).await?;
        ops::report::build(&bus, &backups, since).await
    })?;
    std::fs::write(output, html).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(Outcome::ok(format!("wrote {}\n", output.display())))
}

/// `photosync publish`: each file as a photo-upload event; `attrs` are NAME=VALUE.
pub fn publish(
    files: &[PathBuf],
    nats: &NatsTarget,
    attrs: &[String],
    source: &str,
) -> anyhow::Result<Outcome> {
    let mut attributes = BTreeMap::new();
    for kv in attrs {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--attr {kv:?} is not NAME=VALUE")
        };
        attributes.insert(k.to_owned(), v.to_owned());
    }
    block_on(async {
        let bus = nats.connect().await?;
        let mut text = String::new();
        for file in files {
            let event = publish::publish_file(&bus, file, source, &attributes).await?;
            text += &format!("published {} as event {}\n", event.file_name, event.id);
        }
        Ok(Outcome::ok(text))
    })
}

/// `photosync results`: one line per result as it arrives, printed at once; ends after
/// `count` results when given.
pub fn results(nats: &NatsTarget, count: Option<usize>) -> anyhow::Result<Outcome> {
    block_on(async {
        let bus = nats.connect().await?;
        let subjects = format!("{}.>", bus.names().result_prefix);
        let mut sub = bus.client.subscribe(subjects.clone()).await?;
        bus.client.flush().await?;
        eprintln!("photosync results: waiting for results on {subjects}");
        let mut seen = 0;
        let mut out = std::io::stdout();
        while let Some(message) = sub.next().await {
            let line = match serde_json::from_slice::<PhotoResult>(&message.payload) {
                Ok(r) => result_line(&r),
                Err(e) => format!("(unreadable result: {e})"),
            };
            writeln!(out, "{line}")?;
            out.flush()?;
            seen += 1;
            if count.is_some_and(|c| seen >= c) {
                break;
            }
        }
        Ok(Outcome::ok(""))
    })
}

/// One result as `photosync results` shows it.
pub fn result_line(r: &PhotoResult) -> String {
    format!(
        "{:<10} {:<24} {}{}",
        r.outcome.as_str(),
        r.file_name.as_deref().unwrap_or("?"),
        r.entry_dn
            .as_deref()
            .map(|dn| format!("{dn} "))
            .unwrap_or_default(),
        r.reason.as_deref().map_or_else(
            || r.attributes
                .iter()
                .map(|a| format!("[{}: {}]", a.attribute, a.reason))
                .collect::<Vec<_>>()
                .join(" "),
            str::to_owned
        )
    )
}

/// What `photosync transform` is given.
#[derive(Debug, Clone)]
pub struct TransformArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub profile: String,
    pub plugin: Option<PathBuf>,
    /// KEY=VALUE plugin settings.
    pub settings: Vec<String>,
}

/// `photosync transform`: one photo file through the transformer.
pub fn transform(args: &TransformArgs) -> anyhow::Result<Outcome> {
    let profile = profiles::find(&args.profile).with_context(|| {
        format!(
            "there is no profile {:?}; use thumbnailPhoto or jpegPhoto",
            args.profile
        )
    })?;
    let source = match &args.plugin {
        Some(path) => plugins::Source::File(path.clone()),
        None => plugins::Source::Builtin(plugins::builtin::default_for(Role::Transformer)),
    };
    let mut spec = PluginSpec::new(
        &source.to_string(),
        source,
        offline::default_limits(Role::Transformer),
    );
    for kv in &args.settings {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--setting {kv:?} is not KEY=VALUE")
        };
        spec.settings.insert(k.to_owned(), v.to_owned());
    }
    let r = offline::transform_file(&runtime()?, &spec, &profile, &args.input, &args.output)?;
    Ok(Outcome::ok(format!(
        "{}: {}x{} JPEG, {} bytes, quality {}\n",
        args.output.display(),
        r.width,
        r.height,
        r.jpeg.len(),
        r.quality
    )))
}

/// `photosync plugin inspect`: refused (status 1) when photosync would not load it.
pub fn plugin_inspect(file: &str) -> anyhow::Result<Outcome> {
    let source = plugins::parse_source(file).map_err(anyhow::Error::msg)?;
    let inspection = offline::inspect_plugin(&runtime()?, &source)?;
    Ok(Outcome {
        text: inspection.text,
        success: inspection.refusal.is_none(),
        refusal: inspection.refusal.map(|e| e.to_string()),
    })
}

/// `photosync plugin push`: checks that the component is usable as a plugin, stores it as
/// `name` (its file name by default) in the plugin bucket and prints the configuration lines
/// that load it pinned by its SHA-256.
pub fn plugin_push(file: &Path, name: Option<&str>, nats: &NatsTarget) -> anyhow::Result<Outcome> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => plugins::Source::File(file.to_path_buf()).short_name(),
    };
    let bucket = nats.names()?.plugins_bucket;
    let source = format!("nats:{bucket}/{name}");
    plugins::parse_source(&source).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = plugins::inspect::inspect_bytes(&runtime()?, &name, &wasm)?;
    if let Err(import) = report.check_grants() {
        return Err(plugins::PluginError::ForbiddenImport {
            plugin: name,
            import,
        }
        .into());
    }
    let Some((role, _)) = report.roles.first() else {
        bail!(
            "{} implements no plugin role (it exports: {}); nothing pushed",
            file.display(),
            report.exports.join(", ")
        );
    };
    let sha256 = plugins::sha256_hex(&wasm);
    block_on(async {
        let bus = nats.connect().await?;
        bus.put_plugin(&name, &wasm).await?;
        Ok(())
    })?;
    Ok(Outcome::ok(format!(
        "Stored {name} ({} bytes, a {} plugin) in bucket {}. To run it, pinned, put this in the \
         configuration:\n\n[plugins.{}]\nsource = \"{source}\"\nsha256 = \"{sha256}\"\n",
        wasm.len(),
        role.name(),
        bucket,
        role.name()
    )))
}

/// `photosync plugin precompile`: the builtin plugins, and `files`, compiled into `dir` for
/// this binary's engine (a container image's read-only `PHOTOSYNC_PLUGIN_PRECOMPILED_DIR`).
pub fn plugin_precompile(dir: &Path, files: &[PathBuf]) -> anyhow::Result<Outcome> {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        precompiled_dir: None,
        ..RuntimeOptions::default()
    })
    .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))?;
    let mut text = String::new();
    for b in &plugins::builtin::BUILTINS {
        let name = format!("builtin:{}", b.name);
        runtime.compile(&name, b.wasm)?;
        text += &format!("compiled {name}\n");
    }
    for file in files {
        let wasm =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        runtime.compile(&file.display().to_string(), &wasm)?;
        text += &format!("compiled {}\n", file.display());
    }
    text += &format!("into {}\n", dir.display());
    Ok(Outcome::ok(text))
}

/// `photosync plugin test`: runs the plugin offline against a cases file; fails when a case
/// does.
pub fn plugin_test(file: &str, cases: &Path) -> anyhow::Result<Outcome> {
    let source = plugins::parse_source(file).map_err(anyhow::Error::msg)?;
    let report = plugins::cases::run(&runtime()?, &source, cases)?;
    Ok(Outcome::unless(!report.passed(), report.to_string()))
}

/// `photosync plugin new`: a plugin project for `role` in `lang` written into `dir`, named
/// `name` or after `dir`; refused when `dir` has anything in it.
pub fn plugin_new(
    dir: &Path,
    role: &str,
    lang: &str,
    name: Option<&str>,
) -> anyhow::Result<Outcome> {
    use plugins::scaffold;
    let role = scaffold::parse_role(role)?;
    let lang = scaffold::Lang::parse(lang)?;
    let name = match name {
        Some(name) => name.to_owned(),
        None => scaffold::default_name(dir)?,
    };
    let files = scaffold::create(dir, role, lang, &name)?;
    let mut text = format!(
        "created {name}, a {} plugin in {}, in {}:\n",
        role.name(),
        lang.name(),
        dir.display()
    );
    for file in &files {
        text += &format!("  {}\n", file.path);
    }
    text += &format!(
        "next: cd {} && ./build && photosync plugin test {name}.wasm --cases cases.toml\n",
        dir.display()
    );
    Ok(Outcome::ok(text))
}

/// `photosync plugin list`.
pub fn plugin_list() -> Outcome {
    let mut text = String::new();
    for b in &plugins::builtin::BUILTINS {
        text += &format!(
            "builtin:{:<16} {:<12} {} bytes\n",
            b.name,
            b.role.name(),
            b.wasm.len()
        );
    }
    Outcome::ok(text)
}

fn runtime() -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))
}
