//! `photosync forget`: one person's data erased from every stream and bucket photosync owns —
//! the events that carried their photos, the results, photo-changed events and dead letters
//! about them, their photos in the photo bucket and the name index, their sync state and their
//! backups — with a line for each thing removed. A person is named by their entry's DN or by a
//! photo's file name; their other identifiers (entry id, file names, event ids) are found in
//! the results and backups that name them.
//!
//! It reads every message of the streams it scans, one request each: minutes for streams of
//! hundreds of thousands of messages.

use std::collections::BTreeSet;

use crate::backup::{Backups, Record};
use crate::bus::Bus;
use crate::config::Config;
use crate::events::{DirectoryChange, PhotoChanged, PhotoResult, PhotoUpload};
use crate::state;

/// Whose data to erase.
#[derive(Debug, Clone)]
pub enum Target {
    /// The entry with this DN.
    Entry(String),
    /// The person a photo file of this name was for.
    Name(String),
}

/// What identifies the person in photosync's messages.
#[derive(Debug, Default)]
struct Person {
    dns: BTreeSet<String>,
    ids: BTreeSet<String>,
    file_names: BTreeSet<String>,
    event_ids: BTreeSet<String>,
}

impl Person {
    /// Whether a message with these fields is about the person.
    fn named(&self, dn: Option<&str>, id: Option<&str>, file: Option<&str>, event: &str) -> bool {
        dn.is_some_and(|d| self.dns.contains(d))
            || id.is_some_and(|i| !i.is_empty() && self.ids.contains(i))
            || file.is_some_and(|f| self.file_names.contains(f))
            || self.event_ids.contains(event)
    }

    /// Whether result `r` is about the person.
    fn names_result(&self, r: &PhotoResult) -> bool {
        self.named(
            r.entry_dn.as_deref(),
            r.entry_id.as_deref(),
            r.file_name.as_deref(),
            &r.event_id,
        )
    }

    /// Adds what a result about the person says about them; whether it added anything.
    fn learn(&mut self, r: &PhotoResult) -> bool {
        let mut added = self.event_ids.insert(r.event_id.clone());
        added |= r.entry_dn.clone().is_some_and(|d| self.dns.insert(d));
        added |= r
            .entry_id
            .clone()
            .filter(|i| !i.is_empty())
            .is_some_and(|i| self.ids.insert(i));
        added |= r
            .file_name
            .clone()
            .is_some_and(|f| self.file_names.insert(f));
        added
    }
}

/// Erases what photosync keeps about `target`; returns one line per thing removed.
pub async fn run(config: &Config, target: &Target) -> anyhow::Result<Vec<String>> {
    let bus = crate::service::connect_bus(config).await?;
    let backups = Backups::open(&bus, config.backup.retention()).await?;
    let mut person = Person::default();
    match target {
        Target::Entry(dn) => person.dns.insert(dn.clone()),
        Target::Name(name) => person.file_names.insert(name.clone()),
    };
    let results = parsed::<PhotoResult>(&bus, &bus.names().results_stream).await?;
    let records = backups.records().await?;
    // A result or backup naming one identifier gives the others; a few rounds reach them all.
    loop {
        let mut added = false;
        for (_, r) in &results {
            let about = person.names_result(r);
            if about {
                added |= person.learn(r);
            }
        }
        for r in &records {
            if person.dns.contains(&r.dn) || person.ids.contains(&r.entry_id) {
                added |= person.dns.insert(r.dn.clone());
                added |= person.ids.insert(r.entry_id.clone());
            }
        }
        if !added {
            break;
        }
    }
    let mut removed = Vec::new();
    erase_messages(&bus, &person, &results, &mut removed).await?;
    erase_stored(&bus, Some(&backups), &records, &person, &mut removed).await?;
    Ok(removed)
}

/// Erases what photosync stores about a deleted entry — its photos in the photo bucket under
/// `file_names` and the name index keys, its sync state and its backups (when `backups` is
/// given) — but not the messages about it, which leave with their streams' retention; returns
/// one line per thing removed.
pub(crate) async fn erase_entry(
    bus: &Bus,
    backups: Option<&Backups>,
    (dn, entry_id): (&str, &str),
    file_names: BTreeSet<String>,
) -> anyhow::Result<Vec<String>> {
    let person = Person {
        dns: BTreeSet::from_iter((!dn.is_empty()).then(|| dn.to_owned())),
        ids: BTreeSet::from([entry_id.to_owned()]),
        file_names,
        event_ids: BTreeSet::new(),
    };
    let records = match backups {
        Some(b) => b.records().await?,
        None => vec![],
    };
    let mut removed = Vec::new();
    erase_stored(bus, backups, &records, &person, &mut removed).await?;
    Ok(removed)
}

