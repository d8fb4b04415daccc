//! The configuration file: one TOML document, every key documented, unknown keys rejected with
//! their name, validated before anything connects.
//!
//! Parsing and [`Config::validate`] are pure; reading secrets happens in [`Secret::resolve`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plugins::{self, Fit, Limits, PluginSpec, Profile, Role};

mod validate;

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

/// How long messages and photos are kept, each a duration: a number and `s`, `m`, `h` or `d`
/// (`14d`), or `forever`. Photos are personal data: the defaults keep them weeks, not for ever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetentionConfig {
    /// Events in `PHOTOSYNC_EVENTS`, processed or not (inline photos among them).
    #[serde(default = "default_events_retention")]
    pub events: String,
    /// Results (`PHOTOSYNC_RESULTS`) and photo-changed events (`PHOTOSYNC_CHANGES`).
    #[serde(default = "default_results_retention")]
    pub results: String,
    /// Dead letters (`PHOTOSYNC_DEAD`), kept for `photosync replay`.
    #[serde(default = "default_dead_letters_retention")]
    pub dead_letters: String,
    /// Photos in the photo bucket (`photosync-photos`): waiting for a person the directory does
    /// not have yet, or kept by name for a later directory change.
    #[serde(default = "default_photos_retention")]
    pub photos: String,
    /// When an entry is deleted from the directory, erase its photos in the photo bucket, their
    /// name index and its backups, not only its sync state (true by default; `photosync forget`
    /// erases the rest, its events and results).
    #[serde(default = "default_true")]
    pub erase_deleted: bool,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            events: default_events_retention(),
            results: default_results_retention(),
            dead_letters: default_dead_letters_retention(),
            photos: default_photos_retention(),
            erase_deleted: true,
        }
    }
}

fn default_events_retention() -> String {
    "14d".into()
}
fn default_results_retention() -> String {
    "7d".into()
}
fn default_dead_letters_retention() -> String {
    "30d".into()
}
fn default_photos_retention() -> String {
    "90d".into()
}

impl RetentionConfig {
    /// The durations, or the key whose value is not one and why.
    pub fn durations(&self) -> Result<crate::bus::Retention, ConfigError> {
        let parse = |key: &str, text: &str| {
            parse_retention(text).map_err(|reason| invalid(&format!("retention.{key}"), reason))
        };
        Ok(crate::bus::Retention {
            events: parse("events", &self.events)?,
            results: parse("results", &self.results)?,
            dead_letters: parse("dead-letters", &self.dead_letters)?,
            photos: parse("photos", &self.photos)?,
        })
    }
}

/// `30s`, `15m`, `12h`, `14d`, or `forever` (zero: NATS's no limit).
fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    if text == "forever" {
        return Ok(std::time::Duration::ZERO);
    }
    let unit = text.chars().last().unwrap_or(' ');
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 14d, 12h, 30m or 30s, or forever"
            ));
        }
    };
    let number: u64 = text[..text.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("{text:?} is not a duration like 14d, 12h, 30m or 30s, or forever")
        })?;
    Ok(std::time::Duration::from_secs(
        number.saturating_mul(seconds),
    ))
}

/// Backups of the photos photosync replaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BackupConfig {
    /// Keep the values each write replaces (and the value written); on by default.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Days a backup is kept before NATS drops it.
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retention_days: default_retention_days(),
        }
    }
}

impl BackupConfig {
    /// How long backups are kept.
    pub fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.retention_days * 86_400)
    }
}

fn default_true() -> bool {
    true
}

fn default_retention_days() -> u64 {
    30
}

