//! How the service runs: `[worker]`, `[watcher]`, `[backup]` and `[retention]`.

use serde::Deserialize;

use super::{ConfigError, invalid};

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

fn default_concurrency() -> usize {
    4
}

fn default_max_deliver() -> i64 {
    5
}

fn default_retry_secs() -> u64 {
    5
}
