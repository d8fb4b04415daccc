//! Calls into transformer plugins, and the checks a rendition must pass before it is written.

use super::bindings::transformer::TransformerPluginPre;
use super::bindings::transformer::exports::photosync::plugin::transformer as wit;
use super::runtime::Runtime;
use super::store::PluginState;
use super::typed::Typed;
use super::{PluginError, PluginSpec, Role, jpeg};

pub use wit::{Fit, Profile, Rejection, Rendition};

/// A loaded transformer plugin.
#[derive(Debug)]
pub struct Transformer {
    plugin: Typed<TransformerPluginPre<PluginState>>,
}

impl Transformer {
    /// Loads and checks the plugin described by `spec`.
    pub fn load(runtime: &Runtime, spec: &PluginSpec) -> Result<Self, PluginError> {
        let plugin = Typed::load(runtime, spec, Role::Transformer, TransformerPluginPre::new)?;
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

    /// Turns `photo` into a rendition for `profile`. The outer error is the plugin failing; the
    /// inner one is the plugin rejecting the photo.
    pub fn transform(
        &self,
        photo: &[u8],
        profile: &Profile,
    ) -> Result<Result<Rendition, Rejection>, PluginError> {
        let answer = self.plugin.loaded.call(|store| {
            let plugin = self.plugin.pre.instantiate(&mut *store)?;
            plugin.photosync_plugin_transformer().call_transform(
                &mut *store,
                &self.plugin.settings,
                photo,
                profile,
            )
        })?;
        match answer {
            Ok(rendition) => {
                self.check(&rendition, profile)?;
                Ok(Ok(rendition))
            }
            Err(rejection) => Ok(Err(rejection)),
        }
    }

    fn check(&self, r: &Rendition, profile: &Profile) -> Result<(), PluginError> {
        let malformed = |reason: String| self.plugin.malformed(reason);
        let info = jpeg::inspect(&r.jpeg)
            .map_err(|e| malformed(format!("the rendition is not a JPEG: {e}")))?;
        if !info.baseline {
            return Err(malformed("the rendition is not a baseline JPEG".into()));
        }
        if info.has_metadata() {
            return Err(malformed(format!(
                "the rendition carries metadata segments (APP{:?})",
                info.app_markers
            )));
        }
        if (info.width, info.height) != (r.width, r.height) {
            return Err(malformed(format!(
                "it says {}x{} but the JPEG is {}x{}",
                r.width, r.height, info.width, info.height
            )));
        }
        if r.width == 0
            || r.height == 0
            || r.width > profile.max_width
            || r.height > profile.max_height
        {
            return Err(malformed(format!(
                "the rendition is {}x{}, outside the profile's {}x{}",
                r.width, r.height, profile.max_width, profile.max_height
            )));
        }
        if r.jpeg.len() > profile.max_bytes as usize {
            return Err(malformed(format!(
                "the rendition is {} bytes, over the profile's limit of {}",
                r.jpeg.len(),
                profile.max_bytes
            )));
        }
        Ok(())
    }
}

/// A sentence describing a rejection, for results and logs.
pub fn describe(rejection: &Rejection) -> String {
    let clip = |s: &str| crate::text::clip(s, 500);
    match rejection {
        Rejection::UnsupportedFormat(r) => format!("unsupported image format: {}", clip(r)),
        Rejection::Corrupt(r) => format!("the image is damaged: {}", clip(r)),
        Rejection::TooLarge(r) => format!("the image is too large: {}", clip(r)),
        Rejection::CannotFit(r) => format!(
            "the image cannot be made to fit the size limit: {}",
            clip(r)
        ),
        Rejection::InvalidSetting(r) => format!("invalid transformer setting: {}", clip(r)),
    }
}
