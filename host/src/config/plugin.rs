//! `[plugins]` and `[[renditions]]`: the three plugins (each one's source, limits and settings), and
//! the attributes written for each photo.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::plugins::{self, Fit, Profile};

/// The three plugins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginsConfig {
    /// Where compiled plugin code is cached; `~/.cache/photosync/plugins` by default.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// How often a running worker checks its plugins' files and objects for new code, in
    /// seconds; 0: only on SIGHUP.
    #[serde(default = "default_reload_check_secs")]
    pub reload_check_secs: u64,
    /// The matcher; default `builtin:match-pattern` with `patterns = "{employeeID}"`.
    #[serde(default)]
    pub matcher: Option<PluginConfig>,
    /// The transformer; default `builtin:transform-jpeg`.
    #[serde(default)]
    pub transformer: Option<PluginConfig>,
    /// The deduper; default `builtin:dedup-md5` with `policy = "source-changed"`.
    #[serde(default)]
    pub deduper: Option<PluginConfig>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            reload_check_secs: default_reload_check_secs(),
            matcher: None,
            transformer: None,
            deduper: None,
        }
    }
}

/// One plugin: where its code is, its limits and its settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginConfig {
    /// `builtin:NAME`, `nats:BUCKET/NAME` (an Object Store object) or the path of a component
    /// file.
    #[serde(default)]
    pub source: Option<String>,
    /// The SHA-256 (hex) the code must have; a plugin whose code differs is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Memory cap per call, MiB.
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// CPU deadline per call, milliseconds.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// The plugin's own settings, passed to it as key/value strings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// One attribute written for each photo. `profile` picks a builtin profile; the other keys
/// override its values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RenditionConfig {
    /// The attribute, e.g. `thumbnailPhoto` or `jpegPhoto`; also names the builtin profile.
    pub attribute: String,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    /// Hard limit in bytes (102400 for AD's thumbnailPhoto).
    pub max_bytes: Option<u32>,
    /// Size aimed at in bytes (10240 for Exchange Online).
    pub target_bytes: Option<u32>,
    /// `crop`, `pad` or `contain`.
    pub fit: Option<String>,
    pub min_quality: Option<u8>,
    pub max_quality: Option<u8>,
}

impl RenditionConfig {
    /// The profile: the builtin one for the attribute (or thumbnail-like defaults) with overrides.
    pub fn profile(&self) -> Result<Profile, String> {
        if !plugins::is_attribute_name(&self.attribute) {
            return Err(format!("{:?} is not an attribute name", self.attribute));
        }
        let mut p =
            crate::profiles::find(&self.attribute).unwrap_or_else(crate::profiles::thumbnail_photo);
        p.attribute = self.attribute.clone();
        p.max_width = self.max_width.unwrap_or(p.max_width);
        p.max_height = self.max_height.unwrap_or(p.max_height);
        p.max_bytes = self.max_bytes.unwrap_or(p.max_bytes);
        p.target_bytes = self.target_bytes.unwrap_or(p.target_bytes);
        p.min_quality = self.min_quality.unwrap_or(p.min_quality);
        p.max_quality = self.max_quality.unwrap_or(p.max_quality);
        if let Some(fit) = &self.fit {
            p.fit = match fit.as_str() {
                "crop" => Fit::Crop,
                "pad" => Fit::Pad,
                "contain" => Fit::Contain,
                other => return Err(format!("fit {other:?} is not crop, pad or contain")),
            };
        }
        if p.max_width == 0 || p.max_height == 0 || p.max_width > 4096 || p.max_height > 4096 {
            return Err("max-width and max-height must be 1 to 4096".into());
        }
        if p.min_quality == 0 || p.min_quality > p.max_quality || p.max_quality > 100 {
            return Err("qualities must satisfy 1 <= min-quality <= max-quality <= 100".into());
        }
        if p.max_bytes < 1024 {
            return Err("max-bytes must be at least 1024".into());
        }
        if p.attribute.eq_ignore_ascii_case("thumbnailPhoto") && p.max_bytes > 102_400 {
            return Err(
                "max-bytes of thumbnailPhoto must be at most 102400 (Active Directory's limit)"
                    .into(),
            );
        }
        Ok(p)
    }
}

fn default_reload_check_secs() -> u64 {
    5
}
