//! Calls into deduper plugins, and the checks their decisions must pass.

use super::bindings::deduper::DeduperPluginPre;
use super::bindings::deduper::exports::photosync::plugin::deduper as wit;
use super::runtime::Runtime;
use super::store::PluginState;
use super::typed::Typed;
use super::{PluginError, PluginSpec, Role};

pub use wit::{Decision, DedupInput, SkipReason, SyncState};

/// Longest digest accepted, in hex characters.
const MAX_DIGEST: usize = 128;

/// A loaded deduper plugin.
#[derive(Debug)]
pub struct Deduper {
    plugin: Typed<DeduperPluginPre<PluginState>>,
}

impl Deduper {
    /// Loads and checks the plugin described by `spec`.
    pub fn load(runtime: &Runtime, spec: &PluginSpec) -> Result<Self, PluginError> {
        let plugin = Typed::load(runtime, spec, Role::Deduper, DeduperPluginPre::new)?;
        Ok(Self { plugin })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.plugin.name()
    }

    /// The SHA-256 of its code, lower-case hex.
    pub fn sha256(&self) -> &str {
        self.plugin.sha256()
    }

    /// The plugin's digest of `data` (lower-case hex).
    pub fn digest(&self, data: &[u8]) -> Result<String, PluginError> {
        let digest = self.plugin.loaded.call(|store| {
            let plugin = self.plugin.pre.instantiate(&mut *store)?;
            plugin
                .photosync_plugin_deduper()
                .call_digest(&mut *store, data)
        })?;
        self.check_digest(&digest)?;
        Ok(digest)
    }

    /// Whether to write, given what is known.
    pub fn decide(&self, input: &DedupInput) -> Result<Decision, PluginError> {
        let answer = self.plugin.loaded.call(|store| {
            let plugin = self.plugin.pre.instantiate(&mut *store)?;
            plugin
                .photosync_plugin_deduper()
                .call_decide(&mut *store, &self.plugin.settings, input)
        })?;
        let decision = answer.map_err(|e| self.plugin.reported(e))?;
        match &decision {
            Decision::NeedOutput if input.output_digest.is_some() => Err(self
                .plugin
                .malformed("it asked for the output digest although it was given".into())),
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
            return Err(self.plugin.malformed(format!(
                "{:?} is not a lower-case hex digest of at most {MAX_DIGEST} characters",
                crate::text::clip(digest, 40)
            )));
        }
        Ok(())
    }
}
