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
    /// Digest of the attribute's value last seen in the directory (written by photosync or
    /// changed by someone else); absent when never seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_digest: Option<String>,
    /// Digest of a value photosync is writing right now: saved before the modify so that the
    /// directory change it causes is recognised as photosync's own, even before the final
    /// state is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_digest: Option<String>,
}

impl AttributeState {
    /// An attribute photosync has not decided anything about yet.
    pub fn unknown(event_id: &str) -> Self {
        Self {
            source_digest: String::new(),
            written_digest: String::new(),
            event_id: event_id.to_owned(),
            directory_digest: None,
            pending_digest: None,
        }
    }

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
    /// The photo names the matcher gave for the entry when its waiting photos were last looked
    /// for; a directory change that leaves them alone does not look again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// The stream sequence of the newest upload that wrote (or is writing) this entry's photo:
    /// an older upload delivered later is superseded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sequence: u64,
    /// A worker writing this entry right now, so that two never write it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// The file names of the last photos written to the entry, newest last: what to erase
    /// from the photo bucket and its name index when the entry is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_names: Vec<String>,
}

/// How many file names an entry's state remembers.
const FILE_NAMES_KEPT: usize = 8;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Who is writing an entry, until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claim {
    /// The stream sequence of the upload being written.
    pub sequence: u64,
    /// Unix seconds after which the claim lapses (its worker died).
    pub until: u64,
    /// The source digest of the photo being written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The worker process that holds the claim (a random id each process start): another
    /// delivery of the same upload may take the claim over only in that process, and only when
    /// no attempt there is still writing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

impl EntryState {
    /// Whether the newest upload applied (or being applied) to the entry is the photo with
    /// `source_digest`, for all of `attributes`.
    pub fn holds_source(&self, source_digest: &str, attributes: &[&str]) -> bool {
        let claimed = self.claim.as_ref().is_some_and(|c| {
            c.sequence == self.sequence && c.source.as_deref() == Some(source_digest)
        });
        claimed
            || attributes.iter().all(|a| {
                self.attributes
                    .get(*a)
                    .is_some_and(|s| s.source_digest == source_digest)
            })
    }

    /// Remembers that a photo uploaded as `file_name` was written to the entry.
    pub fn wrote_file(&mut self, file_name: &str) {
        self.file_names.retain(|f| f != file_name);
        self.file_names.push(file_name.to_owned());
        let extra = self.file_names.len().saturating_sub(FILE_NAMES_KEPT);
        self.file_names.drain(..extra);
    }

    /// The plugin view of one attribute's state.
    pub fn sync_state(&self, attribute: &str) -> Option<SyncState> {
        // An attribute only seen in the directory (never written) has no sync state to decide by.
        self.attributes
            .get(attribute)
            .filter(|a| !a.source_digest.is_empty() || !a.written_digest.is_empty())
            .map(|a| SyncState {
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

/// Applies `change` to the entry's latest state and saves the result with compare-and-set on
/// the KV revision, starting again from the newer state when another worker (or the
/// directory-change handler) saved in between. Returns the state as saved; nothing is written
/// when `change` changes nothing.
pub async fn update(
    bus: &Bus,
    entry_id: &str,
    mut change: impl FnMut(&mut EntryState),
) -> Result<EntryState, BusError> {
    use async_nats::jetstream::kv::{Operation, UpdateErrorKind};
    let key = key(entry_id);
    for _ in 0..32 {
        let entry = bus
            .state()
            .entry(key.clone())
            .await
            .map_err(|e| BusError(format!("cannot read sync state: {e}")))?;
        let (current, revision) = match entry {
            None => (None, 0),
            Some(e) if e.operation != Operation::Put => (None, e.revision),
            Some(e) => (
                serde_json::from_slice::<EntryState>(&e.value).ok(),
                e.revision,
            ),
        };
        let mut next = current.clone().unwrap_or_default();
        change(&mut next);
        let same = match &current {
            Some(current) => *current == next,
            None => next == EntryState::default(),
        };
        if same {
            return Ok(next);
        }
        let bytes = serde_json::to_vec(&next)
            .map_err(|e| BusError(format!("cannot encode sync state: {e}")))?;
        match bus.state().update(&key, bytes.into(), revision).await {
            Ok(_) => return Ok(next),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
            Err(e) => return Err(BusError(format!("cannot save sync state: {e}"))),
        }
    }
    Err(BusError(format!(
        "the sync state of {entry_id} kept changing while it was being saved; it will be tried again"
    )))
}

/// Forgets an entry's state (the entry was deleted).
pub async fn remove(bus: &Bus, entry_id: &str) -> Result<(), BusError> {
    bus.state()
        .purge(key(entry_id))
        .await
        .map_err(|e| BusError(format!("cannot remove sync state: {e}")))
}

/// Where the photo for a name is: the object in the photo bucket and the file name it came as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredName {
    pub object: String,
    pub file_name: String,
    /// The stream sequence of the upload event that brought it.
    #[serde(default)]
    pub sequence: u64,
}

/// The KV key indexing photos by name: the file name without its extension, lowercased (as the
/// matcher's photo names are compared), in URL-safe base64 so that any name makes a valid key.
pub fn name_key(file_name: &str) -> String {
    use base64::Engine as _;
    let stem = match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file_name,
    };
    format!(
        "photo-name.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(stem.to_lowercase())
    )
}

/// Records that the photo uploaded as `file_name` is in the bucket as `object`.
pub async fn index_photo(
    bus: &Bus,
    file_name: &str,
    object: &str,
    sequence: u64,
) -> Result<(), BusError> {
    let value = StoredName {
        object: object.to_owned(),
        file_name: file_name.to_owned(),
        sequence,
    };
    let key = name_key(file_name);
    let bytes = serde_json::to_vec(&value)
        .map_err(|e| BusError(format!("cannot encode the photo index: {e}")))?;
    if let Ok(Some(existing)) = bus.state().get(&key).await
        && existing.as_ref() == bytes.as_slice()
    {
        return Ok(());
    }
    bus.state()
        .put(key, bytes.into())
        .await
        .map(|_| ())
        .map_err(|e| BusError(format!("cannot save the photo index: {e}")))
}

/// The stored photo for a matcher photo name (no extension, any case), if one was uploaded.
pub async fn find_photo(bus: &Bus, name: &str) -> Result<Option<StoredName>, BusError> {
    // A photo name has no extension: give it a dummy one so that name_key keeps it whole.
    let value = bus
        .state()
        .get(name_key(&format!("{name}.x")))
        .await
        .map_err(|e| BusError(format!("cannot read the photo index: {e}")))?;
    Ok(value.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_kv_safe() {
        assert_eq!(super::key("3f1c-ab/x y"), "entry.3f1c-ab_x_y");
    }

    #[test]
    fn name_keys_ignore_extension_and_case_and_are_kv_safe() {
        let key = super::name_key("John Smith.JPG");
        assert_eq!(key, super::name_key("john smith.png"));
        assert_eq!(key, super::name_key("JOHN SMITH.x"));
        assert_ne!(key, super::name_key("john smith2.jpg"));
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b))
        );
        assert_eq!(super::name_key("12345"), super::name_key("12345.jpg"));
        assert_eq!(super::name_key(".hidden"), super::name_key(".hidden.jpg"));
    }
}
