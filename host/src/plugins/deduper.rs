//! Calls into deduper plugins, and the checks their decisions must pass.

use super::bindings::deduper::DeduperPluginPre;
use super::bindings::deduper::exports::photosync::plugin::deduper as wit;
use super::runtime::{Loaded, Runtime};
use super::{PluginError, PluginSpec, Role, Setting};

pub use wit::{Decision, DedupInput, SkipReason, SyncState};

/// Longest digest accepted, in hex characters.
const MAX_DIGEST: usize = 128;

/// A loaded deduper plugin.
pub struct Deduper {
    loaded: Loaded,
    pre: DeduperPluginPre<super::state::PluginState>,
    settings: Vec<Setting>,
}

impl std::fmt::Debug for Deduper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deduper")
            .field("plugin", &self.loaded.name)
            .finish_non_exhaustive()
    }
}

impl Deduper {
    /// Loads and checks the plugin described by `spec`.
    pub fn load(runtime: &Runtime, spec: &PluginSpec) -> Result<Self, PluginError> {
        let (loaded, pre) = spec.load(runtime, Role::Deduper, DeduperPluginPre::new)?;
        Ok(Self {
            loaded,
            pre,
            settings: spec.settings_list(),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.loaded.name
    }

    /// The plugin's digest of `data` (lower-case hex).
    pub fn digest(&self, data: &[u8]) -> Result<String, PluginError> {
        let digest = self.loaded.call(|store| {
            let plugin = self.pre.instantiate(&mut *store)?;
            plugin
                .photosync_plugin_deduper()
                .call_digest(&mut *store, data)
        })?;
        self.check_digest(&digest)?;
        Ok(digest)
    }

    /// Whether to write, given what is known.
    pub fn decide(&self, input: &DedupInput) -> Result<Decision, PluginError> {
        let answer = self.loaded.call(|store| {
            let plugin = self.pre.instantiate(&mut *store)?;
            plugin
                .photosync_plugin_deduper()
                .call_decide(&mut *store, &self.settings, input)
        })?;
        let decision = answer.map_err(|e| super::matcher::reported(&self.loaded.name, e))?;
        match &decision {
            Decision::NeedOutput if input.output_digest.is_some() => {
                Err(self.malformed("it asked for the output digest although it was given".into()))
            }
            Decision::Write(state) => self.check_state(state),
            Decision::Skip(skip) => skip.state.as_ref().map_or(Ok(()), |s| self.check_state(s)),
            Decision::NeedOutput => Ok(()),
        }?;
        Ok(decision)
    }

    fn check_state(&self, state: &SyncState) -> Result<(), PluginError> {
        self.check_digest(&state.source_digest)?;
        self.check_digest(&state.written_digest)
    }

    fn check_digest(&self, digest: &str) -> Result<(), PluginError> {
        let hex = digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if digest.is_empty() || digest.len() > MAX_DIGEST || !hex {
            return Err(self.malformed(format!(
                "{:?} is not a lower-case hex digest of at most {MAX_DIGEST} characters",
                super::state::clip(digest, 40)
            )));
        }
        Ok(())
    }

    fn malformed(&self, reason: String) -> PluginError {
        PluginError::MalformedResult {
            plugin: self.loaded.name.to_string(),
            reason,
        }
    }
}
