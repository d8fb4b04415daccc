//! The configuration file: one TOML document, every key documented, unknown keys rejected with
//! their name, validated before anything connects.
//!
//! Parsing and [`Config::validate`] are pure; reading secrets happens in [`Secret::resolve`].
//!
//! One file a part: `nats`, `ldap`, `plugin` (`[plugins]` and `[[renditions]]`) and `service`
//! (`[worker]`, `[watcher]`, `[backup]`, `[retention]`); `validate` checks them together.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plugins::{self, Limits, PluginSpec, Profile, Role};

mod ldap;
mod nats;
mod plugin;
mod service;
mod validate;

pub use ldap::{KerberosConfig, LdapConfig};
pub use nats::NatsConfig;
pub use plugin::{PluginConfig, PluginsConfig, RenditionConfig};
pub use service::{BackupConfig, RetentionConfig, WatcherConfig, WorkerConfig};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The NATS server and the JetStream names photosync uses.
    pub nats: NatsConfig,
    /// The directory photos are written to.
    pub ldap: LdapConfig,
    /// The three plugins; each defaults to the builtin reference plugin.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// The attributes written for each photo, with their size limits. Defaults to
    /// `thumbnailPhoto` (96x96, aimed at 10 KB) only.
    #[serde(default = "default_renditions")]
    pub renditions: Vec<RenditionConfig>,
    /// How the worker runs.
    #[serde(default)]
    pub worker: WorkerConfig,
    /// The directory watcher, which turns directory changes into events.
    #[serde(default)]
    pub watcher: WatcherConfig,
    /// Backups of replaced photos, for `photosync rollback` and `photosync report`.
    #[serde(default)]
    pub backup: BackupConfig,
    /// How long photosync's streams and buckets keep what they hold.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The log's format.
    #[serde(default)]
    pub log: LogConfig,
    /// The file it was loaded from (what SIGHUP reads again); `None` for text parsed directly.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

/// How photosync writes its log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogConfig {
    /// `text` (the default) or `json`: one JSON object a line, for container log collectors.
    /// The environment variable `PHOTOSYNC_LOG_FORMAT` overrides it.
    #[serde(default)]
    pub format: Option<String>,
}

/// The `[log] format` of the configuration file at `path`, read before logging starts (the
/// file is checked in full later; here anything unreadable is simply no answer).
pub fn log_format_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    value.get("log")?.get("format")?.as_str().map(str::to_owned)
}

/// A secret read from a file or an environment variable. Its `Debug` prints `***`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Secret {
    /// A file whose content (trailing newline removed) is the secret.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Secret {
    /// Checks the form without reading anything: exactly one of `file` and `env`.
    pub fn check(&self) -> Result<(), String> {
        match (&self.file, &self.env) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err("give exactly one of file or env".into()),
        }
    }

    /// Reads the secret. The error names where it was looked for, never the value.
    pub fn resolve(&self) -> Result<String, ConfigError> {
        match (&self.file, &self.env) {
            (Some(path), None) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| {
                    ConfigError::Secret(format!(
                        "cannot read the secret file {}: {e}",
                        path.display()
                    ))
                }),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                ConfigError::Secret(format!("the environment variable {var} is not set"))
            }),
            _ => Err(ConfigError::Secret(
                "a secret needs exactly one of file or env".into(),
            )),
        }
    }
}

fn default_renditions() -> Vec<RenditionConfig> {
    vec![RenditionConfig {
        attribute: "thumbnailPhoto".into(),
        max_width: None,
        max_height: None,
        max_bytes: None,
        target_bytes: None,
        fit: None,
        min_quality: None,
        max_quality: None,
    }]
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the configuration is not valid TOML or has an unknown or mistyped key: {0}")]
    Parse(String),
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("{0}")]
    Secret(String),
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text)?;
        config.origin = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// The spec of the plugin playing `role`.
    pub fn plugin_spec(&self, role: Role) -> Result<PluginSpec, ConfigError> {
        let configured = match role {
            Role::Matcher => &self.plugins.matcher,
            Role::Transformer => &self.plugins.transformer,
            Role::Deduper => &self.plugins.deduper,
        };
        let key = format!("plugins.{}", role.name());
        let defaults = crate::offline::default_limits(role);
        let source = match configured.as_ref().and_then(|c| c.source.as_deref()) {
            Some(text) => {
                plugins::parse_source(text).map_err(|e| invalid(&format!("{key}.source"), e))?
            }
            None => plugins::Source::Builtin(plugins::builtin::default_for(role)),
        };
        let limits = Limits {
            memory_mib: configured
                .as_ref()
                .and_then(|c| c.memory_mib)
                .unwrap_or(defaults.memory_mib),
            deadline_ms: configured
                .as_ref()
                .and_then(|c| c.deadline_ms)
                .unwrap_or(defaults.deadline_ms),
        };
        let max_mib = crate::plugins::RuntimeOptions::default().max_memory_mib;
        if limits.memory_mib == 0 || limits.memory_mib > max_mib || limits.deadline_ms == 0 {
            return Err(invalid(
                &key,
                format!("memory-mib must be 1 to {max_mib} and deadline-ms at least 1"),
            ));
        }
        let mut spec = PluginSpec::new(&source.to_string(), source, limits);
        spec.settings = configured
            .as_ref()
            .map(|c| c.settings.clone())
            .unwrap_or_default();
        spec.sha256 = configured.as_ref().and_then(|c| c.sha256.clone());
        if let Some(pin) = &spec.sha256 {
            if matches!(spec.source, plugins::Source::Builtin(_)) {
                return Err(invalid(
                    &format!("{key}.sha256"),
                    "a builtin plugin is part of the binary; sha256 pins files and objects",
                ));
            }
            if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(
                    &format!("{key}.sha256"),
                    "a SHA-256 is 64 hexadecimal digits (photosync plugin push prints it)",
                ));
            }
        }
        let builtin_matcher =
            matches!(&spec.source, plugins::Source::Builtin(b) if b.role == Role::Matcher);
        if builtin_matcher && !spec.settings.contains_key("patterns") {
            spec.settings
                .insert("patterns".into(), "{employeeID}".into());
        }
        Ok(spec)
    }

    /// The renditions' profiles.
    pub fn profiles(&self) -> Vec<Profile> {
        self.renditions
            .iter()
            .filter_map(|r| r.profile().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests;
