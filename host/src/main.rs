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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PHOTOSYNC_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("photosync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
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

fn runtime() -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))
}