/// The directory watcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WatcherConfig {
    /// Run the watcher inside `photosync run` (`photosync watch` runs it on its own).
    #[serde(default)]
    pub enabled: bool,
    /// How changes are found: `syncrepl` (RFC 4533 content synchronisation; OpenLDAP with the
    /// syncprov overlay) or `usn` (Active Directory: polling uSNChanged, per domain controller).
    #[serde(default = "default_watch_mode")]
    pub mode: String,
    /// Seconds between attempts when the directory cannot be reached.
    #[serde(default = "default_watch_retry_secs")]
    pub retry_secs: u64,
    /// Seconds between two polls of a domain controller (`usn` mode).
    #[serde(default = "default_watch_poll_secs")]
    pub poll_secs: u64,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: default_watch_mode(),
            retry_secs: default_watch_retry_secs(),
            poll_secs: default_watch_poll_secs(),
        }
    }
}

fn default_watch_poll_secs() -> u64 {
    15
}

fn default_watch_mode() -> String {
    "syncrepl".into()
}
fn default_watch_retry_secs() -> u64 {
    5
}

/// Example: `url = "nats://127.0.0.1:4222"`, or for a cluster
/// `urls = ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]` and
/// `replicas = 3`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://nats.example.net:4222`.
    #[serde(default)]
    pub url: Option<String>,
    /// Several servers of one cluster, instead of `url`: photosync connects to any of them and,
    /// when that connection is lost, to another.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Replicas of every stream, KV bucket and object store photosync creates: 1, 3 or 5 (at
    /// most the cluster's size). A stream that exists with fewer is reported at start, not
    /// changed.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Optional user for NATS authentication.
    #[serde(default)]
    pub user: Option<String>,
    /// Password for `user`, from a file or an environment variable.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A token the server expects, from a file or an environment variable.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A file holding an NKey user seed (`SU…`).
    #[serde(default)]
    pub nkey: Option<PathBuf>,
    /// A `.creds` file (a user JWT and its NKey seed), as NATS accounts and managed NATS issue.
    #[serde(default)]
    pub creds: Option<PathBuf>,
    /// PEM certificates of the CA(s) to trust for the server's certificate (a private CA);
    /// TLS is then required.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), with `key-file`, for a server that verifies clients (mTLS);
    /// TLS is then required.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// What every subject, stream, consumer and bucket name starts with (`photosync` by
    /// default: `photosync.photo.uploaded`, `PHOTOSYNC_EVENTS`, `photosync-state`, …). Two
    /// deployments with different prefixes share one NATS account without seeing each other's
    /// events, e.g. `prefix = "forest-b"`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// What photosync's reply subjects start with instead of `_INBOX`, e.g. `_INBOX_worker`:
    /// a NATS user allowed to subscribe to `_INBOX_worker.>` only cannot read the replies
    /// other users get (see docs/security.md).
    #[serde(default)]
    pub inbox_prefix: Option<String>,
}

fn default_replicas() -> usize {
    1
}

impl NatsConfig {
    /// The names of this deployment's subjects, streams and buckets.
    pub fn names(&self) -> crate::names::Names {
        crate::names::Names::new(
            self.prefix
                .as_deref()
                .unwrap_or(crate::names::DEFAULT_PREFIX),
        )
    }

