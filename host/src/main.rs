//! The `photosync` command: parses arguments, sets up logging and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use photosync::offline;
use photosync::plugins::{self, PluginSpec, Role, Runtime, RuntimeOptions};

/// Event-driven directory photo synchronisation with sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "photosync", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the service: processes photo-upload and directory-change events from NATS (and
    /// watches the directory when [watcher] enabled = true).
    Run {
        /// The configuration file (TOML; see docs/configuration.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Watches the directory and publishes directory-change events (without processing any).
    Watch {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Publishes a photo-changed event for the current photo of every entry in scope.
    Export {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Every entry in scope (the only mode so far; it must be given).
        #[arg(long, required = true)]
        all: bool,
    },
    /// Publishes the dead letters (events that failed on every delivery) again, and removes them.
    Replay {
        /// The NATS server.
        #[arg(long, env = "PHOTOSYNC_NATS", default_value = "nats://127.0.0.1:4222")]
        nats: String,
    },
    /// Checks a configuration file without connecting to anything.
    CheckConfig {
        /// The configuration file.
        config: PathBuf,
    },
    /// Publishes photo files as photo-upload events.
    Publish {
        /// The photos.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The NATS server.
        #[arg(long, env = "PHOTOSYNC_NATS", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// A producer attribute, NAME=VALUE (e.g. employeeID=12345); may be repeated.
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attrs: Vec<String>,
        /// Who is producing the events.
        #[arg(long, default_value = "photosync-publish")]
        source: String,
    },
    /// Prints results as they arrive, one line each.
    Results {
        /// The NATS server.
        #[arg(long, env = "PHOTOSYNC_NATS", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// Stop after this many results.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Runs the transformer on a photo file and writes the JPEG it produces.
    Transform {
        /// The photo to transform.
        input: PathBuf,
        /// Where to write the JPEG.
        #[arg(short, long)]
        output: PathBuf,
        /// The rendition profile: thumbnailPhoto (96x96, ≤10 KB aimed) or jpegPhoto (648x648).
        #[arg(long, default_value = "thumbnailPhoto")]
        profile: String,
        /// A transformer component to use instead of the builtin transform-jpeg.
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// A plugin setting, KEY=VALUE; may be repeated.
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Imports a folder of photos: publishes one event per photo, shows progress and ends with
    /// a summary; exits 1 when a photo failed or was rejected. With --dry-run, says what would
    /// happen and changes nothing.
    Import {
        /// The folder (searched recursively; hidden and partial files are skipped).
        dir: PathBuf,
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Which file names to import (`*` and `?`, case ignored); photo endings by default.
        #[arg(long)]
        pattern: Option<String>,
        /// Match, transform and decide for every file without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Give up when no result has arrived for this many seconds.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// Watches a folder and publishes each photo dropped or replaced in it.
    WatchFolder {
        /// The folder.
        dir: PathBuf,
        /// The configuration file (its [nats] section is used).
        #[arg(long)]
        config: PathBuf,
        /// Which file names to publish (`*` and `?`); photo endings by default.
        #[arg(long)]
        pattern: Option<String>,
        /// Milliseconds a file must stay unchanged before it is published.
        #[arg(long, default_value_t = 2000)]
        settle_ms: u64,
        /// Milliseconds between two looks at the folder.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
    },
    /// Forgets the sync state and applies every stored photo again; photos already right in
    /// the directory are not rewritten.
    Resync {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Every entry in scope.
        #[arg(long, conflicts_with = "entry", required_unless_present = "entry")]
        all: bool,
        /// Only the entry with this DN.
        #[arg(long)]
        entry: Option<String>,
        /// Give up when no result has arrived for this many seconds.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// Puts back photos photosync replaced, from its backups.
    Rollback {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The last write of this entry (DN).
        #[arg(long, conflicts_with = "since", required_unless_present = "since")]
        entry: Option<String>,
        /// Every write since this time (2026-11-21T09:00:00Z) or age (90m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Say what would be restored without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Writes a self-contained HTML report of results, with photos before and after.
    Report {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Only results since this time (2026-11-21T09:00:00Z) or age (90m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Where to write the page.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Works with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Says which role a component implements, its WIT version and its imports, and whether
    /// photosync would accept it.
    Inspect {
        /// The component file, or builtin:NAME for a plugin built into photosync.
        file: String,
    },
    /// Lists the plugins built into this binary.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PHOTOSYNC_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; a log file or a collector gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("photosync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => {
            let config = photosync::config::Config::load(&config)?;
            tokio_runtime()?.block_on(photosync::service::run(config, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch { config } => {
            let config = photosync::config::Config::load(&config)?;
            tokio_runtime()?.block_on(photosync::service::watch(config, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { config, all: _ } => {
            let config = photosync::config::Config::load(&config)?;
            let (entries, events) =
                tokio_runtime()?.block_on(photosync::service::export_all(&config))?;
            println!(
                "exported {events} photos from {entries} entries on {}",
                photosync::events::PHOTO_CHANGED
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { nats } => {
            let replayed = tokio_runtime()?.block_on(async {
                let bus = photosync::bus::Bus::connect(&nats, None).await?;
                bus.replay_dead_letters().await
            })?;
            println!("replayed {replayed} dead letters");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            dir,
            config,
            pattern,
            dry_run,
            wait_secs,
        } => {
            let config = photosync::config::Config::load(&config)?;
            let options = photosync::ops::import::Options {
                dir,
                pattern,
                dry_run,
                patience: std::time::Duration::from_secs(wait_secs),
            };
            tokio_runtime()?.block_on(import(&config, &options))
        }
        Command::WatchFolder {
            dir,
            config,
            pattern,
            settle_ms,
            interval_ms,
        } => {
            let config = photosync::config::Config::load(&config)?;
            let options = photosync::ops::folder::Options {
                dir,
                pattern,
                settle: std::time::Duration::from_millis(settle_ms),
                interval: std::time::Duration::from_millis(interval_ms.max(50)),
            };
            tokio_runtime()?.block_on(async {
                let bus = photosync::service::connect_bus(&config).await?;
                photosync::ops::folder::run(&bus, &options, shutdown_signal()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Resync {
            config,
            all: _,
            entry,
            wait_secs,
        } => {
            let config = photosync::config::Config::load(&config)?;
            let target = match entry {
                Some(dn) => photosync::ops::resync::Target::Entry(dn),
                None => photosync::ops::resync::Target::All,
            };
            let summary = tokio_runtime()?.block_on(photosync::ops::resync::run(
                &config,
                &target,
                std::time::Duration::from_secs(wait_secs),
            ))?;
            println!(
                "resync: {} entries\n{}",
                summary.total(),
                summary.render(20)
            );
            Ok(exit_for(&summary))
        }
        Command::Rollback {
            config,
            entry,
            since,
            dry_run,
        } => {
            let config = photosync::config::Config::load(&config)?;
            let scope = match (entry, since) {
                (Some(dn), _) => photosync::ops::rollback::Scope::Entry(dn),
                (None, Some(t)) => photosync::ops::rollback::Scope::Since(
                    photosync::ops::parse_since(&t).map_err(anyhow::Error::msg)?,
                ),
                (None, None) => bail!("give --entry DN or --since TIME"),
            };
            let restored = tokio_runtime()?
                .block_on(photosync::ops::rollback::run(&config, &scope, dry_run))?;
            for r in &restored {
                println!("{} {}: {}", r.record.dn, r.record.attribute, r.note);
            }
            let written = restored.iter().filter(|r| r.written).count();
            println!(
                "rollback{}: {written} of {} attributes restored",
                if dry_run { " (dry run)" } else { "" },
                restored.len()
            );
            let failed = restored.iter().any(|r| r.note.starts_with("not restored"));
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Report {
            config,
            since,
            output,
        } => {
            let config = photosync::config::Config::load(&config)?;
            let since = since
                .map(|t| photosync::ops::parse_since(&t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let html = tokio_runtime()?.block_on(async {
                let bus = photosync::service::connect_bus(&config).await?;
                let backups =
                    photosync::backup::Backups::open(&bus, config.backup.retention()).await?;
                photosync::ops::report::build(&bus, &backups, since).await
            })?;
            std::fs::write(&output, html)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            photosync::config::Config::load(&config)?;
            println!("{}: valid", config.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish {
            files,
            nats,
            attrs,
            source,
        } => {
            let mut attributes = std::collections::BTreeMap::new();
            for kv in attrs {
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("--attr {kv:?} is not NAME=VALUE")
                };
                attributes.insert(k.to_owned(), v.to_owned());
            }
            tokio_runtime()?.block_on(async {
                let bus = photosync::bus::Bus::connect(&nats, None).await?;
                for file in &files {
                    let event =
                        photosync::publish::publish_file(&bus, file, &source, &attributes).await?;
                    println!("published {} as event {}", event.file_name, event.id);
                }
                anyhow::Ok(ExitCode::SUCCESS)
            })
        }
        Command::Results { nats, count } => tokio_runtime()?.block_on(print_results(&nats, count)),
        Command::Transform {
            input,
            output,
            profile,
            plugin,
            settings,
        } => {
            let profile = photosync::profiles::find(&profile).with_context(|| {
                format!("there is no profile {profile:?}; use thumbnailPhoto or jpegPhoto")
            })?;
            let source = match plugin {
                Some(path) => plugins::Source::File(path),
                None => plugins::Source::Builtin(plugins::builtin::default_for(Role::Transformer)),
            };
            let mut spec = PluginSpec::new(
                &source.to_string(),
                source,
                offline::default_limits(Role::Transformer),
            );
            for kv in settings {
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("--setting {kv:?} is not KEY=VALUE")
                };
                spec.settings.insert(k.to_owned(), v.to_owned());
            }
            let runtime = runtime()?;
            let r = offline::transform_file(&runtime, &spec, &profile, &input, &output)?;
            println!(
                "{}: {}x{} JPEG, {} bytes, quality {}",
                output.display(),
                r.width,
                r.height,
                r.jpeg.len(),
                r.quality
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => {
            let source = plugins::parse_source(&file).map_err(anyhow::Error::msg)?;
            let inspection = offline::inspect_plugin(&runtime()?, &source)?;
            print!("{}", inspection.text);
            match inspection.refusal {
                Some(refusal) => {
                    eprintln!("photosync: refused: {refusal}");
                    Ok(ExitCode::FAILURE)
                }
                None => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Plugin {
            command: PluginCommand::List,
        } => {
            for b in &plugins::builtin::BUILTINS {
                println!(
                    "builtin:{:<16} {:<12} {} bytes",
                    b.name,
                    b.role.name(),
                    b.wasm.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `photosync import`: the preview or the real run, printed; exit 1 when anything failed.
async fn import(
    config: &photosync::config::Config,
    options: &photosync::ops::import::Options,
) -> anyhow::Result<ExitCode> {
    if options.dry_run {
        let preview = photosync::ops::import::preview(config, options).await?;
        print!("{}", photosync::ops::import::render_preview(&preview, 20));
        return Ok(exit_for(&preview.summary));
    }
    let summary = photosync::ops::import::run(config, options).await?;
    println!(
        "import: {} photos from {}\n{}",
        summary.total(),
        options.dir.display(),
        summary.render(20)
    );
    Ok(exit_for(&summary))
}

/// Exit status 1 when a photo failed or was rejected.
fn exit_for(summary: &photosync::ops::Summary) -> ExitCode {
    if summary.any_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Subscribes to results and prints one line per result.
async fn print_results(nats: &str, count: Option<usize>) -> anyhow::Result<ExitCode> {
    use futures::StreamExt as _;
    let client = async_nats::connect(nats).await?;
    let mut sub = client
        .subscribe(format!("{}.>", photosync::events::RESULT_PREFIX))
        .await?;
    let mut seen = 0;
    while let Some(message) = sub.next().await {
        match serde_json::from_slice::<photosync::events::PhotoResult>(&message.payload) {
            Ok(r) => println!(
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
            ),
            Err(e) => println!("(unreadable result: {e})"),
        }
        seen += 1;
        if count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))
}
