//! The directory-change path: a deleted entry's state is forgotten; for an added or changed
//! entry, a photo changed by someone else becomes a `photosync.photo.changed` event (only when
//! its digest changed, never for photosync's own writes), and a photo waiting in the bucket for
//! the entry's photo names goes through the upload path.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::Pipeline;
use super::frame::{Clock, Ended, Stop, note_entry};
use super::upload::{self, Upload};
use crate::directory::Entry;
use crate::events::{
    ChangeCause, ChangeKind, DirectoryChange, Outcome, PhotoChanged, PhotoRef, PhotoResult,
    PhotoUpload,
};
use crate::plugins::Attribute;
use crate::publish::photo_changed_event;
use crate::state::{self, AttributeState, EntryState};
use crate::timestamps::now_rfc3339;

/// Parses and checks a directory-change event. Pure: no I/O.
pub(crate) fn parse(payload: &[u8]) -> Result<DirectoryChange, Stop> {
    let change: DirectoryChange = serde_json::from_slice(payload).map_err(|e| {
        Stop::rejected(format!(
            "the event is not a valid directory-change event ({e}); see docs/events.md"
        ))
    })?;
    if change.id.trim().is_empty() || change.entry_id.trim().is_empty() {
        return Err(Stop::rejected("the event has an empty id or entry_id"));
    }
    if change.change != ChangeKind::Delete && change.dn.trim().is_empty() {
        return Err(Stop::rejected(format!(
            "the {} event has no dn",
            change.change.as_str()
        )));
    }
    Ok(change)
}

/// A deleted entry's sync state is forgotten and, unless `[retention] erase-deleted = false`,
/// its photos in the bucket, their name index and its backups are erased first; says what was
/// done.
async fn deleted(p: &Pipeline, change: &DirectoryChange) -> Result<String, Stop> {
    let failed = |e: &dyn std::fmt::Display| Stop::failed(e.to_string());
    let known = state::load(&p.bus, &change.entry_id)
        .await
        .map_err(|e| failed(&e))?
        .unwrap_or_default();
    let mut erased = vec![];
    if p.erase_deleted && !p.dry_run {
        let mut files: BTreeSet<String> = known.file_names.iter().cloned().collect();
        for name in known.names.iter().flatten() {
            if let Some(stored) = state::find_photo(&p.bus, name)
                .await
                .map_err(|e| failed(&e))?
            {
                files.insert(stored.file_name);
            }
        }
        let dn = if change.dn.is_empty() {
            &known.dn
        } else {
            &change.dn
        };
        let entry = (dn.as_str(), change.entry_id.as_str());
        erased = crate::ops::forget::erase_entry(&p.bus, p.backups.as_ref(), entry, files)
            .await
            .map_err(|e| failed(&format!("{e:#}")))?;
    }
    state::remove(&p.bus, &change.entry_id)
        .await
        .map_err(|e| failed(&e))?;
    Ok(match (p.erase_deleted, erased.is_empty()) {
        (false, _) => {
            "the entry was deleted: its sync state is forgotten; its photos stay in the bucket \
             (retention.erase-deleted is false)"
                .into()
        }
        (true, true) => "the entry was deleted: its sync state is forgotten".into(),
        (true, false) => format!(
            "the entry was deleted: its sync state is forgotten and its data erased ({})",
            erased.join("; ")
        ),
    })
}

/// Applies one directory change, recording what it found in `result`.
pub(crate) async fn apply(
    p: &Pipeline,
    change: &DirectoryChange,
    result: &mut PhotoResult,
    clock: &mut Clock,
) -> Ended {
    result.entry_id = Some(change.entry_id.clone());
    result.entry_dn = (!change.dn.is_empty()).then(|| change.dn.clone());
    if change.change == ChangeKind::Delete {
        result.reason = Some(deleted(p, change).await?);
        return Ok(Outcome::Unchanged);
    }
    let resync = change.change == ChangeKind::Resync;
    if resync {
        // Forget what photosync decided and saw; keep the upload order and any claim, so an
        // upload in flight is neither undone nor overtaken by an older stored photo.
        state::update(&p.bus, &change.entry_id, |s| {
            s.attributes.clear();
            s.names = None;
        })
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
    }
    let t = Instant::now();
    let entry = read_entry(p, change).await;
    clock.lap("search", t);
    let entry = match entry? {
        Ok(entry) => entry,
        Err(nothing_to_do) => {
            result.reason = Some(nothing_to_do);
            return Ok(Outcome::Unchanged);
        }
    };
    result.entry_dn = Some(entry.dn.clone());
    note_entry(&entry.dn);
    let (next, mut notes) = p.note_photos(change, &entry, resync).await?;
    let (outcome, mut more) = p
        .waiting_photo(change, &entry, &next, result, clock)
        .await?;
    notes.append(&mut more);
    if !notes.is_empty() {
        let mut all = result.reason.take().map(|r| vec![r]).unwrap_or_default();
        all.extend(notes);
        result.reason = Some(all.join("; "));
    }
    Ok(outcome)
}