    /// The servers to connect to: `urls`, or `url`.
    pub fn servers(&self) -> Vec<String> {
        match &self.url {
            Some(url) if self.urls.is_empty() => vec![url.clone()],
            _ => self.urls.clone(),
        }
    }
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

/// How photosync reaches the directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LdapConfig {
    /// `ldap://host:389`, `ldaps://host:636` or `ldapi://%2Frun%2Fslapd%2Fldapi`.
    pub url: String,
    /// Upgrade `ldap://` with StartTLS (recommended; default true for non-loopback hosts is not
    /// guessed: say it).
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) that signed the server's certificate; the system's roots otherwise.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate is issued to, when `url` names the server otherwise
    /// (an IP address, a tunnel, a load balancer), e.g. `DC1.example.test`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// The DN (or, on Active Directory, user principal name) photosync binds as with its
    /// password; not given with `[ldap.kerberos]`.
    #[serde(default)]
    pub bind_dn: Option<String>,
    /// The bind password, from a file or an environment variable; never logged. Not given with
    /// `[ldap.kerberos]`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Binds with Kerberos (SASL GSSAPI) from a keytab instead of a password, for domains
    /// that forbid simple binds.
    #[serde(default)]
    pub kerberos: Option<KerberosConfig>,
    /// Where people are searched, e.g. `ou=People,dc=example,dc=test`.
    pub base_dn: String,
    /// A filter ANDed to every search, e.g. `(objectClass=person)`.
    #[serde(default = "default_scope_filter")]
    pub filter: String,
    /// The attribute holding each entry's stable id: `entryUUID` (OpenLDAP) or `objectGUID` (AD).
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    /// Entries per page of a paged search (AD returns at most 1000 without paging).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// Most uploads' searches sent to the directory as one, when they arrive while earlier
    /// searches are still running (one operation instead of one each); 1 searches each alone.
    #[serde(default = "default_search_batch")]
    pub search_batch: usize,
    /// Seconds an LDAP operation may take.
    #[serde(default = "default_ldap_timeout")]
    pub timeout_secs: u64,
}

/// A Kerberos bind: photosync takes a ticket for its own principal from a keytab into a cache
/// private to its process (never the login's default cache) and binds with SASL GSSAPI. The
/// realm and its KDCs come from krb5.conf (`/etc/krb5.conf`, or the file `KRB5_CONFIG` names).
/// Over `ldap://` without StartTLS the connection is sealed by Kerberos; over TLS it is bound
/// to the TLS channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KerberosConfig {
    /// The keytab holding the service account's keys, e.g. `/etc/photosync/photosync.keytab`
    /// (on AD: `samba-tool domain exportkeytab` or `ktpass`). Readable by photosync only.
    pub keytab: PathBuf,
    /// The principal to bind as, e.g. `svc-photo@EXAMPLE.COM`; the keytab's first otherwise.
    #[serde(default)]
    pub principal: Option<String>,
    /// The directory server's DNS name in its service principal (`ldap/NAME`), when `url`
    /// names it otherwise (an IP address, a tunnel); by default `tls-server-name`, else the
    /// host in `url`.
    #[serde(default)]
    pub service_host: Option<String>,
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

/// How one worker runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkerConfig {
    /// Events processed at once by this worker.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Deliveries of one event before it ends as `failed` for good.
    #[serde(default = "default_max_deliver")]
    pub max_deliver: i64,
    /// Seconds before a failed event is redelivered the first time; doubled for each further
    /// delivery, up to `retry_max_secs`.
    #[serde(default = "default_retry_secs")]
    pub retry_secs: u64,
    /// The longest wait before a redelivery.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// Seconds JetStream waits for a worker's acknowledgement before it delivers the event to
    /// another worker (a worker that died). Set when the consumers are created.
    #[serde(default = "default_ack_wait_secs")]
    pub ack_wait_secs: u64,
    /// Where to serve /healthz, /readyz and /metrics, e.g. `127.0.0.1:9464`; none by default.
    #[serde(default)]
    pub http: Option<String>,
}

fn default_retry_max_secs() -> u64 {
    300
}
fn default_ack_wait_secs() -> u64 {
    60
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            max_deliver: default_max_deliver(),
            retry_secs: default_retry_secs(),
            retry_max_secs: default_retry_max_secs(),
            ack_wait_secs: default_ack_wait_secs(),
            http: None,
        }
    }
}

fn default_scope_filter() -> String {
    "(objectClass=*)".into()
}
fn default_id_attribute() -> String {
    "entryUUID".into()
}
fn default_page_size() -> i32 {
    500
}
fn default_search_batch() -> usize {
    64
}
fn default_ldap_timeout() -> u64 {
    10
}
fn default_reload_check_secs() -> u64 {
    5
}
fn default_concurrency() -> usize {
    4
}
fn default_max_deliver() -> i64 {
    5
}
fn default_retry_secs() -> u64 {
    5
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

#[cfg(test)]
mod tests;
