//! Stage 5, claim: the entry is claimed for writing one upload, so that no other worker writes
//! it until the claim is released or lapses; an upload older than one already applied is
//! superseded. The digests about to be written are saved as pending, so that the watcher
//! recognises the directory change as photosync's own even before the final state is saved.

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
/// state `loaded` before they were made.
pub(crate) async fn claim(
    p: &Pipeline,
    entry_id: &str,
    sequence: u64,
    decided: &[Decided],
    loaded: &EntryState,
) -> Result<(), Stop> {
    let deadline = Instant::now() + PATIENCE;
    let source = decided.first().map(|d| d.state.source_digest.as_str());
    let attributes = p.attribute_names();
    loop {
        let now = unix_now();
        let mut verdict = Ok(());
        state::update(&p.bus, entry_id, |s| {
            verdict = try_claim(s, sequence, source, decided, loaded, &attributes, now);
        })
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
        match verdict {
            Err(held) if held.outcome == Outcome::Failed && Instant::now() < deadline => {
                // Another worker is writing this entry: its write takes milliseconds.
                drop(held);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// One compare-and-set attempt on the state `s`: claims it, or says why not.
fn try_claim(
    s: &mut EntryState,
    sequence: u64,
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
    if s.sequence > sequence {
        return Err(match source {
            Some(d) if s.holds_source(d, attributes) => {
                Stop::done(Outcome::Unchanged, SAME_AS_LATER)
            }
            _ => superseded(s.sequence),
        });
    }
    if let Some(c) = &s.claim
        && c.sequence != sequence
        && c.until > now
    {
        return Err(Stop::failed(format!(
            "another worker is writing this entry's photo (upload {}); tried again later",
            c.sequence
        )));
    }
    s.sequence = sequence;
    s.claim = Some(state::Claim {
        sequence,
        until: now + LEASE.as_secs(),
        source: source.map(str::to_owned),
    });
    for d in decided.iter().filter(|d| d.wrote) {
        s.attributes
            .entry(d.attribute.clone())
            .or_insert_with(|| AttributeState::unknown(&d.state.event_id))
            .pending_digest = Some(d.state.written_digest.clone());
    }
    Ok(())
}
