//! `photosync rollback`: puts back the photos photosync replaced, from the backup bucket. For one
//! entry, the value before its last write; with `--since`, for every entry written since then,
//! the value before its first write in that time. The rollback's own write is backed up too (so
//! it can be undone), and the sync state records the restored value as photosync's own, so the
//! same source photo sent again does not undo the rollback (a changed one is written).

use std::collections::BTreeMap;

use crate::backup::{Backups, Record};
use crate::config::Config;
use crate::state;
use crate::text::md5_hex;

/// Which writes to undo.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The last write of each photo attribute of the entry at this DN.
    Entry(String),
    /// Every write since this time (seconds since 1970).
    Since(u64),
}

/// One attribute put back.
#[derive(Debug, Clone)]
pub struct Restored {
    pub record: Record,
    /// False when the directory already held the old value (or with a dry run).
    pub written: bool,
    /// True when it could not be restored (the note says why).
    pub failed: bool,
    pub note: String,
}

/// Restores what `scope` selects; with `dry_run`, only says what it would restore.
pub async fn run(config: &Config, scope: &Scope, dry_run: bool) -> anyhow::Result<Vec<Restored>> {
    // The deduper alone: the sync state holds its digests.
    let (bus, directory) = crate::service::connect_servers(config).await?;
    let deduper = crate::service::deduper(config, &bus).await?;
    let handles = Handles {
        bus: &bus,
        directory: &directory,
        deduper: &deduper,
    };
    let backups = Backups::open(&bus, config.backup.retention()).await?;
    let records = backups.records().await?;
    let chosen: Vec<Record> = match scope {
        Scope::Entry(dn) => {
            let entry = directory.read(dn, &[]).await?.ok_or_else(|| {
                anyhow::anyhow!("there is no entry {dn} under {}", config.ldap.base_dn)
            })?;
            // The newest record per attribute.
            let mut last = BTreeMap::new();
            for r in records.into_iter().filter(|r| r.entry_id == entry.id) {
                last.insert(r.attribute.clone(), r);
            }
            if last.is_empty() {
                anyhow::bail!("photosync has no backup of a photo it replaced on {dn}");
            }
            last.into_values().collect()
        }
        Scope::Since(secs) => {
            let from = secs.saturating_mul(1_000_000);
            // The oldest record since then per entry and attribute.
            let mut first = BTreeMap::new();
            for r in records.into_iter().filter(|r| r.at_micros >= from) {
                first
                    .entry((r.entry_id.clone(), r.attribute.clone()))
                    .or_insert(r);
            }
            first.into_values().collect()
        }
    };
    let mut restored = Vec::with_capacity(chosen.len());
    for record in chosen {
        // One entry that cannot be restored does not stop the others.
        let done = restore(&handles, &backups, &record, dry_run)
            .await
            .unwrap_or_else(|e| Restored {
                record: record.clone(),
                written: false,
                failed: true,
                note: format!("not restored: {e:#}"),
            });
        restored.push(done);
    }
    Ok(restored)
}

/// What restoring needs: the bus, the directory and the deduper.
struct Handles<'a> {
    bus: &'a crate::bus::Bus,
    directory: &'a crate::directory::Directory,
    deduper: &'a crate::plugins::Deduper,
}

async fn restore(
    handles: &Handles<'_>,
    backups: &Backups,
    record: &Record,
    dry_run: bool,
) -> anyhow::Result<Restored> {
    let Handles {
        bus,
        directory,
        deduper,
    } = *handles;
    let before = backups.before(record).await?;
    let attribute = &record.attribute;
    let current = directory
        .read(&record.dn, std::slice::from_ref(attribute))
        .await?
        .filter(|e| e.id == record.entry_id)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} ({}) is no longer in scope; not restored",
                record.dn,
                record.entry_id
            )
        })?;
    let now: Vec<Vec<u8>> = current
        .values
        .get(&attribute.to_ascii_lowercase())
        .cloned()
        .unwrap_or_default();
    let describe = |values: &[Vec<u8>]| match values.first() {
        Some(v) => format!("md5 {}, {} bytes", md5_hex(v), v.len()),
        None => "no photo".into(),
    };
    if now == before {
        return Ok(Restored {
            record: record.clone(),
            written: false,
            failed: false,
            note: format!("already holds the value before ({})", describe(&before)),
        });
    }
    if dry_run {
        return Ok(Restored {
            record: record.clone(),
            written: false,
            failed: false,
            note: format!(
                "would restore {} (now {})",
                describe(&before),
                describe(&now)
            ),
        });
    }
    let restored_md5 = before.first().map(|v| md5_hex(v)).unwrap_or_default();
    // The sync state holds the deduper's digests.
    let restored_digest = match before.first() {
        Some(v) => deduper.digest(v)?,
        None => String::new(),
    };
    let own = crate::backup::Record {
        entry_id: record.entry_id.clone(),
        dn: current.dn.clone(),
        attribute: attribute.clone(),
        at_micros: crate::timestamps::now_micros(),
        event_id: format!("rollback/{}", record.event_id),
        values_before: now.len(),
        md5_before: now.iter().map(|v| md5_hex(v)).collect(),
        md5_after: restored_md5.clone(),
    };
    backups
        .save(&own, &now, before.first().map_or(&[][..], Vec::as_slice))
        .await?;
    let mark = |pending: bool| {
        let attribute = attribute.clone();
        let md5 = restored_digest.clone();
        let id = own.event_id.clone();
        move |s: &mut state::EntryState| {
            let a = s
                .attributes
                .entry(attribute.clone())
                .or_insert_with(|| state::AttributeState::unknown(&id));
            if pending {
                a.pending_digest = Some(md5.clone());
            } else {
                a.written_digest = md5.clone();
                a.directory_digest = (!md5.is_empty()).then(|| md5.clone());
                a.pending_digest = None;
                a.event_id = id.clone();
            }
        }
    };
    state::update(bus, &record.entry_id, mark(true)).await?;
    directory
        .replace_values(&current.dn, &[(attribute.clone(), before.clone())])
        .await?;
    state::update(bus, &record.entry_id, mark(false)).await?;
    Ok(Restored {
        record: record.clone(),
        written: true,
        failed: false,
        note: format!("restored {} (was {})", describe(&before), describe(&now)),
    })
}