/// The messages of `stream` that parse as `T`, with their sequence numbers.
async fn parsed<T: serde::de::DeserializeOwned>(
    bus: &Bus,
    stream: &str,
) -> anyhow::Result<Vec<(u64, T)>> {
    Ok(bus
        .stored(stream)
        .await?
        .into_iter()
        .filter_map(|m| Some((m.sequence, serde_json::from_slice(&m.payload).ok()?)))
        .collect())
}

/// Deletes the person's results, events, photo-changed events and dead letters.
async fn erase_messages(
    bus: &Bus,
    person: &Person,
    results: &[(u64, PhotoResult)],
    removed: &mut Vec<String>,
) -> anyhow::Result<()> {
    let names = bus.names();
    let mut doomed: Vec<(&str, u64, String)> = Vec::new();
    for (seq, r) in results {
        let about = person.names_result(r);
        if about {
            doomed.push((
                &names.results_stream,
                *seq,
                format!("result of event {}", r.event_id),
            ));
        }
    }
    for stream in [&names.events_stream, &names.dead_stream] {
        for m in bus.stored(stream).await? {
            let what = if let Ok(e) = serde_json::from_slice::<PhotoUpload>(&m.payload) {
                person
                    .named(None, None, Some(&e.file_name), &e.id)
                    .then(|| format!("photo-upload event {} ({})", e.id, e.file_name))
            } else if let Ok(c) = serde_json::from_slice::<DirectoryChange>(&m.payload) {
                person
                    .named(Some(&c.dn), Some(&c.entry_id), None, &c.id)
                    .then(|| format!("directory-change event {}", c.id))
            } else {
                None
            };
            if let Some(what) = what {
                doomed.push((stream, m.sequence, what));
            }
        }
    }
    for (seq, c) in parsed::<PhotoChanged>(bus, &names.changes_stream).await? {
        if person.named(Some(&c.dn), Some(&c.entry_id), None, &c.id) {
            doomed.push((
                &names.changes_stream,
                seq,
                format!("photo-changed event {}", c.id),
            ));
        }
    }
    for (stream, seq, what) in doomed {
        let handle = bus.js.get_stream(stream).await?;
        handle
            .delete_message(seq)
            .await
            .map_err(|e| anyhow::anyhow!("cannot delete {what} from {stream}: {e}"))?;
        removed.push(format!("{stream} #{seq}: {what}"));
    }
    Ok(())
}

/// Deletes the person's photos and their index keys, sync state and backups.
async fn erase_stored(
    bus: &Bus,
    backups: Option<&Backups>,
    records: &[Record],
    person: &Person,
    removed: &mut Vec<String>,
) -> anyhow::Result<()> {
    let names = bus.names();
    for name in &person.file_names {
        let indexed = state::find_photo(bus, name.rsplit_once('.').map_or(name, |(s, _)| s))
            .await?
            .filter(|i| i.file_name == *name);
        let mut objects = BTreeSet::from([name.clone()]);
        objects.extend(indexed.map(|i| i.object));
        for object in objects {
            if bus.erase_photo(&object).await? {
                removed.push(format!("{}: photo {object}", names.photos_bucket));
            }
        }
        if bus.erase_state_key(&state::name_key(name)).await? {
            removed.push(format!("{}: name index of {name}", names.state_bucket));
        }
    }
    for id in &person.ids {
        if bus.erase_state_key(&state::key(id)).await? {
            removed.push(format!("{}: sync state of {id}", names.state_bucket));
        }
    }
    let Some(backups) = backups else {
        return Ok(());
    };
    let about = |r: &&Record| person.ids.contains(&r.entry_id) || person.dns.contains(&r.dn);
    for r in records.iter().filter(about) {
        backups.erase(r).await?;
        removed.push(format!(
            "{}: backup of {} {} (event {})",
            names.backups_bucket, r.dn, r.attribute, r.event_id
        ));
    }
    Ok(())
}
