//! What the three plugin wrappers share: a loaded plugin with its world's typed pre-instance
//! and its settings, loading, and the errors made in its name.

use wasmtime::component::InstancePre;

use super::bindings::types::PluginError as WitError;
use super::runtime::{Loaded, Runtime};
use super::store::PluginState;
use super::{PluginError, PluginSpec, Role, Setting};

/// A plugin loaded for one role, `P` being its world's generated `…Pre`.
pub(super) struct Typed<P> {
    pub loaded: Loaded,
    pub pre: P,
    pub settings: Vec<Setting>,
}

impl<P> std::fmt::Debug for Typed<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.loaded.name)
            .finish_non_exhaustive()
    }
}

impl<P> Typed<P> {
    /// Loads and checks the plugin `spec` describes for `role`; `typed` is the world's
    /// generated `…Pre::new`.
    pub fn load(
        runtime: &Runtime,
        spec: &PluginSpec,
        role: Role,
        typed: impl FnOnce(InstancePre<PluginState>) -> wasmtime::Result<P>,
    ) -> Result<Self, PluginError> {
        let (loaded, pre) = spec.load(runtime, role, typed)?;
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

    /// The SHA-256 of its code, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.loaded.sha256
    }

    /// The plugin answered something the contract does not allow.
    pub fn malformed(&self, reason: String) -> PluginError {
        PluginError::MalformedResult {
            plugin: self.loaded.name.to_string(),
            reason,
        }
    }

    /// The plugin's own error, as a [`PluginError::Reported`].
    pub fn reported(&self, e: WitError) -> PluginError {
        let reason = match e {
            WitError::InvalidSetting(r) => {
                format!("invalid setting: {}", crate::text::clip(&r, 500))
            }
            WitError::Internal(r) => crate::text::clip(&r, 500),
        };
        PluginError::Reported {
            plugin: self.loaded.name.to_string(),
            reason,
        }
    }
}
