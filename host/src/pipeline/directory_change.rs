//! One directory-change event: a deleted entry's state is forgotten; for an added or changed
//! entry, a photo changed by someone else becomes a `photosync.photo.changed` event (only when
//! its digest changed, never for photosync's own writes), and a photo waiting in the bucket for
//! the entry's photo names goes through the upload pipeline.

use std::collections::BTreeMap;
use std::time::Instant;

use base64::Engine as _;

use super::{Clock, Disposition, Pipeline, Stop, failed, plugin_failed, reject};
use crate::directory::Entry;
use crate::events::{
    ChangeCause, ChangeKind, DirectoryChange, INLINE_MAX, Outcome, PhotoChanged, PhotoRef,
    PhotoResult, PhotoUpload,
};
use crate::plugins::{self, Attribute};
use crate::publish::now_rfc3339;
use crate::state::{self, AttributeState, EntryState};

/// MD5 of `bytes` as lowercase hex, the digest photo-changed events promise.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse(payload: &[u8]) -> Result<DirectoryChange, Stop> {
    let change: DirectoryChange = serde_json::from_slice(payload).map_err(|e| {
        reject(format!(
            "the event is not a valid directory-change event ({e}); see docs/events.md"
        ))
    })?;
    if change.id.trim().is_empty() || change.entry_id.trim().is_empty() {
        return Err(reject("the event has an empty id or entry_id".into()));
    }
    if change.change != ChangeKind::Delete && change.dn.trim().is_empty() {
        return Err(reject(format!(
            "the {} event has no dn",
            change.change.as_str()
        )));
    }
    Ok(change)
}

impl Pipeline {
    /// Handles one directory-change payload on its `delivery`-th delivery.
    pub async fn handle_directory_change(
        &self,
        payload: &[u8],
        delivery: u64,
    ) -> (PhotoResult, Disposition) {
        let mut clock = Clock(Instant::now(), BTreeMap::new());
        let change = parse(payload);
        let event_id = match &change {
            Ok(change) => plugins::clip(&change.id, 200),
            Err(_) => super::event_id_of(payload),
        };
        let mut result = PhotoResult::new(event_id, delivery);
        let outcome = match change {
            Ok(change) => self.run_change(&change, &mut result, &mut clock).await,
            Err(stop) => Err(stop),
        };
        let disposition = super::settle(&mut result, outcome);
        super::finish_clock(&mut result, clock);
        (result, disposition)
    }

