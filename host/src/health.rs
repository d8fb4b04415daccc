//! What a worker knows about itself, served over HTTP for orchestrators and Prometheus:
//! `/healthz` (the process is alive), `/readyz` (NATS connected and the directory reachable) and
//! `/metrics` (events by outcome, durations by stage, redeliveries, dead letters, backlog).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::events::PhotoResult;

/// Upper bounds of the event-duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The worker's health and counters; shared by all tasks.
#[derive(Debug, Default)]
pub struct Health {
    /// Why the directory is unreachable, while it is.
    directory_down: Mutex<Option<String>>,
    /// Final results by kind of event and outcome.
    outcomes: Mutex<BTreeMap<(String, String), u64>>,
    /// Seconds spent per stage (sum, count).
    stages: Mutex<BTreeMap<String, (f64, u64)>>,
    /// Event durations: counts per bucket, then +Inf.
    histogram: Mutex<[u64; BUCKETS.len() + 1]>,
    duration_sum: Mutex<f64>,
    redeliveries: AtomicU64,
    dead_letters: AtomicU64,
    waiting: AtomicI64,
    in_flight: AtomicI64,
    backlog: AtomicI64,
    /// Whether NATS is connected (set by the service from the client's state).
    nats_connected: std::sync::atomic::AtomicBool,
    /// The plugin in force per role: its source and the SHA-256 of its code.
    plugins: Mutex<BTreeMap<String, (String, String)>>,
    /// New plugins refused while running, by role.
    plugins_refused: Mutex<BTreeMap<String, u64>>,
}

impl Health {
    /// Notes the plugin now in force for `role`: where it came from and its code's SHA-256.
    pub fn plugin_in_force(&self, role: &str, source: &str, sha256: &str) {
        lock(&self.plugins).insert(role.to_owned(), (source.to_owned(), sha256.to_owned()));
        lock(&self.plugins_refused)
            .entry(role.to_owned())
            .or_default();
    }

    /// Counts a new plugin for `role` that was refused (the old one kept running).
    pub fn plugin_refused(&self, role: &str) {
        *lock(&self.plugins_refused)
            .entry(role.to_owned())
            .or_default() += 1;
    }

    /// Notes that the directory cannot be reached, and why.
    pub fn directory_down(&self, reason: &str) {
        let mut down = lock(&self.directory_down);
        if down.is_none() {
            tracing::warn!(
                "The directory is unreachable ({reason}); events wait until it is back."
            );
        }
        *down = Some(reason.to_owned());
    }

    /// Notes that the directory answers again.
    pub fn directory_up(&self) {
        let mut down = lock(&self.directory_down);
        if down.take().is_some() {
            tracing::info!("The directory is reachable again; waiting events go on.");
        }
    }

    /// Whether the directory is known to be unreachable.
    pub fn is_directory_down(&self) -> bool {
        lock(&self.directory_down).is_some()
    }

    pub fn set_nats_connected(&self, connected: bool) {
        self.nats_connected.store(connected, Ordering::Relaxed);
    }

    pub fn set_backlog(&self, pending: i64) {
        self.backlog.store(pending, Ordering::Relaxed);
    }

