//! The `photosync` command: parses arguments, sets up logging and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use photosync::{commands, ops};

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
        #[command(flatten)]
        nats: NatsArgs,
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
        #[command(flatten)]
        nats: NatsArgs,
        /// A producer attribute, NAME=VALUE (e.g. employeeID=12345); may be repeated.
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attrs: Vec<String>,
        /// Who is producing the events.
        #[arg(long, default_value = "photosync-publish")]
        source: String,
    },
    /// Prints results as they arrive, one line each.
    Results {
        #[command(flatten)]
        nats: NatsArgs,
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
    /// Erases one person's data from every stream and bucket photosync owns (events, results,
    /// photo-changed events, dead letters, photos, sync state, backups) and lists it.
    Forget {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The person whose entry has this DN.
        #[arg(long, conflicts_with = "name", required_unless_present = "name")]
        entry: Option<String>,
        /// The person a photo file of this name was for.
        #[arg(long)]
        name: Option<String>,
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
    /// Asks a worker's health endpoint (for a container HEALTHCHECK): exit 0 when it answers 200.
    Healthcheck {
        /// The URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:9464/readyz")]
        url: String,
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
    /// Runs a plugin offline against a cases file (input → expected output or error) and
    /// prints each case with the plugin's log lines; exit 1 when a case fails.
    Test {
        /// The component file, or builtin:NAME.
        file: String,
        /// The cases (TOML; see plugins/match-table-py/README.md for the format).
        #[arg(long)]
        cases: PathBuf,
    },
    /// Writes a new plugin project into DIR (which must not exist or be empty): source, WIT
    /// files, a build script, test cases and a README, for one role in one language.
    New {
        /// The role: matcher, transformer or deduper.
        #[arg(long)]
        role: String,
        /// The language: rust, python or js.
        #[arg(long)]
        lang: String,
        /// The plugin's name (lower-case letters, digits and hyphens); DIR's name by default.
        #[arg(long)]
        name: Option<String>,
        /// The folder to create.
        dir: PathBuf,
    },
    /// Stores a plugin component in the NATS bucket photosync-plugins and prints the
    /// configuration lines that load it, pinned by its SHA-256.
    Push {
        /// The component file.
        file: PathBuf,
        /// The object's name; the file's name by default.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Compiles the builtin plugins (and the given components) ahead of time into a folder,
    /// for PHOTOSYNC_PLUGIN_PRECOMPILED_DIR (a container image's read-only copy).
    Precompile {
        /// Where to write the compiled code.
        #[arg(long)]
        dir: PathBuf,
        /// Plugin components to compile besides the builtins.
        files: Vec<PathBuf>,
    },
}

/// Where a command that has no configuration of its own finds NATS.
#[derive(Debug, clap::Args)]
struct NatsArgs {
    /// The NATS server (without credentials or a private CA; see --config).
    #[arg(long, env = "PHOTOSYNC_NATS", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// A configuration file whose [nats] section (servers, credentials, TLS) to use instead of
    /// --nats.
    #[arg(long = "config", value_name = "FILE")]
    nats_config: Option<PathBuf>,
    /// The deployment's prefix of subjects, streams and buckets, as its `[nats] prefix` (with
    /// --nats; --config brings its own).
    #[arg(long, env = "PHOTOSYNC_NATS_PREFIX", default_value = photosync::names::DEFAULT_PREFIX)]
    prefix: String,
}

impl From<NatsArgs> for commands::NatsTarget {
    fn from(args: NatsArgs) -> Self {
        match args.nats_config {
            Some(config) => Self::Config(config),
            None => Self::Url {
                url: args.nats,
                prefix: args.prefix,
            },
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = std::env::var("PHOTOSYNC_LOG_FORMAT").ok().or_else(|| {
        cli.command
            .config()
            .and_then(photosync::config::log_format_of)
    });
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PHOTOSYNC_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    if format.as_deref() == Some("json") {
        // One JSON object a line, with the event's span fields, for container log collectors.
        log.json().with_current_span(true).init();
    } else {
        // Colours only for a person at a terminal; a log file or a collector gets plain text.
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match run(cli) {
        Ok(outcome) => {
            print!("{}", outcome.text);
            if let Some(refusal) = &outcome.refusal {
                eprintln!("photosync: refused: {refusal}");
            }
            if outcome.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("photosync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The configuration file the command reads, if it reads one.
    fn config(&self) -> Option<&std::path::Path> {
        match self {
            Command::Run { config }
            | Command::Watch { config }
            | Command::Export { config, .. }
            | Command::Import { config, .. }
            | Command::WatchFolder { config, .. }
            | Command::Resync { config, .. }
            | Command::Rollback { config, .. }
            | Command::Forget { config, .. }
            | Command::Report { config, .. } => Some(config),
            _ => None,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<commands::Outcome> {
    match cli.command {
        Command::Run { config } => commands::run(&config),
        Command::Watch { config } => commands::watch(&config),
        Command::Export { config, all: _ } => commands::export(&config),
        Command::Replay { nats } => commands::replay(&nats.into()),
        Command::Forget {
            config,
            entry,
            name,
        } => {
            let target = match (entry, name) {
                (Some(dn), _) => ops::forget::Target::Entry(dn),
                (None, Some(name)) => ops::forget::Target::Name(name),
                (None, None) => unreachable!("clap requires --entry or --name"),
            };
            commands::forget(&config, &target)
        }
        Command::CheckConfig { config } => commands::check_config(&config),
        Command::Import {
            dir,
            config,
            pattern,
            dry_run,
            wait_secs,
        } => commands::import(
            &config,
            &ops::import::Options {
                dir,
                pattern,
                dry_run,
                patience: Duration::from_secs(wait_secs),
            },
        ),
        Command::WatchFolder {
            dir,
            config,
            pattern,
            settle_ms,
            interval_ms,
        } => commands::watch_folder(
            &config,
            &ops::folder::Options {
                dir,
                pattern,
                settle: Duration::from_millis(settle_ms),
                interval: Duration::from_millis(interval_ms.max(50)),
            },
        ),
        Command::Resync {
            config,
            all: _,
            entry,
            wait_secs,
        } => {
            let target = match entry {
                Some(dn) => ops::resync::Target::Entry(dn),
                None => ops::resync::Target::All,
            };
            commands::resync(&config, &target, Duration::from_secs(wait_secs))
        }
        Command::Rollback {
            config,
            entry,
            since,
            dry_run,
        } => commands::rollback(&config, entry, since.as_deref(), dry_run),
        Command::Report {
            config,
            since,
            output,
        } => commands::report(&config, since.as_deref(), &output),
        Command::Publish {
            files,
            nats,
            attrs,
            source,
        } => commands::publish(&files, &nats.into(), &attrs, &source),
        Command::Results { nats, count } => commands::results(&nats.into(), count),
        Command::Healthcheck { url } => commands::healthcheck(&url),
        Command::Transform {
            input,
            output,
            profile,
            plugin,
            settings,
        } => commands::transform(&commands::TransformArgs {
            input,
            output,
            profile,
            plugin,
            settings,
        }),
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => commands::plugin_inspect(&file),
        Command::Plugin {
            command: PluginCommand::List,
        } => Ok(commands::plugin_list()),
        Command::Plugin {
            command: PluginCommand::Test { file, cases },
        } => commands::plugin_test(&file, &cases),
        Command::Plugin {
            command:
                PluginCommand::New {
                    role,
                    lang,
                    name,
                    dir,
                },
        } => commands::plugin_new(&dir, &role, &lang, name.as_deref()),
        Command::Plugin {
            command: PluginCommand::Push { file, name, nats },
        } => commands::plugin_push(&file, name.as_deref(), &nats.into()),
        Command::Plugin {
            command: PluginCommand::Precompile { dir, files },
        } => commands::plugin_precompile(&dir, &files),
    }
}
