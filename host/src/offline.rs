//! Commands that work on files without NATS or LDAP: run the transformer on a photo, and inspect
//! a plugin component. They print for a person; errors say what to do.

use std::fmt::Write as _;
use std::path::Path;

use crate::plugins::{self, PluginError, PluginSpec, Rejection, Rendition, Role, Runtime, inspect};

/// Why an offline command failed.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The input photo could not be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        path: String,
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    WriteOutput {
        path: String,
        source: std::io::Error,
    },
    /// The plugin failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The plugin rejected the photo.
    #[error("{file} was rejected: {reason}")]
    Rejected { file: String, reason: String },
    /// The engine could not start.
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(String),
}

/// Transforms the photo at `input` with `spec` and writes the JPEG to `output`.
pub fn transform_file(
    runtime: &Runtime,
    spec: &PluginSpec,
    profile: &plugins::Profile,
    input: &Path,
    output: &Path,
) -> Result<Rendition, OfflineError> {
    let photo = std::fs::read(input).map_err(|source| OfflineError::ReadInput {
        path: input.display().to_string(),
        source,
    })?;
    let transformer = plugins::Transformer::load(runtime, spec)?;
    let rendition = transformer
        .transform(&photo, profile)?
        .map_err(|r: Rejection| OfflineError::Rejected {
            file: input.display().to_string(),
            reason: plugins::transformer_describe(&r),
        })?;
    std::fs::write(output, &rendition.jpeg).map_err(|source| OfflineError::WriteOutput {
        path: output.display().to_string(),
        source,
    })?;
    Ok(rendition)
}

/// What `photosync plugin inspect` found: a description, and the reason the host would refuse
/// the component, if it would.
#[derive(Debug)]
pub struct Inspection {
    /// Lines for a person: size, roles, imports, verdict.
    pub text: String,
    /// Why the component cannot be used as a plugin, if it cannot.
    pub refusal: Option<PluginError>,
}

/// Describes a component for `photosync plugin inspect`, each import with what it gets
/// (`granted: clocks`, `denied: network`, …); refuses one that imports something the host does
/// not provide or implements no role.
pub fn inspect_plugin(
    runtime: &Runtime,
    source: &plugins::Source,
) -> Result<Inspection, PluginError> {
    let name = source.short_name();
    let wasm = source.read(&name)?;
    let report = inspect::inspect_bytes(runtime, &name, &wasm)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: a WebAssembly component of {} bytes",
        wasm.len()
    );
    for (role, version) in &report.roles {
        let _ = writeln!(
            out,
            "  role: {} ({}/{}@{version})",
            role.name(),
            inspect::WIT_PACKAGE,
            role.name()
        );
    }
    let _ = writeln!(out, "  imports:");
    for line in report.import_lines() {
        let _ = writeln!(out, "    {line}");
    }
    let refusal = if let Err(import) = report.check_grants() {
        Some(PluginError::ForbiddenImport {
            plugin: name,
            import,
        })
    } else if report.roles.is_empty() {
        Some(PluginError::WrongRole {
            plugin: name,
            expected: "matcher, transformer or deduper",
            found: report.exports.join(", "),
        })
    } else {
        let roles: Vec<&str> = report.roles.iter().map(|(r, _)| r.name()).collect();
        let _ = writeln!(
            out,
            "  verdict: usable as a {} plugin (this host speaks {}@{})",
            roles.join(" and "),
            inspect::WIT_PACKAGE,
            inspect::WIT_VERSION
        );
        None
    };
    Ok(Inspection { text: out, refusal })
}

/// The limits used for `role` when the configuration says nothing.
pub fn default_limits(role: Role) -> plugins::Limits {
    match role {
        Role::Matcher => plugins::Limits {
            memory_mib: 32,
            deadline_ms: 1_000,
        },
        Role::Transformer => plugins::Limits {
            memory_mib: 512,
            deadline_ms: 10_000,
        },
        Role::Deduper => plugins::Limits {
            memory_mib: 128,
            deadline_ms: 2_000,
        },
    }
}
