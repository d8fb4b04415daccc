//! Stage 5, claim: the entry is claimed for writing one upload, so that no other worker writes
//! it until the claim is released or lapses; an upload older than one already applied is
//! superseded. The digests about to be written are saved as pending, so that the watcher
//! recognises the directory change as photosync's own even before the final state is saved.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::events::Outcome;
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::state::{self, AttributeState, EntryState};
use crate::timestamps::unix_now;

/// How long an entry's writer may hold it before others may go ahead (it died).
const LEASE: Duration = Duration::from_secs(30);
/// How long an event waits in-process for another worker's claim before retrying later.
const PATIENCE: Duration = Duration::from_secs(10);

pub(crate) const SAME_AS_LATER: &str =
    "a later upload of the same photo already decided this entry's photo; nothing to write";
const SAME_WRITTEN_MEANWHILE: &str =
    "another upload of the same photo wrote the same bytes meanwhile; nothing to write";

/// This process's name in the claims it holds.
fn holder() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The uploads this process is claiming or writing now, by sequence, with how many attempts
/// of each: JetStream delivers an upload again when its ack wait passes, even while the first
/// delivery is still being written (held up by NATS going away, say).
fn attempts() -> &'static Mutex<HashMap<u64, usize>> {
    static ATTEMPTS: OnceLock<Mutex<HashMap<u64, usize>>> = OnceLock::new();
    ATTEMPTS.get_or_init(Mutex::default)
}

/// One attempt at writing an upload, counted in [`attempts`] while it lives; from a successful
/// claim, also the claim's lapse.
#[derive(Debug)]
pub(crate) struct Attempt {
    sequence: u64,
    /// Whether another attempt of the same upload was already under way in this process.
    others: bool,
    /// Unix seconds at which this attempt's claim lapses, once it holds one.
    until: Option<u64>,
}

impl Attempt {
    fn start(sequence: u64) -> Self {
        let mut all = attempts().lock().unwrap_or_else(|p| p.into_inner());
        let n = all.entry(sequence).or_default();
        *n += 1;
        Self {
            sequence,
            others: *n > 1,
            until: None,
        }
    }

    /// Whether the claim leaves time for a write that takes up to `timeout`: an attempt held
    /// up past it must not write, since another may have claimed the entry since.
    pub fn may_write(&self, timeout: Duration) -> bool {
        self.until
            .is_some_and(|until| unix_now() + timeout.as_secs() + 2 < until)
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut all = attempts().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = all.get_mut(&self.sequence) {
            *n -= 1;
            if *n == 0 {
                all.remove(&self.sequence);
            }
        }
    }
}

/// What one rendition decided to remember for its attribute.
#[derive(Debug, Clone)]
pub(crate) struct Decided {
    pub attribute: String,
    pub state: AttributeState,
    /// Whether its bytes are to be written.
    pub wrote: bool,
}

/// The stop for an upload older than the one the entry's state was decided by.
pub(crate) fn superseded(newer: u64) -> Stop {
    Stop::done(
        Outcome::Superseded,
        format!(
            "a later upload (event sequence {newer}) already decided this entry's photo; this older one writes nothing"
        ),
    )
}

/// Claims the entry `entry_id` for the upload `sequence`, whose renditions `decided`, given the
/// state `loaded` before they were made. The attempt returned holds the claim's lapse; keep it
/// until the state is saved.
pub(crate) async fn claim(
    p: &Pipeline,
    entry_id: &str,
    sequence: u64,
    decided: &[Decided],
    loaded: &EntryState,
) -> Result<Attempt, Stop> {
    let deadline = Instant::now() + PATIENCE;
    let source = decided.first().map(|d| d.state.source_digest.as_str());
    let attributes = p.attribute_names();
    let mut attempt = Attempt::start(sequence);
    loop {
        let now = unix_now();
        let mut verdict = Ok(());
        let by = By {
            sequence,
            holder: holder(),
            others: attempt.others,
            until: now + LEASE.as_secs(),
        };
        state::update(&p.bus, entry_id, |s| {
            verdict = try_claim(s, &by, source, decided, loaded, &attributes, now);
        })
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
        match verdict {
            Err(held) if held.outcome == Outcome::Failed && Instant::now() < deadline => {
                // Another worker is writing this entry: its write takes milliseconds.
                drop(held);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(()) => {
                attempt.until = Some(by.until);
                return Ok(attempt);
            }
            Err(stop) => return Err(stop),
        }
    }
}

/// Who asks for the claim: the upload, this process, whether another attempt of the same
/// upload is under way in it, and when the claim would lapse.
struct By<'a> {
    sequence: u64,
    holder: &'a str,
    others: bool,
    until: u64,
}

