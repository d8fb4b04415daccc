//! Sync state: per directory entry (by its stable id) and attribute, the digests of the source
//! photo and rendition photosync last wrote. Kept in the JetStream KV bucket `photosync-state`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bus::{Bus, BusError};
use crate::plugins::SyncState;

/// What is remembered about one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttributeState {
    pub source_digest: String,
    pub written_digest: String,
    /// The event that last decided this state.
    pub event_id: String,
}

impl AttributeState {
    /// Whether `other` remembers the same source and written photo.
    pub fn same_digests(&self, other: &AttributeState) -> bool {
        self.source_digest == other.source_digest && self.written_digest == other.written_digest
    }
}

/// What is remembered about one entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryState {
    /// The entry's DN when the state was saved (DNs change; the key is the id).
    pub dn: String,
    /// By attribute name as configured.
    pub attributes: BTreeMap<String, AttributeState>,
}

impl EntryState {
    /// The plugin view of one attribute's state.
    pub fn sync_state(&self, attribute: &str) -> Option<SyncState> {
        self.attributes.get(attribute).map(|a| SyncState {
            source_digest: a.source_digest.clone(),
            written_digest: a.written_digest.clone(),
        })
    }
}

/// The KV key for an entry id: KV keys allow letters, digits, `-`, `_`, `=` and `.`.
pub fn key(entry_id: &str) -> String {
    let safe: String = entry_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("entry.{safe}")
}

/// Reads an entry's state; a missing or unreadable one is `None` (treated as never written).
pub async fn load(bus: &Bus, entry_id: &str) -> Result<Option<EntryState>, BusError> {
    let value = bus
        .state()
        .get(key(entry_id))
        .await
        .map_err(|e| BusError(format!("cannot read sync state: {e}")))?;
    Ok(
        value.and_then(|bytes| match serde_json::from_slice(&bytes) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!(
                    entry_id,
                    "Ignoring unreadable sync state ({e}); the entry is treated as never written."
                );
                None
            }
        }),
    )
}

/// Saves an entry's state.
pub async fn save(bus: &Bus, entry_id: &str, state: &EntryState) -> Result<(), BusError> {
    let bytes = serde_json::to_vec(state)
        .map_err(|e| BusError(format!("cannot encode sync state: {e}")))?;
    bus.state()
        .put(key(entry_id), bytes.into())
        .await
        .map(|_| ())
        .map_err(|e| BusError(format!("cannot save sync state: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_kv_safe() {
        assert_eq!(super::key("3f1c-ab/x y"), "entry.3f1c-ab_x_y");
    }
}
