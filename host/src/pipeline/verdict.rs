//! What happens to a message once its event is handled: the one place that turns how an event
//! ended into the verdict the service acts on, and into the result's `final` flag and reason.

use std::time::Duration;

use crate::events::PhotoResult;

/// Why an event stopped short of success, as far as redelivery is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Done for good: retrying cannot change the outcome (a rejection, no match, unchanged).
    Final,
    /// A failure that may pass (NATS, a refusal an admin can fix, a plugin failing): try again.
    Transient,
    /// The directory cannot be reached: hold the event until it answers, spending no delivery.
    DirectoryUnreachable,
}

/// What the service does with the message after the event is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Publish the result, then acknowledge: the event is done.
    Ack,
    /// Publish the (not final) result, then have the event delivered again after this wait.
    Retry { after: Duration },
    /// Publish nothing yet: wait until the directory answers, then handle the event again.
    WaitForDirectory,
    /// The last delivery failed: keep the event as a dead letter with this reason, publish the
    /// (final) result and end the message.
    DeadLetter { reason: String },
}

/// How failed events are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the second delivery; it doubles for each one after.
    pub first: Duration,
    /// The longest wait between two deliveries.
    pub longest: Duration,
    /// Deliveries before an event becomes a dead letter.
    pub max_deliver: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            longest: Duration::from_secs(300),
            max_deliver: 5,
        }
    }
}

impl RetryPolicy {
    /// The wait before delivery `delivery + 1`: doubling from `first`, at most `longest`.
    pub fn backoff(&self, delivery: u64) -> Duration {
        let factor = 1u32 << delivery.saturating_sub(1).min(16);
        (self.first * factor).min(self.longest)
    }

    /// The verdict for an event that ended with `cause` on its `delivery`-th delivery; marks
    /// `result` not final when the event will be tried again, and says in its reason that a
    /// dead letter is kept on `dead_subject`.
    pub fn decide(
        &self,
        cause: Cause,
        delivery: u64,
        dead_subject: &str,
        result: &mut PhotoResult,
    ) -> Verdict {
        match cause {
            Cause::Final => Verdict::Ack,
            Cause::DirectoryUnreachable => Verdict::WaitForDirectory,
            Cause::Transient if delivery as i64 >= self.max_deliver => {
                let reason = format!(
                    "{} (gave up after {delivery} deliveries; the event is kept on {dead_subject} \
                     for photosync replay)",
                    result.reason.as_deref().unwrap_or("failed"),
                );
                result.reason = Some(reason.clone());
                Verdict::DeadLetter { reason }
            }
            Cause::Transient => {
                result.is_final = false;
                Verdict::Retry {
                    after: self.backoff(delivery),
                }
            }
        }
    }

    /// The verdict for an event whose handling panicked (`what`) on its `delivery`-th delivery:
    /// tried again after the first wait, or a dead letter (kept on `dead_subject`) on the last.
    pub fn after_panic(&self, what: &str, delivery: u64, dead_subject: &str) -> Verdict {
        if delivery as i64 >= self.max_deliver {
            Verdict::DeadLetter {
                reason: format!(
                    "handling the event failed unexpectedly ({what}) on each of {delivery} deliveries; \
                     the event is kept on {dead_subject} for photosync replay"
                ),
            }
        } else {
            Verdict::Retry { after: self.first }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> PhotoResult {
        let mut result = PhotoResult::new("e1".into(), 1);
        result.reason = Some("NATS is away".into());
        result
    }

    #[test]
    fn transient_failures_retry_with_backoff_then_become_dead_letters() {
        let policy = RetryPolicy {
            first: Duration::from_secs(2),
            longest: Duration::from_secs(5),
            max_deliver: 3,
        };
        let mut result = failed();
        let verdict = policy.decide(
            Cause::Transient,
            1,
            "photosync.dead.photosync.photo.uploaded",
            &mut result,
        );
        assert_eq!(
            verdict,
            Verdict::Retry {
                after: Duration::from_secs(2)
            }
        );
        assert!(!result.is_final);
        assert_eq!(policy.backoff(2), Duration::from_secs(4));
        assert_eq!(policy.backoff(3), Duration::from_secs(5));
        let mut result = failed();
        let verdict = policy.decide(
            Cause::Transient,
            3,
            "photosync.dead.photosync.photo.uploaded",
            &mut result,
        );
        let Verdict::DeadLetter { reason } = verdict else {
            panic!("expected a dead letter, got {verdict:?}");
        };
        assert!(result.is_final);
        assert_eq!(result.reason.as_deref(), Some(reason.as_str()));
        assert!(
            reason.starts_with("NATS is away (gave up after 3 deliveries"),
            "{reason}"
        );
        assert!(
            reason.contains("photosync.dead.photosync.photo.uploaded"),
            "{reason}"
        );
    }

    #[test]
    fn final_and_unreachable_causes() {
        let policy = RetryPolicy::default();
        let mut result = failed();
        assert_eq!(
            policy.decide(Cause::Final, 9, "s", &mut result),
            Verdict::Ack
        );
        assert_eq!(
            policy.decide(Cause::DirectoryUnreachable, 9, "s", &mut result),
            Verdict::WaitForDirectory
        );
        assert!(result.is_final);
        assert_eq!(
            policy.after_panic("boom", 1, "s"),
            Verdict::Retry {
                after: policy.first
            }
        );
        assert!(matches!(
            policy.after_panic("boom", 5, "s"),
            Verdict::DeadLetter { .. }
        ));
    }
}
