//! The events photosync reads and writes on NATS, as Rust types. `docs/events.md` and the JSON
//! Schemas in `docs/schemas/` describe the same shapes for other producers and consumers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Photos larger than this travel through the object store rather than inline.
pub const INLINE_MAX: usize = 512 * 1024;

/// A photo was uploaded and should reach the directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PhotoUpload {
    /// Unique id of this event (a UUID is typical); results carry it back.
    pub id: String,
    /// The file name the photo was uploaded under, without any directory, e.g. `12345.jpg`.
    pub file_name: String,
    /// Who produced the event, e.g. `hr-portal`.
    pub source: String,
    /// The declared media type; the transformer sniffs the bytes anyway.
    #[serde(default)]
    pub content_type: String,
    /// When it was uploaded, RFC 3339.
    pub uploaded_at: String,
    /// Attributes the producer knows, e.g. `{"employeeID": "12345"}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The photo itself.
    pub photo: PhotoRef,
    /// For a photo in the bucket: its content digest as the object store records it
    /// (`SHA-256=` and URL-safe base64). The event is then about exactly that content, and a
    /// photo seen before is decided without asking the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_digest: Option<String>,
}

/// Where an event's photo bytes are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PhotoRef {
    /// Base64 of the bytes, for photos up to [`INLINE_MAX`].
    Inline(String),
    /// The name of an object in the photo Object Store bucket.
    Object(String),
}

/// How an event ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// At least one attribute was written.
    Written,
    /// Nothing needed writing.
    Unchanged,
    /// No entry matched.
    NoMatch,
    /// More than one entry matched; none was touched.
    Ambiguous,
    /// The event or its photo cannot be used; retrying will not help.
    Rejected,
    /// Something failed that may work later (directory unreachable, missing rights).
    Failed,
    /// A later upload for the same entry was already applied; this older one writes nothing.
    Superseded,
}

impl Outcome {
    /// The word used in subjects and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Unchanged => "unchanged",
            Outcome::NoMatch => "no-match",
            Outcome::Ambiguous => "ambiguous",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Superseded => "superseded",
        }
    }
}

/// What happened to one attribute of the entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttributeResult {
    /// The attribute, e.g. `thumbnailPhoto`.
    pub attribute: String,
    /// Whether it was written.
    pub written: bool,
    /// MD5 (or the deduper's digest) of the rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Size of the rendition in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// Width x height of the rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// JPEG quality of the rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// Why it was or was not written.
    pub reason: String,
}

/// The result published for every event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhotoResult {
    /// The event's id (or `unknown` for an event too broken to carry one).
    pub event_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The event's file name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The entry matched, when exactly one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_dn: Option<String>,
    /// The entry's stable id (entryUUID, or objectGUID in its string form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Digest of the source photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// Per attribute, what was done.
    #[serde(default)]
    pub attributes: Vec<AttributeResult>,
    /// For anything not written: what an operator can act on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Milliseconds spent per stage (`match`, `search`, `transform`, `dedup`, `write`, `total`).
    #[serde(default)]
    pub timings_ms: BTreeMap<String, f64>,
    /// The plugins that handled the event, by role: the first 16 hex digits of each one's code's
    /// SHA-256 (as `photosync_plugin_info` and `plugin push` give it in full).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plugins: BTreeMap<String, String>,
    /// Which delivery of the event this was (1 for the first).
    pub delivery: u64,
    /// Whether this is the event's last result. `false` only for a `failed` result of an event
    /// that will be delivered again; every event ends with exactly one final result.
    #[serde(rename = "final", default = "yes")]
    pub is_final: bool,
}

fn yes() -> bool {
    true
}

impl PhotoResult {
    /// A result for `event_id` on its `delivery`-th delivery, `failed` until decided.
    pub fn new(event_id: String, delivery: u64) -> Self {
        Self {
            event_id,
            outcome: Outcome::Failed,
            file_name: None,
            entry_dn: None,
            entry_id: None,
            source_digest: None,
            attributes: vec![],
            reason: None,
            timings_ms: BTreeMap::new(),
            plugins: BTreeMap::new(),
            delivery,
            is_final: true,
        }
    }
}

/// What happened to a directory entry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Add,
    Modify,
    Delete,
    Rename,
    /// `photosync resync`: forget the entry's sync state and apply its stored photo again.
    Resync,
}

impl ChangeKind {
    /// The word used in events.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Add => "add",
            ChangeKind::Modify => "modify",
            ChangeKind::Delete => "delete",
            ChangeKind::Rename => "rename",
            ChangeKind::Resync => "resync",
        }
    }
}

/// A directory entry was added, modified, deleted or renamed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirectoryChange {
    /// Unique id of this event; results carry it back. The watcher derives it from the change
    /// (entry id and change sequence number), so the same change published twice is one event.
    pub id: String,
    /// The entry's stable id: entryUUID (OpenLDAP) or objectGUID in its string form (AD).
    pub entry_id: String,
    /// The entry's DN after the change (for a delete: the last DN known, possibly empty).
    #[serde(default)]
    pub dn: String,
    /// What happened.
    pub change: ChangeKind,
    /// For a rename: the DN before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_dn: Option<String>,
    /// The attributes that changed, when the server says so (OpenLDAP's content
    /// synchronisation does not; an empty list means "not known").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// When the change was seen, RFC 3339.
    pub seen_at: String,
    /// Who published the event, e.g. `watcher:ldap://ldap.example.test`.
    pub source: String,
}

/// Why a photo-changed event was published.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeCause {
    /// Someone other than photosync changed the photo in the directory.
    Directory,
    /// `photosync export` published the current photo.
    Export,
}

/// A photo in the directory is new or different (or was removed), for downstream applications.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PhotoChanged {
    /// Unique id of this event.
    pub id: String,
    /// The entry's stable id.
    pub entry_id: String,
    /// The entry's DN.
    pub dn: String,
    /// The photo attribute, e.g. `thumbnailPhoto`.
    pub attribute: String,
    /// MD5 of the photo's bytes as 32 lowercase hex digits; absent when the photo was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Size of the photo in bytes (0 when removed).
    pub bytes: usize,
    /// The photo (the attribute's first value): inline, or in the photo bucket when large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoRef>,
    /// Why the event was published.
    pub cause: ChangeCause,
    /// When, RFC 3339.
    pub changed_at: String,
}
