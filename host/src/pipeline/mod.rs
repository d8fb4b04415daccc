//! One photo-upload event from bytes to result: parse, fetch the photo, match, search, dedup,
//! transform, write, save state. Every path ends in a [`PhotoResult`] and a [`Disposition`]
//! that decides ack or redelivery. It does not talk to the consumer or publish; `service` does.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::bus::Bus;
use crate::directory::{Directory, Entry};
use crate::events::{Outcome, PhotoRef, PhotoResult, PhotoUpload};
use crate::plugins::{
    self, Attribute, Deduper, MatchOutcome, Matcher, PhotoInfo, PluginError, Profile, Transformer,
};
use crate::state::{self, AttributeState};

mod directory_change;
mod rendition;
mod source;

pub use directory_change::{md5_hex, photo_changed_event};

pub use source::Digests;
use source::Source;

/// What to do with the message after its result is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done for good (written, unchanged, or a verdict retrying cannot change).
    Ack,
    /// Failed for a reason that may pass: deliver again later.
    Retry,
    /// The directory cannot be reached: hold the event and try it again once it can, without
    /// spending a delivery.
    Wait,
}

/// The stop for a directory error: unreachable directories are waited for, refusals an admin
/// can fix are retried, the rest are final.
fn directory_failed(e: &crate::directory::DirectoryError) -> Stop {
    use crate::directory::DirectoryError;
    let disposition = match e {
        DirectoryError::Unavailable { .. } => Disposition::Wait,
        e if e.is_transient() => Disposition::Retry,
        _ => Disposition::Ack,
    };
    Stop(Outcome::Failed, e.to_string(), disposition)
}

/// The plugins, the directory and the bus, shared by all in-flight events.
#[derive(Debug)]
pub struct Pipeline {
    pub matcher: Matcher,
    pub transformer: Transformer,
    pub deduper: Deduper,
    pub directory: Directory,
    pub bus: Bus,
    pub profiles: Vec<Profile>,
    /// Source digests of bucket photos seen before, by content.
    pub digests: Digests,
    /// Where entries are searched, for reasons.
    pub base_dn: String,
    /// The attribute holding entries' stable ids, for reasons.
    pub id_attribute: String,
    /// Where replaced photos are kept before each write; `None` when backups are off.
    pub backups: Option<crate::backup::Backups>,
    /// Decide everything, change nothing: no write, no state, no kept photo (the outcome says
    /// what a real run would do).
    pub dry_run: bool,
}

/// An event that ended early, with its outcome and reason.
struct Stop(Outcome, String, Disposition);

fn reject(reason: String) -> Stop {
    Stop(Outcome::Rejected, reason, Disposition::Ack)
}

fn failed(reason: String) -> Stop {
    Stop(Outcome::Failed, reason, Disposition::Retry)
}

fn superseded(newer: u64) -> Stop {
    Stop(
        Outcome::Superseded,
        format!(
            "a later upload (event sequence {newer}) already decided this entry's photo; this older one writes nothing"
        ),
        Disposition::Ack,
    )
}

const SAME_AS_LATER: &str =
    "a later upload of the same photo already decided this entry's photo; nothing to write";
const SAME_WRITTEN_MEANWHILE: &str =
    "another upload of the same photo wrote the same bytes meanwhile; nothing to write";

/// How long an entry's writer may hold it before others may go ahead (it died).
const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long an event waits in-process for another worker's claim before retrying later.
const CLAIM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn plugin_failed(e: PluginError) -> Stop {
    failed(e.to_string())
}

/// Per-event timing, in milliseconds per stage.
struct Clock(Instant, BTreeMap<String, f64>);

impl Clock {
    fn lap(&mut self, stage: &str, since: Instant) {
        *self.1.entry(stage.to_owned()).or_default() += since.elapsed().as_secs_f64() * 1e3;
    }
}

impl Pipeline {
    /// Handles one event payload on its `delivery`-th delivery.
    /// `sequence` is the event's stream sequence: the upload order, newest highest.
    pub async fn handle(
        &self,
        payload: &[u8],
        delivery: u64,
        sequence: u64,
    ) -> (PhotoResult, Disposition) {
        let mut clock = Clock(Instant::now(), BTreeMap::new());
        let event = parse(payload);
        let event_id = match &event {
            Ok(event) => plugins::clip(&event.id, 200),
            Err(_) => event_id_of(payload),
        };
        let mut result = PhotoResult::new(event_id, delivery);
        let outcome = match event {
            Ok(event) => self.run(event, sequence, &mut result, &mut clock).await,
            Err(stop) => Err(stop),
        };
        let disposition = settle(&mut result, outcome);
        finish_clock(&mut result, clock);
        (result, disposition)
    }

