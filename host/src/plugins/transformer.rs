//! Calls into transformer plugins, and the checks a rendition must pass before it is written.
//! A transformer that exports `multi-transformer` (WIT 0.1.1) makes all of a photo's
//! renditions in one call; one that does not (a 0.1.0 transformer) is called once per
//! rendition.

use wasmtime::component::InstancePre;

use super::bindings::transformer::exports::photosync::plugin::multi_transformer;
use super::bindings::transformer::exports::photosync::plugin::transformer as wit;
use super::runtime::Runtime;
use super::store::PluginState;
use super::typed::Typed;
use super::{PluginError, PluginSpec, Role, jpeg};

pub use wit::{Fit, Profile, Rejection, Rendition};

/// A transformer's pre-instance and where its functions are: `transform` always,
/// `transform-all` when it exports it.
struct Exports {
    instance: InstancePre<PluginState>,
    one: wit::GuestIndices,
    all: Option<multi_transformer::GuestIndices>,
}

impl Exports {
    fn new(instance: InstancePre<PluginState>) -> wasmtime::Result<Self> {
        Ok(Self {
            one: wit::GuestIndices::new(&instance)?,
            all: multi_transformer::GuestIndices::new(&instance).ok(),
            instance,
        })
    }
}

/// A loaded transformer plugin.
#[derive(Debug)]
pub struct Transformer {
    plugin: Typed<Exports>,
}

impl Transformer {
    /// Loads and checks the plugin described by `spec`.
    pub fn load(runtime: &Runtime, spec: &PluginSpec) -> Result<Self, PluginError> {
        let plugin = Typed::load(runtime, spec, Role::Transformer, Exports::new)?;
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

    /// Whether it makes all renditions in one call (`transform-all`, WIT 0.1.1).
    pub fn makes_all_at_once(&self) -> bool {
        self.plugin.pre.all.is_some()
    }

    /// Turns `photo` into a rendition for `profile`. The outer error is the plugin failing; the
    /// inner one is the plugin rejecting the photo.
    pub fn transform(
        &self,
        photo: &[u8],
        profile: &Profile,
    ) -> Result<Result<Rendition, Rejection>, PluginError> {
        let exports = &self.plugin.pre;
        let answer = self.plugin.loaded.call(|store| {
            let instance = exports.instance.instantiate(&mut *store)?;
            exports.one.load(&mut *store, &instance)?.call_transform(
                &mut *store,
                &self.plugin.settings,
                photo,
                profile,
            )
        })?;
        self.checked(answer, profile)
    }

    /// Turns `photo` into one rendition (or rejection) per profile, in their order: in one call
    /// to `transform-all` when the plugin has it, else one `transform` call per profile. The
    /// error is the plugin failing, or answering for another number of profiles.
    pub fn transform_all(
        &self,
        photo: &[u8],
        profiles: &[Profile],
    ) -> Result<Vec<Result<Rendition, Rejection>>, PluginError> {
        let exports = &self.plugin.pre;
        let Some(all) = &exports.all else {
            return profiles.iter().map(|p| self.transform(photo, p)).collect();
        };
        let answers = self.plugin.loaded.call(|store| {
            let instance = exports.instance.instantiate(&mut *store)?;
            all.load(&mut *store, &instance)?.call_transform_all(
                &mut *store,
                &self.plugin.settings,
                photo,
                profiles,
            )
        })?;
        if answers.len() != profiles.len() {
            return Err(self.plugin.malformed(format!(
                "transform-all answered {} renditions for {} profiles",
                answers.len(),
                profiles.len()
            )));
        }
        answers
            .into_iter()
            .zip(profiles)
            .map(|(answer, profile)| self.checked(answer, profile))
            .collect()
    }

    /// A rendition passed on once it passes [`Self::check`]; a rejection as it is.
    fn checked(
        &self,
        answer: Result<Rendition, Rejection>,
        profile: &Profile,
    ) -> Result<Result<Rendition, Rejection>, PluginError> {
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
