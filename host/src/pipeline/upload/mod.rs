//! The photo-upload path, one stage a file, in the order [`apply`] runs them:
//! [`parse`] → [`fetch`] → [`locate`] → [`render`] → [`claim`] → [`write`] → [`keep`].
//! Each stage takes what the one before produced and returns what the next needs, or a
//! [`Stop`]; only [`apply`] records them into the event's result.

pub(crate) mod claim;
pub(crate) mod fetch;
pub(crate) mod keep;
pub(crate) mod locate;
pub(crate) mod parse;
pub(crate) mod render;
pub(crate) mod write;

use std::time::Instant;

use super::Pipeline;
use super::frame::{Clock, Ended, Stop, note_entry};
use crate::directory::Entry;
use crate::events::{Outcome, PhotoResult, PhotoUpload};
use crate::state::{self, EntryState};
use claim::Decided;
use fetch::Source;
use render::Rendered;

pub use fetch::Digests;

/// One upload to apply.
pub(crate) struct Upload {
    pub event: PhotoUpload,
    /// The upload order (the event's stream sequence), newest highest.
    pub sequence: u64,
    /// The photo's bytes when the caller has them already (a dry run's file).
    pub given: Option<Vec<u8>>,
}

/// Runs the stages for `upload`, recording what they found in `result` and their times in
/// `clock`.
pub(crate) async fn apply(
    p: &Pipeline,
    upload: Upload,
    result: &mut PhotoResult,
    clock: &mut Clock,
) -> Ended {
    let Upload {
        mut event,
        sequence,
        given,
    } = upload;
    result.file_name = Some(event.file_name.clone());
    let t = Instant::now();
    let mut source = fetch::fetch(p, &mut event, given).await?;
    clock.lap("source", t);
    result.source_digest = Some(source.digest.clone());
    let entry = match find(p, &event, clock).await {
        Ok(entry) => entry,
        Err(stop) => {
            if matches!(stop.outcome, Outcome::NoMatch | Outcome::Ambiguous) && !p.dry_run {
                keep::keep_photo(p, &event, sequence, &mut source).await?;
            }
            return Err(stop);
        }
    };
    note_entry(&entry.dn);
    result.entry_dn = Some(entry.dn.clone());
    if entry.id.is_empty() {
        return Err(Stop::failed(format!(
            "the entry {} has no {} to key its sync state by; set ldap.id-attribute to entryUUID (OpenLDAP) \
             or objectGUID (Active Directory)",
            entry.dn,
            p.directory.config().id_attribute
        )));
    }
    result.entry_id = Some(entry.id.clone());
    let previous = state::load(&p.bus, &entry.id)
        .await
        .map_err(|e| Stop::failed(e.to_string()))?
        .unwrap_or_default();
    if previous.sequence > sequence {
        // The same photo as the later upload applied: nothing to supersede.
        if previous.holds_source(&source.digest, &p.attribute_names()) {
            result.reason = Some(claim::SAME_AS_LATER.into());
            return Ok(Outcome::Unchanged);
        }
        return Err(claim::superseded(previous.sequence));
    }
    let mut rendered = Vec::with_capacity(p.profiles.len());
    let ended =
        render::render_all(p, &event.id, &entry, &mut source, &previous, &mut rendered).await;
    for r in &rendered {
        clock.add("dedup", r.deduping);
        if !r.transforming.is_zero() {
            clock.add("transform", r.transforming);
        }
    }
    let ended = match ended {
        Ok(()) => {
            commit(
                p,
                &event,
                sequence,
                &entry,
                &previous,
                &rendered,
                &mut source,
                clock,
            )
            .await
        }
        Err(stop) => Err((stop, None)),
    };
    let (ended, not_written) = match ended {
        Ok(outcome) => (Ok(outcome), None),
        Err((stop, not_written)) => (Err(stop), not_written),
    };
    result.attributes = rendered
        .iter()
        .map(|r| r.result(not_written.as_deref()))
        .collect();
    ended
}

/// Stage 3 timed: the matcher's criteria, then the search.
async fn find(p: &Pipeline, event: &PhotoUpload, clock: &mut Clock) -> Result<Entry, Stop> {
    let t = Instant::now();
    let criteria = locate::criteria(p, event)?;
    clock.lap("match", t);
    let t = Instant::now();
    let entry = locate::search(p, &criteria).await?;
    clock.lap("search", t);
    Ok(entry)
}

/// Stages 5-7 for what was rendered: claim, write, keep. On a stop, also says why planned
/// writes did not happen.
#[allow(clippy::too_many_arguments)]
async fn commit(
    p: &Pipeline,
    event: &PhotoUpload,
    sequence: u64,
    entry: &Entry,
    previous: &EntryState,
    rendered: &[Rendered],
    source: &mut Source,
    clock: &mut Clock,
) -> Result<Outcome, (Stop, Option<String>)> {
    let decided = decisions(rendered, previous);
    let changes: Vec<(String, Vec<u8>)> = rendered
        .iter()
        .filter_map(|r| Some((r.attribute().to_owned(), r.write.clone()?)))
        .collect();
    if p.dry_run {
        return Ok(if changes.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Written
        });
    }
    // Held until the state is saved: while it lives, no other delivery of this upload in
    // this process takes the claim over.
    let mut held = None;
    if !changes.is_empty() {
        let attempt = match claim::claim(p, &entry.id, sequence, &decided, previous).await {
            Ok(attempt) => attempt,
            Err(stop) => {
                let not_written = (stop.outcome == Outcome::Unchanged)
                    .then(|| format!("unchanged: {}", stop.reason));
                return Err((stop, not_written));
            }
        };
        let t = Instant::now();
        let attempt = held.insert(attempt);
        if let Err(stop) = write::write(p, &event.id, entry, &changes, attempt).await {
            let not_written = format!("not written: {}", stop.reason);
            return Err((stop, Some(not_written)));
        }
        clock.lap("write", t);
    }
    let no_note = |stop| (stop, None);
    keep::save_state(p, entry, (sequence, &event.file_name), &decided, previous)
        .await
        .map_err(no_note)?;
    if changes.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    keep::keep_photo(p, event, sequence, source)
        .await
        .map_err(no_note)?;
    Ok(Outcome::Written)
}

/// What the renditions decided to remember. The same digests decided again are not news: the
/// state keeps the event that first decided them, and an unchanged photo costs no state write.
fn decisions(rendered: &[Rendered], previous: &EntryState) -> Vec<Decided> {
    rendered
        .iter()
        .filter_map(|r| {
            let state = r.state.clone()?;
            let wrote = r.write.is_some();
            let before = previous.attributes.get(r.attribute());
            (wrote || !before.is_some_and(|b| b.same_digests(&state))).then(|| Decided {
                attribute: r.attribute().to_owned(),
                state,
                wrote,
            })
        })
        .collect()
}