    /// An event started (`+1`) or ended (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// An event started (`+1`) or stopped (`-1`) waiting for the directory.
    pub fn waiting(&self, delta: i64) {
        self.waiting.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn redelivery(&self) {
        self.redeliveries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dead_letter(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a published result of an event of `kind` (`upload`, `directory-change`).
    pub fn record(&self, kind: &str, result: &PhotoResult) {
        if result.is_final {
            *lock(&self.outcomes)
                .entry((kind.to_owned(), result.outcome.as_str().to_owned()))
                .or_default() += 1;
        }
        let mut stages = lock(&self.stages);
        for (stage, ms) in &result.timings_ms {
            if stage != "total" {
                let slot = stages.entry(stage.clone()).or_default();
                slot.0 += ms / 1e3;
                slot.1 += 1;
            }
        }
        if let Some(total) = result.timings_ms.get("total") {
            let seconds = total / 1e3;
            let mut histogram = lock(&self.histogram);
            let bucket = BUCKETS
                .iter()
                .position(|b| seconds <= *b)
                .unwrap_or(BUCKETS.len());
            histogram[bucket] += 1;
            *lock(&self.duration_sum) += seconds;
        }
    }

    /// `None` when ready, else why not.
    pub fn not_ready(&self) -> Option<String> {
        if !self.nats_connected.load(Ordering::Relaxed) {
            return Some("NATS is not connected".into());
        }
        lock(&self.directory_down)
            .as_ref()
            .map(|reason| format!("the directory is unreachable: {reason}"))
    }

    /// The Prometheus text exposition.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP photosync_events_total Events finished, by kind and outcome.\n# TYPE photosync_events_total counter\n");
        for ((kind, outcome), n) in lock(&self.outcomes).iter() {
            let _ = writeln!(
                out,
                "photosync_events_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP photosync_stage_seconds Time spent per stage (match, search, dedup, transform, write, source).\n# TYPE photosync_stage_seconds summary\n");
        for (stage, (sum, count)) in lock(&self.stages).iter() {
            let _ = writeln!(
                out,
                "photosync_stage_seconds_sum{{stage=\"{stage}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "photosync_stage_seconds_count{{stage=\"{stage}\"}} {count}"
            );
        }
        out.push_str("# HELP photosync_event_duration_seconds Time per event delivery.\n# TYPE photosync_event_duration_seconds histogram\n");
        let histogram = *lock(&self.histogram);
        let mut cumulative = 0;
        for (i, n) in histogram.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "photosync_event_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "photosync_event_duration_seconds_sum {}\nphotosync_event_duration_seconds_count {cumulative}",
            *lock(&self.duration_sum)
        );
        let gauges = [
            (
                "photosync_redeliveries_total",
                "counter",
                "Events handed back for a later delivery.",
                self.redeliveries.load(Ordering::Relaxed) as i64,
            ),
            (
                "photosync_dead_letters_total",
                "counter",
                "Events that failed on every delivery.",
                self.dead_letters.load(Ordering::Relaxed) as i64,
            ),
            (
                "photosync_events_in_flight",
                "gauge",
                "Events being processed by this worker.",
                self.in_flight.load(Ordering::Relaxed),
            ),
            (
                "photosync_events_waiting_for_directory",
                "gauge",
                "Events held until the directory is reachable.",
                self.waiting.load(Ordering::Relaxed),
            ),
            (
                "photosync_backlog",
                "gauge",
                "Events in the stream not yet delivered to any worker.",
                self.backlog.load(Ordering::Relaxed),
            ),
            (
                "photosync_directory_up",
                "gauge",
                "1 when the directory is reachable.",
                i64::from(!self.is_directory_down()),
            ),
            (
                "photosync_nats_connected",
                "gauge",
                "1 when NATS is connected.",
                i64::from(self.nats_connected.load(Ordering::Relaxed)),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out.push_str("# HELP photosync_plugin_info The plugin in force per role, its source and the SHA-256 of its code.\n# TYPE photosync_plugin_info gauge\n");
        for (role, (source, sha256)) in lock(&self.plugins).iter() {
            let source = label_value(source);
            let _ = writeln!(
                out,
                "photosync_plugin_info{{role=\"{role}\",source=\"{source}\",sha256=\"{sha256}\"}} 1"
            );
        }
        out.push_str("# HELP photosync_plugin_reloads_refused_total New plugins refused while running (the previous one kept running), by role.\n# TYPE photosync_plugin_reloads_refused_total counter\n");
        for (role, n) in lock(&self.plugins_refused).iter() {
            let _ = writeln!(
                out,
                "photosync_plugin_reloads_refused_total{{role=\"{role}\"}} {n}"
            );
        }
        out
    }
}

/// A mutex's value, even after a panic elsewhere held it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `text` as a Prometheus label value: backslash, double quote and newline escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, health: std::sync::Arc<Health>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                socket.read(&mut buf),
            )
            .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request
                .lines()
                .next()
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("");
            let (status, content_type, body) = match path {
                "/healthz" => ("200 OK", "text/plain", "ok\n".to_owned()),
                "/readyz" => match health.not_ready() {
                    None => ("200 OK", "text/plain", "ready\n".to_owned()),
                    Some(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
                },
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", health.metrics()),
                _ => (
                    "404 Not Found",
                    "text/plain",
                    "try /healthz, /readyz or /metrics\n".to_owned(),
                ),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// The HTTP status `url` (`http://HOST:PORT/PATH`) answers a GET with: the client side of
/// `photosync healthcheck`, so that an image without curl can probe itself.
pub async fn get_status(url: &str) -> anyhow::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url} is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let mut socket = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {authority}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await?;
    let status_line = String::from_utf8_lossy(&answer);
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{url} answered something that is not HTTP"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Outcome, PhotoResult};

    fn result(outcome: Outcome, total_ms: f64, is_final: bool) -> PhotoResult {
        PhotoResult {
            outcome,
            timings_ms: [("total".to_owned(), total_ms), ("search".to_owned(), 2.0)].into(),
            is_final,
            ..PhotoResult::new("e".into(), 1)
        }
    }

    #[test]
    fn metrics_count_final_outcomes_and_durations() {
        let health = Health::default();
        health.record("upload", &result(Outcome::Written, 30.0, true));
        health.record("upload", &result(Outcome::Failed, 3.0, false));
        health.record("upload", &result(Outcome::Unchanged, 3.0, true));
        health.redelivery();
        let text = health.metrics();
        assert!(text.contains("photosync_events_total{kind=\"upload\",outcome=\"written\"} 1"));
        assert!(
            !text.contains("outcome=\"failed\""),
            "non-final results are not outcomes"
        );
        assert!(text.contains("photosync_event_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("photosync_event_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("photosync_stage_seconds_count{stage=\"search\"} 3"));
        assert!(text.contains("photosync_redeliveries_total 1"));
    }

    #[test]
    fn ready_needs_nats_and_the_directory() {
        let health = Health::default();
        assert!(health.not_ready().is_some());
        health.set_nats_connected(true);
        assert_eq!(health.not_ready(), None);
        health.directory_down("connection refused");
        assert!(
            health
                .not_ready()
                .unwrap_or_default()
                .contains("connection refused")
        );
        health.directory_up();
        assert_eq!(health.not_ready(), None);
    }
}
