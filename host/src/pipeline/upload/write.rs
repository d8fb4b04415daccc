//! Stage 6, write: the values about to be replaced are backed up (read again after the claim:
//! another worker may have written since the search), then the entry's photo attributes are
//! replaced in one modify. A failed write leaves no backup of a write that never happened.

use std::time::Duration;

use super::claim::Attempt;
use crate::backup::Record;
use crate::directory::Entry;
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::text::md5_hex;
use crate::timestamps::now_micros;

/// Writes `changes` (attribute, bytes) to `entry` for the event `event_id`, under the claim
/// `attempt` holds: not at all when the claim lapses before the write could finish.
pub(crate) async fn write(
    p: &Pipeline,
    event_id: &str,
    entry: &Entry,
    changes: &[(String, Vec<u8>)],
    attempt: &Attempt,
) -> Result<(), Stop> {
    let backed_up = back_up(p, event_id, entry, changes).await?;
    let timeout = Duration::from_secs(p.directory.config().timeout_secs);
    let refused = if attempt.may_write(timeout) {
        p.directory
            .replace(&entry.dn, changes)
            .await
            .err()
            .map(|e| Stop::directory(&e))
    } else {
        Some(Stop::failed(
            "this upload was held up so long that its claim on the entry lapses before the \
             write could finish (another worker may write the entry now); nothing was \
             written, tried again later",
        ))
    };
    let Some(stop) = refused else {
        return Ok(());
    };
    if let Some(backups) = &p.backups {
        for record in &backed_up {
            if let Err(e) = backups.discard(record).await {
                tracing::warn!("Cannot remove the backup of a write that failed: {e}.");
            }
        }
    }
    Err(stop)
}

/// Keeps the values about to be replaced, and the new ones, in the backup bucket.
async fn back_up(
    p: &Pipeline,
    event_id: &str,
    entry: &Entry,
    changes: &[(String, Vec<u8>)],
) -> Result<Vec<Record>, Stop> {
    let Some(backups) = &p.backups else {
        return Ok(vec![]);
    };
    let attributes: Vec<String> = changes.iter().map(|(a, _)| a.clone()).collect();
    let now = p
        .directory
        .read(&entry.dn, &attributes)
        .await
        .map_err(|e| Stop::directory(&e))?;
    let values = now.as_ref().map_or(&entry.values, |e| &e.values);
    let at_micros = now_micros();
    let mut saved = Vec::with_capacity(changes.len());
    for (attribute, after) in changes {
        let before = values
            .get(&attribute.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        let record = Record {
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
            Stop::failed(format!(
                "the photo to be replaced could not be backed up, so nothing was written: {e}"
            ))
        })?;
        saved.push(record);
    }
    Ok(saved)
}