    async fn run_change(
        &self,
        change: &DirectoryChange,
        result: &mut PhotoResult,
        clock: &mut Clock,
    ) -> Result<Outcome, Stop> {
        result.entry_id = Some(change.entry_id.clone());
        result.entry_dn = (!change.dn.is_empty()).then(|| change.dn.clone());
        if change.change == ChangeKind::Delete {
            state::remove(&self.bus, &change.entry_id)
                .await
                .map_err(|e| failed(e.to_string()))?;
            result.reason = Some(
                "the entry was deleted: its sync state is forgotten; its photos stay in the bucket"
                    .into(),
            );
            return Ok(Outcome::Unchanged);
        }
        let resync = change.change == ChangeKind::Resync;
        if resync {
            // Forget what photosync decided and saw; keep the upload order and any claim, so an
            // upload in flight is neither undone nor overtaken by an older stored photo.
            state::update(&self.bus, &change.entry_id, |s| {
                s.attributes.clear();
                s.names = None;
            })
            .await
            .map_err(|e| failed(e.to_string()))?;
        }
        let t = Instant::now();
        let mut wanted = vec!["*".to_owned()];
        wanted.extend(self.profiles.iter().map(|p| p.attribute.clone()));
        let entry = self
            .directory
            .read(&change.dn, &wanted)
            .await
            .map_err(|e| super::directory_failed(&e))?;
        clock.lap("search", t);
        let Some(entry) = entry else {
            result.reason = Some(format!(
                "the entry {} no longer exists or is out of scope; nothing to do",
                change.dn
            ));
            return Ok(Outcome::Unchanged);
        };
        if entry.id != change.entry_id {
            result.reason = Some(format!(
                "the entry at {} is now {}, not {} (renamed or replaced since); nothing to do",
                entry.dn, entry.id, change.entry_id
            ));
            return Ok(Outcome::Unchanged);
        }
        result.entry_dn = Some(entry.dn.clone());
        // The state is read after the entry: if the entry already shows a photo photosync is
        // writing, the state read now has it at least as pending.
        let previous = state::load(&self.bus, &entry.id)
            .await
            .map_err(|e| failed(e.to_string()))?
            .unwrap_or_default();
        let mut notes = Vec::new();
        let mut seen = Vec::new();
        for profile in &self.profiles {
            let attribute = &profile.attribute;
            if resync {
                // A resync takes the photos as they are (nobody knows who set them): noted,
                // not published.
                let digest = entry
                    .values
                    .get(&attribute.to_ascii_lowercase())
                    .and_then(|v| v.first())
                    .map(|v| self.deduper.digest(v))
                    .transpose()
                    .map_err(plugin_failed)?;
                seen.push((attribute.clone(), digest));
                continue;
            }
            let (digest, note) = self
                .photo_seen(change, &entry, attribute, &previous)
                .await?;
            notes.extend(note);
            if let Some(digest) = digest {
                seen.push((attribute.clone(), digest));
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
        .map_err(|e| failed(e.to_string()))?;
        let outcome = self
            .waiting_photo(change, &entry, &next, result, clock)
            .await;
        let (outcome, mut reason) = match outcome {
            Ok(done) => done,
            Err(stop) => return Err(stop),
        };
        notes.append(&mut reason);
        if !notes.is_empty() {
            let mut all = result.reason.take().map(|r| vec![r]).unwrap_or_default();
            all.extend(notes);
            result.reason = Some(all.join("; "));
        }
        Ok(outcome)
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
            .map(|v| self.deduper.digest(v))
            .transpose()
            .map_err(plugin_failed)?;
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
                crate::events::PHOTO_CHANGED
            ),
            None => format!(
                "{attribute} was removed in the directory by someone else; published on {}",
                crate::events::PHOTO_CHANGED
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
        .map_err(|e| failed(e.to_string()))?;
        self.bus
            .publish_photo_changed(&event)
            .await
            .map_err(|e| failed(e.to_string()))?;
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
            .map_err(plugin_failed)?;
        clock.lap("match", t);
        if current.names.as_ref() == Some(&names) {
            return Ok((Outcome::Unchanged, vec![]));
        }
        // Of the photos kept under the entry's names, the one uploaded last.
        let mut stored: Option<state::StoredName> = None;
        for name in &names {
            if let Some(found) = state::find_photo(&self.bus, name)
                .await
                .map_err(|e| failed(e.to_string()))?
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
                let outcome = self.run(upload, found.sequence, result, clock).await?;
                (outcome, vec![])
            }
        };
        // Remember the names looked for, on top of what the upload pipeline saved.
        state::update(&self.bus, &entry.id, |s| {
            s.dn = entry.dn.clone();
            s.names = Some(names.clone());
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
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

/// A photo-changed event for one attribute of an entry; a photo too large to travel inline is
/// put in the photo bucket.
pub async fn photo_changed_event(
    bus: &crate::bus::Bus,
    id: String,
    entry: &Entry,
    attribute: &str,
    value: Option<&Vec<u8>>,
    cause: ChangeCause,
) -> Result<PhotoChanged, crate::bus::BusError> {
    let photo = match value {
        None => None,
        Some(bytes) if bytes.len() <= INLINE_MAX => Some(PhotoRef::Inline(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
        Some(bytes) => {
            let name = format!("directory/{}/{attribute}.jpg", entry.id);
            bus.put_photo(&name, bytes).await?;
            Some(PhotoRef::Object(name))
        }
    };
    Ok(PhotoChanged {
        id,
        entry_id: entry.id.clone(),
        dn: entry.dn.clone(),
        attribute: attribute.to_owned(),
        md5: value.map(|v| md5_hex(v)),
        bytes: value.map_or(0, Vec::len),
        photo,
        cause,
        changed_at: now_rfc3339(),
    })
}
