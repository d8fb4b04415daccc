//! Stage 7, keep: the entry's sync state is saved (the digests decided, the claim released),
//! and the photo is kept findable by its file name for later — a person who does not exist
//! yet, a changed employee id, a resync.

use super::claim::Decided;
use super::fetch::Source;
use crate::directory::Entry;
use crate::events::{PhotoRef, PhotoUpload};
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::state::{self, EntryState};

/// Saves what the renditions `decided` for `entry` under the upload `sequence` of the photo
/// uploaded as `file_name`.
pub(crate) async fn save_state(
    p: &Pipeline,
    entry: &Entry,
    (sequence, file_name): (u64, &str),
    decided: &[Decided],
    previous: &EntryState,
) -> Result<(), Stop> {
    if decided.is_empty() && previous.dn == entry.dn {
        return Ok(());
    }
    state::update(&p.bus, &entry.id, |s| {
        s.dn = entry.dn.clone();
        if s.claim.as_ref().is_some_and(|c| c.sequence == sequence) {
            s.claim = None;
        }
        if s.sequence > sequence {
            // A later upload claimed the entry after this one's claim lapsed (this one was held
            // up between its write and now, e.g. by NATS going away) and wrote after it: its
            // digests are the ones the directory holds.
            return;
        }
        if decided.iter().any(|d| d.wrote) {
            s.wrote_file(file_name);
        }
        for d in decided {
            let mut kept = d.state.clone();
            let before = s.attributes.get(&d.attribute);
            kept.directory_digest = if d.wrote {
                Some(kept.written_digest.clone())
            } else {
                before.and_then(|b| b.directory_digest.clone())
            };
            kept.pending_digest = None;
            s.attributes.insert(d.attribute.clone(), kept);
        }
    })
    .await
    .map(|_| ())
    .map_err(|e| Stop::failed(e.to_string()))
}

/// Keeps the photo findable by name: an inline photo is stored in the photo bucket under its
/// file name, and the name is indexed to its object.
pub(crate) async fn keep_photo(
    p: &Pipeline,
    event: &PhotoUpload,
    sequence: u64,
    source: &mut Source,
) -> Result<(), Stop> {
    let object = match &event.photo {
        PhotoRef::Inline(_) => {
            let photo = source.bytes(&p.bus).await?;
            p.bus
                .put_photo(&event.file_name, photo)
                .await
                .map_err(|e| Stop::failed(e.to_string()))?;
            &event.file_name
        }
        PhotoRef::Object(name) => name,
    };
    state::index_photo(&p.bus, &event.file_name, object, sequence)
        .await
        .map_err(|e| Stop::failed(e.to_string()))
}