    async fn run(
        &self,
        event: PhotoUpload,
        sequence: u64,
        result: &mut PhotoResult,
        clock: &mut Clock,
    ) -> Result<Outcome, Stop> {
        result.file_name = Some(event.file_name.clone());
        let t = Instant::now();
        let mut source = self.source(&event).await?;
        clock.lap("source", t);
        result.source_digest = Some(source.digest.clone());
        let entry = match self.find_entry(&event, clock).await {
            Ok(entry) => entry,
            Err(stop) => {
                if matches!(stop.0, Outcome::NoMatch | Outcome::Ambiguous) && !self.dry_run {
                    self.keep_photo(&event, sequence, &mut source).await?;
                }
                return Err(stop);
            }
        };
        result.entry_dn = Some(entry.dn.clone());
        if entry.id.is_empty() {
            return Err(failed(format!(
                "the entry {} has no {} to key its sync state by; set ldap.id-attribute to entryUUID (OpenLDAP) \
                 or objectGUID (Active Directory)",
                entry.dn, self.id_attribute
            )));
        }
        result.entry_id = Some(entry.id.clone());
        let previous = state::load(&self.bus, &entry.id)
            .await
            .map_err(|e| failed(e.to_string()))?
            .unwrap_or_default();
        if previous.sequence > sequence {
            // The same photo as the later upload applied: nothing to supersede.
            if previous.holds_source(&source.digest, &self.attribute_names()) {
                result.reason = Some(SAME_AS_LATER.into());
                return Ok(Outcome::Unchanged);
            }
            return Err(superseded(previous.sequence));
        }
        // What each rendition decided to remember, by attribute, and whether it was written.
        let mut decided: Vec<(String, AttributeState, bool)> = Vec::new();
        let mut changes = Vec::new();
        let input = rendition::Input {
            event_id: &event.id,
            entry: &entry,
        };
        for profile in &self.profiles {
            let done = self
                .rendition(
                    &input,
                    &mut source,
                    previous.sync_state(&profile.attribute),
                    profile,
                    clock,
                )
                .await?;
            let wrote = done.write.is_some();
            if let Some(state) = done.state {
                // The same digests decided again are not news: the state keeps the event that
                // first decided them, and an unchanged photo costs no state write.
                let before = previous.attributes.get(&profile.attribute);
                if wrote || !before.is_some_and(|p| p.same_digests(&state)) {
                    decided.push((profile.attribute.clone(), state, wrote));
                }
            }
            changes.extend(done.write.map(|bytes| (profile.attribute.clone(), bytes)));
            result.attributes.push(done.result);
        }
        if self.dry_run {
            return Ok(if changes.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Written
            });
        }
        if !changes.is_empty() {
            if let Err(stop) = self.claim(&entry.id, sequence, &decided, &previous).await {
                if stop.0 == Outcome::Unchanged {
                    for a in result.attributes.iter_mut().filter(|a| a.written) {
                        a.written = false;
                        a.reason = format!("unchanged: {}", stop.1);
                    }
                }
                return Err(stop);
            }
            let backed_up = self.back_up(&event.id, &entry, &changes).await?;
            let t = Instant::now();
            if let Err(e) = self.directory.replace(&entry.dn, &changes).await {
                // Nothing was replaced: the backup would describe a write that never happened.
                if let Some(backups) = &self.backups {
                    for record in &backed_up {
                        if let Err(e) = backups.discard(record).await {
                            tracing::warn!("Cannot remove the backup of a write that failed: {e}.");
                        }
                    }
                }
                for a in result.attributes.iter_mut().filter(|a| a.written) {
                    a.written = false;
                    a.reason = format!("not written: {e}");
                }
                return Err(directory_failed(&e));
            }
            clock.lap("write", t);
        }
        if !decided.is_empty() || previous.dn != entry.dn {
            state::update(&self.bus, &entry.id, |s| {
                s.dn = entry.dn.clone();
                if s.claim.as_ref().is_some_and(|c| c.sequence == sequence) {
                    s.claim = None;
                }
                for (attribute, state, wrote) in &decided {
                    let mut state = state.clone();
                    let before = s.attributes.get(attribute);
                    state.directory_digest = if *wrote {
                        Some(state.written_digest.clone())
                    } else {
                        before.and_then(|p| p.directory_digest.clone())
                    };
                    state.pending_digest = None;
                    s.attributes.insert(attribute.clone(), state);
                }
            })
            .await
            .map_err(|e| failed(e.to_string()))?;
        }
        if changes.is_empty() {
            Ok(Outcome::Unchanged)
        } else {
            self.keep_photo(&event, sequence, &mut source).await?;
            Ok(Outcome::Written)
        }
    }

    /// Claims the entry for writing the upload `sequence`: no other worker writes it until the
    /// claim is released or lapses, and an upload older than one already applied is
    /// superseded. The digests about to be written are saved as pending, so that the watcher
    /// recognises the directory change as photosync's own even before the final state is saved.
    async fn claim(
        &self,
        entry_id: &str,
        sequence: u64,
        decided: &[(String, AttributeState, bool)],
        loaded: &state::EntryState,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + CLAIM_PATIENCE;
        let source = decided.first().map(|d| d.1.source_digest.as_str());
        let attributes = self.attribute_names();
        loop {
            let now = unix_now();
            let mut verdict = Ok(());
            state::update(&self.bus, entry_id, |s| {
                verdict = Ok(());
                // Another upload of the same photo wrote these bytes since this one looked.
                let written_meanwhile =
                    decided.iter().filter(|d| d.2).all(|(attribute, state, _)| {
                        let was = loaded.attributes.get(attribute).map(|a| &a.written_digest);
                        s.attributes.get(attribute).is_some_and(|a| {
                            was != Some(&state.written_digest)
                                && a.written_digest == state.written_digest
                                && a.directory_digest.as_deref()
                                    == Some(state.written_digest.as_str())
                        })
                    });
                if written_meanwhile && s.claim.is_none() {
                    verdict = Err(Stop(
                        Outcome::Unchanged,
                        SAME_WRITTEN_MEANWHILE.into(),
                        Disposition::Ack,
                    ));
                    return;
                }
                if s.sequence > sequence {
                    verdict = Err(match source {
                        Some(d) if s.holds_source(d, &attributes) => {
                            Stop(Outcome::Unchanged, SAME_AS_LATER.into(), Disposition::Ack)
                        }
                        _ => superseded(s.sequence),
                    });
                    return;
                }
                if let Some(c) = &s.claim
                    && c.sequence != sequence
                    && c.until > now
                {
                    verdict = Err(failed(format!(
                        "another worker is writing this entry's photo (upload {}); tried again later",
                        c.sequence
                    )));
                    return;
                }
                s.sequence = sequence;
                s.claim = Some(state::Claim {
                    sequence,
                    until: now + CLAIM_LEASE.as_secs(),
                    source: source.map(str::to_owned),
                });
                for (attribute, state, wrote) in decided {
                    if *wrote {
                        s.attributes
                            .entry(attribute.clone())
                            .or_insert_with(|| AttributeState::unknown(&state.event_id))
                            .pending_digest = Some(state.written_digest.clone());
                    }
                }
            })
            .await
            .map_err(|e| failed(e.to_string()))?;
            match verdict {
                Err(Stop(Outcome::Failed, _, _)) if Instant::now() < deadline => {
                    // Another worker is writing this entry: its write takes milliseconds.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }

    /// The photo attributes written, by name.
    fn attribute_names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.attribute.as_str()).collect()
    }

    /// Keeps the values about to be replaced, and the new ones, in the backup bucket. The values
    /// are read again now, after the claim: another worker may have written since the search.
    async fn back_up(
        &self,
        event_id: &str,
        entry: &Entry,
        changes: &[(String, Vec<u8>)],
    ) -> Result<Vec<crate::backup::Record>, Stop> {
        let Some(backups) = &self.backups else {
            return Ok(vec![]);
        };
        let attributes: Vec<String> = changes.iter().map(|(a, _)| a.clone()).collect();
        let now = self
            .directory
            .read(&entry.dn, &attributes)
            .await
            .map_err(|e| directory_failed(&e))?;
        let values = now.as_ref().map_or(&entry.values, |e| &e.values);
        let at_micros = crate::backup::now_micros();
        let mut saved = Vec::with_capacity(changes.len());
        for (attribute, after) in changes {
            let before = values
                .get(&attribute.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default();
            let record = crate::backup::Record {
                entry_id: entry.id.clone(),
                dn: entry.dn.clone(),
                attribute: attribute.clone(),
                at_micros,
                event_id: event_id.to_owned(),
                values_before: before.len(),
                md5_before: before.iter().map(|v| md5_hex(v)).collect(),
                md5_after: md5_hex(after),
            };
            backups.save(&record, &before, after).await.map_err(|e| {
                failed(format!(
                    "the photo to be replaced could not be backed up, so nothing was written: {e}"
                ))
            })?;
            saved.push(record);
        }
        Ok(saved)
    }

    /// Keeps the photo findable by name for later (a person who does not exist yet, a changed
    /// employee id, a resync): an inline photo is stored in the photo bucket under its file name,
    /// and the name is indexed to its object.
    async fn keep_photo(
        &self,
        event: &PhotoUpload,
        sequence: u64,
        source: &mut Source,
    ) -> Result<(), Stop> {
        let object = match &event.photo {
            PhotoRef::Inline(_) => {
                let photo = source.bytes(self).await?;
                self.bus
                    .put_photo(&event.file_name, photo)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                &event.file_name
            }
            PhotoRef::Object(name) => name,
        };
        state::index_photo(&self.bus, &event.file_name, object, sequence)
            .await
            .map_err(|e| failed(e.to_string()))
    }

    /// Match, then search: exactly one entry or a `no-match` / `ambiguous` stop.
    async fn find_entry(&self, event: &PhotoUpload, clock: &mut Clock) -> Result<Entry, Stop> {
        let t = Instant::now();
        let info = PhotoInfo {
            file_name: event.file_name.clone(),
            source: event.source.clone(),
            content_type: event.content_type.clone(),
            attributes: event
                .attributes
                .iter()
                .map(|(name, value)| Attribute {
                    name: name.clone(),
                    values: vec![value.clone()],
                })
                .collect(),
        };
        let criteria = match self.matcher.match_photo(&info).map_err(plugin_failed)? {
            MatchOutcome::Criteria(c) => c,
            MatchOutcome::NoCriteria(reason) => {
                return Err(Stop(
                    Outcome::NoMatch,
                    format!("the matcher found no criteria: {reason}"),
                    Disposition::Ack,
                ));
            }
        };
        clock.lap("match", t);
        let t = Instant::now();
        let attributes: Vec<String> = self.profiles.iter().map(|p| p.attribute.clone()).collect();
        let found = self
            .directory
            .find(&criteria, &attributes)
            .await
            .map_err(|e| directory_failed(&e))?;
        clock.lap("search", t);
        let wanted: Vec<String> = criteria
            .iter()
            .map(|c| format!("{}={}", c.attribute, plugins::clip(&c.value, 80)))
            .collect();
        match found.total {
            0 => Err(Stop(
                Outcome::NoMatch,
                format!("no entry has {} under {}", wanted.join(", "), self.base_dn),
                Disposition::Ack,
            )),
            1 => found
                .entries
                .into_iter()
                .next()
                .ok_or_else(|| failed("the search lost its entry".into())),
            n => {
                let dns: Vec<&str> = found.entries.iter().map(|e| e.dn.as_str()).collect();
                let more = if n > dns.len() {
                    format!(" and {} more", n - dns.len())
                } else {
                    String::new()
                };
                Err(Stop(
                    Outcome::Ambiguous,
                    format!(
                        "{n} entries match {}: {}{more}; none was changed",
                        wanted.join(", "),
                        dns.join("; ")
                    ),
                    Disposition::Ack,
                ))
            }
        }
    }
}

/// Puts how an event ended into its result; says whether to ack.
fn settle(result: &mut PhotoResult, outcome: Result<Outcome, Stop>) -> Disposition {
    match outcome {
        Ok(outcome) => {
            result.outcome = outcome;
            Disposition::Ack
        }
        Err(Stop(outcome, reason, disposition)) => {
            result.outcome = outcome;
            result.reason = Some(reason);
            disposition
        }
    }
}

fn finish_clock(result: &mut PhotoResult, mut clock: Clock) {
    clock
        .1
        .insert("total".into(), clock.0.elapsed().as_secs_f64() * 1e3);
    result.timings_ms = clock.1;
}

/// The event id from a payload, even a broken one, so its result can be correlated.
fn event_id_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("id")
                .and_then(|id| id.as_str())
                .map(|s| plugins::clip(s, 200))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Parses and checks an event.
fn parse(payload: &[u8]) -> Result<PhotoUpload, Stop> {
    let event: PhotoUpload = serde_json::from_slice(payload).map_err(|e| {
        reject(format!(
            "the event is not a valid photo-upload event ({e}); see docs/events.md"
        ))
    })?;
    if event.id.trim().is_empty() {
        return Err(reject("the event has an empty id".into()));
    }
    let name = &event.file_name;
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0')
        || name == "."
        || name == ".."
    {
        return Err(reject(format!(
            "the file name {:?} is not a plain file name (1-255 bytes, no '/', no NUL)",
            plugins::clip(name, 80)
        )));
    }
    if let Some(digest) = &event.photo_digest {
        if !matches!(event.photo, PhotoRef::Object(_)) {
            return Err(reject(
                "the event has a photo_digest but an inline photo; photo_digest belongs to photos in the bucket".into(),
            ));
        }
        let hash = digest.strip_prefix("SHA-256=").unwrap_or("");
        if hash.len() != 44
            || !hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        {
            return Err(reject(format!(
                "the photo_digest {:?} is not SHA-256= followed by the URL-safe base64 of a SHA-256 hash",
                plugins::clip(digest, 80)
            )));
        }
    }
    Ok(event)
}
