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
pub mod scaffold;
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
pub use runtime::{PoolLimits, Runtime, RuntimeOptions};
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
    /// An object in a NATS Object Store bucket (`nats:BUCKET/NAME`), fetched by the service
    /// into [`PluginSpec::code`] before loading: this module does no network I/O.
    Object { bucket: String, name: String },
}

impl Source {
    /// The name messages use: a file's name without its folder, otherwise the source as written.
    pub fn short_name(&self) -> String {
        match self {
            Source::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Source::Builtin(_) | Source::Object { .. } => self.to_string(),
        }
    }

    /// Reads the component's bytes (a file's or a builtin's; an object is fetched elsewhere).
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
            Source::Object { .. } => Err(PluginError::Fetch {
                plugin: plugin.to_owned(),
                reason: "an object is fetched from NATS by photosync run; \
                         give this command the file instead"
                    .into(),
            }),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin(b) => write!(f, "builtin:{}", b.name),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Object { bucket, name } => write!(f, "nats:{bucket}/{name}"),
        }
    }
}

/// A component's bytes fetched ahead of loading (from an Object Store bucket); shown by its
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Code({} bytes)", self.0.len())
    }
}

/// The lower-case hex SHA-256 of `wasm`, as `sha256 = "…"` pins it.
pub fn sha256_hex(wasm: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    /// The SHA-256 (lower-case hex) the code must have, when pinned.
    pub sha256: Option<String>,
    /// The code, when fetched ahead (an Object Store source); otherwise the source is read.
    pub code: Option<Code>,
}

impl PluginSpec {
    /// A spec for a file or builtin with default limits and no settings.
    pub fn new(name: &str, source: Source, limits: Limits) -> Self {
        Self {
            name: name.to_owned(),
            source,
            limits,
            settings: BTreeMap::new(),
            sha256: None,
            code: None,
        }
    }

    /// The component's bytes: fetched ahead or read from the source, and checked against the
    /// pinned hash.
    pub fn wasm(&self) -> Result<std::borrow::Cow<'_, [u8]>, PluginError> {
        let wasm = match &self.code {
            Some(code) => std::borrow::Cow::Borrowed(&code.0[..]),
            None => self.source.read(&self.name)?,
        };
        if let Some(pinned) = &self.sha256 {
            let found = sha256_hex(&wasm);
            if !found.eq_ignore_ascii_case(pinned) {
                return Err(PluginError::HashMismatch {
                    plugin: self.name.clone(),
                    pinned: pinned.to_ascii_lowercase(),
                    found,
                });
            }
        }
        Ok(wasm)
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
        let wasm = self.wasm()?;
        let loaded = runtime.load(&self.name, &wasm, role, self.limits)?;
        let pre = typed(loaded.pre.clone()).map_err(|e| PluginError::Invalid {
            plugin: self.name.clone(),
            reason: format!("{e:#}"),
        })?;
        Ok((loaded, pre))
    }
}

/// What a plugin source says, as written in configs and on the command line: `builtin:NAME`,
/// `nats:BUCKET/NAME` (an object in a NATS Object Store bucket) or a file's path.
pub fn parse_source(text: &str) -> Result<Source, String> {
    if let Some(name) = text.strip_prefix("builtin:") {
        return builtin::find(name).map(Source::Builtin).ok_or_else(|| {
            format!(
                "there is no builtin plugin {name:?}; the builtins are {}",
                builtin::names().join(", ")
            )
        });
    }
    if let Some(object) = text.strip_prefix("nats:") {
        let usage = "write nats:BUCKET/NAME, e.g. nats:photosync-plugins/matcher.wasm";
        let (bucket, name) = object
            .split_once('/')
            .ok_or_else(|| format!("{text:?} names no object; {usage}"))?;
        let bucket_ok = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !bucket_ok || name.is_empty() || name.chars().any(char::is_control) {
            return Err(format!(
                "{text:?} is not a bucket and an object name; {usage}"
            ));
        }
        return Ok(Source::Object {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(Source::File(Path::new(text).to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_code_is_read_only_with_its_hash_and_a_mismatch_names_both() {
        let dedup = builtin::find("dedup-md5").expect("builtin");
        let limits = Limits {
            memory_mib: 16,
            deadline_ms: 100,
        };
        let mut spec = PluginSpec::new("dedup", Source::Builtin(dedup), limits);
        let actual = sha256_hex(dedup.wasm);
        spec.sha256 = Some(actual.to_uppercase());
        assert_eq!(
            spec.wasm().expect("the pinned code").len(),
            dedup.wasm.len()
        );
        let wrong = "0".repeat(64);
        spec.sha256 = Some(wrong.clone());
        let error = spec.wasm().expect_err("another hash").to_string();
        assert!(error.contains(&actual) && error.contains(&wrong), "{error}");
    }

    #[test]
    fn sources_parse_as_builtins_objects_or_files() {
        assert!(matches!(
            parse_source("builtin:dedup-md5"),
            Ok(Source::Builtin(_))
        ));
        assert_eq!(
            parse_source("nats:photosync-plugins/hr matcher.wasm"),
            Ok(Source::Object {
                bucket: "photosync-plugins".into(),
                name: "hr matcher.wasm".into()
            })
        );
        assert!(parse_source("nats:/m.wasm").is_err());
        assert!(parse_source("nats:b/").is_err());
        assert_eq!(
            parse_source("plugins/m.wasm"),
            Ok(Source::File("plugins/m.wasm".into()))
        );
    }
}