/// The changed entry with all its attributes, or why there is nothing to do (it is gone, out
/// of scope, or another entry now).
async fn read_entry(p: &Pipeline, change: &DirectoryChange) -> Result<Result<Entry, String>, Stop> {
    let mut wanted = vec!["*".to_owned()];
    wanted.extend(p.attribute_names_owned());
    let entry = p
        .directory
        .read(&change.dn, &wanted)
        .await
        .map_err(|e| Stop::directory(&e))?;
    Ok(match entry {
        None => Err(format!(
            "the entry {} no longer exists or is out of scope; nothing to do",
            change.dn
        )),
        Some(entry) if entry.id != change.entry_id => Err(format!(
            "the entry at {} is now {}, not {} (renamed or replaced since); nothing to do",
            entry.dn, entry.id, change.entry_id
        )),
        Some(entry) => Ok(entry),
    })
}

impl Pipeline {
    /// Notes the entry's photos as seen in the directory, publishing a photo-changed event for
    /// each one someone else changed (a resync takes them as they are: nobody knows who set
    /// them). Returns the state saved and notes for the result.
    async fn note_photos(
        &self,
        change: &DirectoryChange,
        entry: &Entry,
        resync: bool,
    ) -> Result<(EntryState, Vec<String>), Stop> {
        // The state is read after the entry: if the entry already shows a photo photosync is
        // writing, the state read now has it at least as pending.
        let previous = state::load(&self.bus, &entry.id)
            .await
            .map_err(|e| Stop::failed(e.to_string()))?
            .unwrap_or_default();
        let mut notes = Vec::new();
        let mut seen = Vec::new();
        for attribute in self.attribute_names() {
            if resync {
                let digest = entry
                    .values
                    .get(&attribute.to_ascii_lowercase())
                    .and_then(|v| v.first())
                    .map(|v| self.value_digest(v))
                    .transpose()
                    .map_err(Stop::plugin)?;
                seen.push((attribute.to_owned(), digest));
                continue;
            }
            let (digest, note) = self.photo_seen(change, entry, attribute, &previous).await?;
            notes.extend(note);
            if let Some(digest) = digest {
                seen.push((attribute.to_owned(), digest));
            }
        }
        let next = state::update(&self.bus, &entry.id, |s| {
            if !seen.is_empty() || !s.dn.is_empty() {
                s.dn = entry.dn.clone();
            }
            for (attribute, digest) in &seen {
                s.attributes
                    .entry(attribute.clone())
                    .or_insert_with(|| AttributeState::unknown(&change.id))
                    .directory_digest = digest.clone();
            }
        })
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
        Ok((next, notes))
    }

