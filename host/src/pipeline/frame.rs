//! What both event paths share: how an event stops short ([`Stop`]), per-stage timing
//! ([`Clock`]), and the frame around a path that turns its ending into a result and a verdict.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::verdict::{Cause, RetryPolicy, Verdict};
use crate::directory::DirectoryError;
use crate::events::{Outcome, PhotoResult};
use crate::plugins::PluginError;
use crate::text::clip;

/// An event that ended early: its outcome, the reason an operator reads, and whether trying
/// again could help.
#[derive(Debug)]
pub(crate) struct Stop {
    pub outcome: Outcome,
    pub reason: String,
    pub cause: Cause,
}

impl Stop {
    /// A verdict that retrying cannot change.
    pub fn done(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            cause: Cause::Final,
        }
    }

    /// Bad input: rejected for good.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Self::done(Outcome::Rejected, reason)
    }

    /// A failure that may pass: tried again later.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Failed,
            reason: reason.into(),
            cause: Cause::Transient,
        }
    }

    /// A plugin failing (a trap, a timeout, a malformed answer): tried again later.
    pub fn plugin(e: PluginError) -> Self {
        Self::failed(e.to_string())
    }

    /// A directory error: an unreachable directory is waited for, refusals an admin can fix
    /// are retried, the rest are final.
    pub fn directory(e: &DirectoryError) -> Self {
        let cause = match e {
            DirectoryError::Unavailable { .. } => Cause::DirectoryUnreachable,
            e if e.is_transient() => Cause::Transient,
            _ => Cause::Final,
        };
        Self {
            outcome: Outcome::Failed,
            reason: e.to_string(),
            cause,
        }
    }
}

/// How a path ended: an outcome, or a stop.
pub(crate) type Ended = Result<Outcome, Stop>;

/// Per-event timing, in milliseconds per stage.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    stages: BTreeMap<String, f64>,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            stages: BTreeMap::new(),
        }
    }

    /// Adds the time since `since` to `stage`.
    pub fn lap(&mut self, stage: &str, since: Instant) {
        self.add(stage, since.elapsed());
    }

    /// Adds `spent` to `stage`.
    pub fn add(&mut self, stage: &str, spent: Duration) {
        *self.stages.entry(stage.to_owned()).or_default() += spent.as_secs_f64() * 1e3;
    }

    fn finish(mut self) -> BTreeMap<String, f64> {
        self.stages
            .insert("total".into(), self.started.elapsed().as_secs_f64() * 1e3);
        self.stages
    }
}

/// One event handled: the result to publish and what to do with the message.
#[derive(Debug)]
pub struct Handled {
    pub result: PhotoResult,
    pub verdict: Verdict,
}

/// Where one delivery of a message stands.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// 1 for the first delivery.
    pub number: u64,
    /// The message's stream sequence: the upload order, newest highest.
    pub sequence: u64,
}

/// Puts how a path ended into `result`, with its timings, and decides the verdict (a dead
/// letter would be kept on `dead_subject`).
pub(crate) fn settle(
    mut result: PhotoResult,
    ended: Ended,
    clock: Clock,
    policy: &RetryPolicy,
    dead_subject: &str,
) -> Handled {
    let cause = match ended {
        Ok(outcome) => {
            result.outcome = outcome;
            Cause::Final
        }
        Err(stop) => {
            result.outcome = stop.outcome;
            result.reason = Some(stop.reason);
            stop.cause
        }
    };
    result.timings_ms = clock.finish();
    let verdict = policy.decide(cause, result.delivery, dead_subject, &mut result);
    Handled { result, verdict }
}

/// The event id from a payload, even a broken one, so its result can be correlated.
pub(crate) fn event_id_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(|s| clip(s, 200)))
        .unwrap_or_else(|| "unknown".into())
}

/// Records the entry an event is about on the event's span, for every line logged after.
pub(crate) fn note_entry(dn: &str) {
    tracing::Span::current().record("entry", dn);
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_come_from_broken_payloads_too() {
        assert_eq!(super::event_id_of(br#"{"id":"e7","file_name":3}"#), "e7");
        assert_eq!(super::event_id_of(b"not json"), "unknown");
    }
}