impl By<'_> {
    /// Whether the live claim `c` keeps this attempt from writing. A claim for another upload
    /// does. One for the same upload does unless this process holds it and has no other
    /// attempt at it under way (that one ended without releasing it, e.g. NATS went away); a
    /// claim of a process that names none (an older version) is taken over as before.
    fn kept_out_by(&self, c: &state::Claim) -> bool {
        if c.sequence != self.sequence {
            return true;
        }
        match &c.holder {
            None => false,
            Some(h) => h != self.holder || self.others,
        }
    }
}

/// One compare-and-set attempt on the state `s`: claims it, or says why not.
fn try_claim(
    s: &mut EntryState,
    by: &By<'_>,
    source: Option<&str>,
    decided: &[Decided],
    loaded: &EntryState,
    attributes: &[&str],
    now: u64,
) -> Result<(), Stop> {
    // Another upload of the same photo wrote these bytes since this one looked.
    let written_meanwhile = decided.iter().filter(|d| d.wrote).all(|d| {
        let was = loaded
            .attributes
            .get(&d.attribute)
            .map(|a| &a.written_digest);
        s.attributes.get(&d.attribute).is_some_and(|a| {
            was != Some(&d.state.written_digest)
                && a.written_digest == d.state.written_digest
                && a.directory_digest.as_deref() == Some(d.state.written_digest.as_str())
        })
    });
    if written_meanwhile && s.claim.is_none() {
        return Err(Stop::done(Outcome::Unchanged, SAME_WRITTEN_MEANWHILE));
    }
    let sequence = by.sequence;
    if s.sequence > sequence {
        return Err(match source {
            Some(d) if s.holds_source(d, attributes) => {
                Stop::done(Outcome::Unchanged, SAME_AS_LATER)
            }
            _ => superseded(s.sequence),
        });
    }
    if let Some(c) = &s.claim
        && c.until > now
        && by.kept_out_by(c)
    {
        return Err(Stop::failed(if c.sequence == sequence {
            "another delivery of this upload is writing this entry's photo; tried again later"
                .to_owned()
        } else {
            format!(
                "another worker is writing this entry's photo (upload {}); tried again later",
                c.sequence
            )
        }));
    }
    s.sequence = sequence;
    s.claim = Some(state::Claim {
        sequence,
        until: by.until,
        source: source.map(str::to_owned),
        holder: Some(by.holder.to_owned()),
    });
    for d in decided.iter().filter(|d| d.wrote) {
        s.attributes
            .entry(d.attribute.clone())
            .or_insert_with(|| AttributeState::unknown(&d.state.event_id))
            .pending_digest = Some(d.state.written_digest.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(sequence: u64, holder: Option<&str>) -> state::Claim {
        state::Claim {
            sequence,
            until: u64::MAX,
            source: None,
            holder: holder.map(Into::into),
        }
    }

    #[test]
    fn a_live_claim_is_taken_over_only_by_its_own_process_with_no_other_attempt_running() {
        let by = |others| By {
            sequence: 7,
            holder: "me",
            others,
            until: 0,
        };
        // Another upload's claim keeps everyone out.
        assert!(by(false).kept_out_by(&claim(8, Some("me"))));
        // The same upload: another process's claim keeps this one out (its attempt may still
        // be writing); this process's own is taken over once no attempt of it runs here.
        assert!(by(false).kept_out_by(&claim(7, Some("them"))));
        assert!(by(true).kept_out_by(&claim(7, Some("me"))));
        assert!(!by(false).kept_out_by(&claim(7, Some("me"))));
        // A claim from a version that named no holder is taken over, as that version did.
        assert!(!by(false).kept_out_by(&claim(7, None)));
    }

    #[test]
    fn attempts_of_one_upload_in_one_process_see_each_other_until_they_end() {
        let first = Attempt::start(u64::MAX - 1);
        let second = Attempt::start(u64::MAX - 1);
        assert!(!first.others);
        assert!(second.others);
        drop(first);
        drop(second);
        assert!(!Attempt::start(u64::MAX - 1).others);
    }

    #[test]
    fn an_attempt_writes_only_with_time_left_on_its_claim() {
        let mut attempt = Attempt::start(u64::MAX - 2);
        let timeout = Duration::from_secs(10);
        assert!(!attempt.may_write(timeout), "no claim yet");
        attempt.until = Some(unix_now() + 30);
        assert!(attempt.may_write(timeout));
        attempt.until = Some(unix_now() + 11);
        assert!(!attempt.may_write(timeout));
    }
}
