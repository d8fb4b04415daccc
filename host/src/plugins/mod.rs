//! Loading, sandboxing and calling WebAssembly component plugins.
//!
//! Owns the wasmtime engine and everything a plugin call can do to the host. Each call gets a
//! fresh instance with a memory cap and a CPU deadline; every failure becomes a [`PluginError`].
//! It must not do I/O beyond reading plugin files and the compiled-code cache.

mod bindings;
pub mod builtin;
mod cache;
pub mod cases;
mod deduper;
mod error;
pub mod inspect;
pub mod jpeg;
mod matcher;
mod runtime;
mod store;
mod transformer;
mod typed;

use std::collections::BTreeMap;
use std::path::Path;

pub use bindings::types::{Attribute, Setting};
pub use deduper::{Decision, DedupInput, Deduper, SkipReason, SyncState};
pub use error::PluginError;
pub use inspect::Role;
pub use matcher::{Criterion, MatchOutcome, Matcher, PhotoInfo, is_attribute_name};
pub use runtime::{Runtime, RuntimeOptions};
pub use transformer::{
    Fit, Profile, Rejection, Rendition, Transformer, describe as transformer_describe,
};

/// The resources one call of a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the plugin's linear memory, in MiB.
    pub memory_mib: u64,
    /// CPU time one call may take before it is stopped, in milliseconds.
    pub deadline_ms: u64,
}

/// Where a plugin's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One of the reference plugins built into the binary, by name (e.g. `match-pattern`).
    Builtin(&'static builtin::Builtin),
    /// A component file.
    File(std::path::PathBuf),
}

impl Source {
    /// Reads the component's bytes.
    pub fn read(&self, plugin: &str) -> Result<std::borrow::Cow<'static, [u8]>, PluginError> {
        match self {
            Source::Builtin(b) => Ok(std::borrow::Cow::Borrowed(b.wasm)),
            Source::File(path) => {
                std::fs::read(path)
                    .map(std::borrow::Cow::Owned)
                    .map_err(|source| PluginError::Read {
                        plugin: plugin.to_owned(),
                        path: path.clone(),
                        source,
                    })
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin(b) => write!(f, "builtin:{}", b.name),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Everything needed to load one plugin.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The name used in logs and errors.
    pub name: String,
    /// Where the code is.
    pub source: Source,
    /// Memory and CPU limits of each call.
    pub limits: Limits,
    /// The plugin's own settings, passed to every call.
    pub settings: BTreeMap<String, String>,
}

impl PluginSpec {
    /// A spec for a file or builtin with default limits and no settings.
    pub fn new(name: &str, source: Source, limits: Limits) -> Self {
        Self {
            name: name.to_owned(),
            source,
            limits,
            settings: BTreeMap::new(),
        }
    }

    pub(crate) fn settings_list(&self) -> Vec<Setting> {
        self.settings
            .iter()
            .map(|(key, value)| Setting {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// Loads the plugin for `role` and makes its typed pre-instance with `typed` (the world's
    /// generated `…Pre::new`).
    pub(crate) fn load<P>(
        &self,
        runtime: &Runtime,
        role: Role,
        typed: impl FnOnce(wasmtime::component::InstancePre<store::PluginState>) -> wasmtime::Result<P>,
    ) -> Result<(runtime::Loaded, P), PluginError> {
        let wasm = self.source.read(&self.name)?;
        let loaded = runtime.load(&self.name, &wasm, role, self.limits)?;
        let pre = typed(loaded.pre.clone()).map_err(|e| PluginError::Invalid {
            plugin: self.name.clone(),
            reason: format!("{e:#}"),
        })?;
        Ok((loaded, pre))
    }
}

/// Whether `path` names a builtin plugin (`builtin:NAME`) or a file, as written in configs and
/// on the command line.
pub fn parse_source(text: &str) -> Result<Source, String> {
    match text.strip_prefix("builtin:") {
        Some(name) => builtin::find(name).map(Source::Builtin).ok_or_else(|| {
            format!(
                "there is no builtin plugin {name:?}; the builtins are {}",
                builtin::names().join(", ")
            )
        }),
        None => Ok(Source::File(Path::new(text).to_path_buf())),
    }
}