    /// Compares a photo attribute's value with what photosync last saw or wrote, and publishes
    /// a photo-changed event when someone else changed it. Returns the directory digest to
    /// remember (outer `None`: nothing new) and a note for the result.
    async fn photo_seen(
        &self,
        change: &DirectoryChange,
        entry: &Entry,
        attribute: &str,
        previous: &EntryState,
    ) -> Result<(Option<Option<String>>, Option<String>), Stop> {
        let value = entry
            .values
            .get(&attribute.to_ascii_lowercase())
            .and_then(|v| v.first());
        let digest = value
            .map(|v| self.value_digest(v))
            .transpose()
            .map_err(Stop::plugin)?;
        let known = previous.attributes.get(attribute);
        if digest == known.and_then(|s| s.directory_digest.clone())
            || (known.is_none() && digest.is_none())
        {
            return Ok((None, None));
        }
        let ours = digest.as_ref().is_some_and(|d| {
            known.is_some_and(|s| s.written_digest == *d || s.pending_digest.as_ref() == Some(d))
        });
        if ours {
            return Ok((Some(digest), None));
        }
        let event = self.photo_changed(change, entry, attribute, value).await?;
        let note = match &event.md5 {
            Some(md5) => format!(
                "{attribute} was changed in the directory by someone else (md5 {md5}); published on {}",
                self.bus.names().photo_changed
            ),
            None => format!(
                "{attribute} was removed in the directory by someone else; published on {}",
                self.bus.names().photo_changed
            ),
        };
        Ok((Some(digest), Some(note)))
    }

    async fn photo_changed(
        &self,
        change: &DirectoryChange,
        entry: &Entry,
        attribute: &str,
        value: Option<&Vec<u8>>,
    ) -> Result<PhotoChanged, Stop> {
        let event = photo_changed_event(
            &self.bus,
            format!("{}/{attribute}", change.id),
            entry,
            attribute,
            value,
            ChangeCause::Directory,
        )
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
        self.bus
            .publish_photo_changed(&event)
            .await
            .map_err(|e| Stop::failed(e.to_string()))?;
        Ok(event)
    }

    /// Applies the photo waiting in the bucket under one of the entry's photo names, when the
    /// names are new (a new person, or matching attributes changed).
    async fn waiting_photo(
        &self,
        change: &DirectoryChange,
        entry: &Entry,
        current: &EntryState,
        result: &mut PhotoResult,
        clock: &mut Clock,
    ) -> Result<(Outcome, Vec<String>), Stop> {
        let t = Instant::now();
        let names = self
            .matcher
            .photo_names(&entry_attributes(entry))
            .map_err(Stop::plugin)?;
        clock.lap("match", t);
        if current.names.as_ref() == Some(&names) {
            return Ok((Outcome::Unchanged, vec![]));
        }
        // Of the photos kept under the entry's names, the one uploaded last.
        let mut stored: Option<state::StoredName> = None;
        for name in &names {
            if let Some(found) = state::find_photo(&self.bus, name)
                .await
                .map_err(|e| Stop::failed(e.to_string()))?
                && stored.as_ref().is_none_or(|s| found.sequence > s.sequence)
            {
                stored = Some(found);
            }
        }
        let outcome = match stored {
            None => {
                let looked = if names.is_empty() {
                    "the matcher gives no photo names for it".to_owned()
                } else {
                    format!("looked for {}", names.join(", "))
                };
                (
                    Outcome::Unchanged,
                    vec![format!("no photo is waiting for this entry ({looked})")],
                )
            }
            Some(found) => {
                let upload = PhotoUpload {
                    id: change.id.clone(),
                    file_name: found.file_name.clone(),
                    source: format!("directory-change:{}", change.change.as_str()),
                    content_type: String::new(),
                    uploaded_at: now_rfc3339(),
                    attributes: BTreeMap::new(),
                    photo: PhotoRef::Object(found.object.clone()),
                    photo_digest: None,
                };
                let upload = Upload {
                    event: upload,
                    sequence: found.sequence,
                    given: None,
                };
                let outcome = upload::apply(self, upload, result, clock).await?;
                (outcome, vec![])
            }
        };
        // Remember the names looked for, on top of what the upload pipeline saved.
        state::update(&self.bus, &entry.id, |s| {
            s.dn = entry.dn.clone();
            s.names = Some(names.clone());
        })
        .await
        .map_err(|e| Stop::failed(e.to_string()))?;
        Ok(outcome)
    }
}

/// The entry's attributes as text for the matcher (binary values, such as photos, left out).
fn entry_attributes(entry: &Entry) -> Vec<Attribute> {
    entry
        .values
        .iter()
        .filter_map(|(name, values)| {
            let values: Vec<String> = values
                .iter()
                .filter_map(|v| String::from_utf8(v.clone()).ok())
                .collect();
            (!values.is_empty()).then(|| Attribute {
                name: name.clone(),
                values,
            })
        })
        .collect()
}
