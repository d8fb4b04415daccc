//! The errors a plugin call can end in, each naming the plugin and what the operator can do.

use std::path::PathBuf;

/// Why loading or calling a plugin failed. Every variant names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {plugin} from {path}: {source}")]
    Read {
        plugin: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The plugin's object could not be fetched from its bucket.
    #[error("cannot fetch plugin {plugin}: {reason}")]
    Fetch { plugin: String, reason: String },
    /// The code is not the code the configuration pins.
    #[error(
        "plugin {plugin} is not the pinned code: its SHA-256 is {found}, the configuration \
         pins {pinned}; put the intended plugin there or change sha256"
    )]
    HashMismatch {
        plugin: String,
        pinned: String,
        found: String,
    },
    /// The bytes are not a WebAssembly component wasmtime accepts.
    #[error("plugin {plugin} is not a usable WebAssembly component: {reason}")]
    Invalid { plugin: String, reason: String },
    /// The component implements another role, or none.
    #[error("plugin {plugin} does not implement the {expected} role (it exports: {found})")]
    WrongRole {
        plugin: String,
        expected: &'static str,
        found: String,
    },
    /// The component imports something photosync does not provide.
    #[error(
        "plugin {plugin} needs {import}, which photosync does not provide to plugins \
         (plugins may import photosync:plugin 0.1 and WASI 0.2, whose files, network and \
         environment are linked but denied); rebuild the plugin without it"
    )]
    ForbiddenImport { plugin: String, import: String },
    /// The call ran past its CPU deadline and was stopped.
    #[error(
        "plugin {plugin} was stopped after running past its CPU deadline of {deadline_ms} ms; \
         raise deadline-ms for it only if the input is legitimately that expensive"
    )]
    Timeout { plugin: String, deadline_ms: u64 },
    /// The call tried to grow its memory past the cap.
    #[error(
        "plugin {plugin} was stopped when it asked for {asked_mib} MiB of memory, over its cap of \
         {cap_mib} MiB; raise memory-mib for it only if the input is legitimately that large"
    )]
    MemoryExceeded {
        plugin: String,
        asked_mib: u64,
        cap_mib: u64,
    },
    /// The guest trapped: a panic, an abort or a fault in the plugin.
    #[error("plugin {plugin} crashed: {reason}")]
    Crashed { plugin: String, reason: String },
    /// The guest returned something that breaks the contract.
    #[error("plugin {plugin} returned a malformed result: {reason}")]
    MalformedResult { plugin: String, reason: String },
    /// The guest reported an error of its own (bad settings, internal failure).
    #[error("plugin {plugin} reports: {reason}")]
    Reported { plugin: String, reason: String },
    /// All sandbox slots are in use; the call can be retried.
    #[error("plugin {plugin} could not start: all {slots} sandbox slots are busy")]
    Busy { plugin: String, slots: u32 },
}

impl PluginError {
    /// The plugin the error is about.
    pub fn plugin(&self) -> &str {
        match self {
            Self::Read { plugin, .. }
            | Self::Fetch { plugin, .. }
            | Self::HashMismatch { plugin, .. }
            | Self::Invalid { plugin, .. }
            | Self::WrongRole { plugin, .. }
            | Self::ForbiddenImport { plugin, .. }
            | Self::Timeout { plugin, .. }
            | Self::MemoryExceeded { plugin, .. }
            | Self::Crashed { plugin, .. }
            | Self::MalformedResult { plugin, .. }
            | Self::Reported { plugin, .. }
            | Self::Busy { plugin, .. } => plugin,
        }
    }

    /// Whether the same call might succeed later (a retry is worthwhile).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }
}
