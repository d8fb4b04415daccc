//! # photosync
//!
//! Keeps people's photos in a directory (Active Directory `thumbnailPhoto`, LDAP `jpegPhoto`) in
//! step with the systems that produce them. Events arrive on NATS; sandboxed WebAssembly plugins
//! match, transform and deduplicate; the host writes LDAP and publishes a result for every event.
//!
//! # Layout
//! - [`config`]: the TOML configuration, validated before anything connects.
//! - [`events`]: the event and result types and the NATS names.
//! - [`bus`]: NATS and JetStream: streams, the photo Object Store, the state KV bucket.
//! - [`directory`]: LDAP: bind, search with escaping and paging, write photo attributes; TLS
//!   trust and the reasons given for LDAP and Active Directory errors.
//! - [`backup`]: the photos photosync replaced (and wrote), kept for rollback and reports.
//! - [`ber`]: a strict BER/DER reader for the bytes photosync decodes itself.
//! - [`state`]: per-entry sync state (digests last written and seen), saved with compare-and-set;
//!   the photo-name index.
//! - [`pipeline`]: one event from payload to result.
//! - [`health`]: health, readiness and Prometheus metrics over HTTP.
//! - [`service`]: `photosync run`, the worker loop; `watch` and `export`.
//! - [`watcher`]: the directory watcher (RFC 4533), publishing directory-change events.
//! - [`publish`]: `photosync publish`, producing events from files.
//! - [`plugins`]: loading, sandboxing and calling WebAssembly component plugins.
//! - [`profiles`]: renditions, the size and byte limits of each photo attribute.
//! - [`ops`]: operators' tools: `import` (and its dry run), `watch-folder`, `resync`,
//!   `rollback`, `report`.
//! - [`offline`]: commands that work on files without any server (`transform`, `plugin inspect`).

pub mod backup;
pub mod ber;
pub mod bus;
pub mod config;
pub mod directory;
pub mod events;
pub mod health;
pub mod offline;
pub mod ops;
pub mod pipeline;
pub mod plugins;
pub mod profiles;
pub mod publish;
pub mod service;
pub mod state;
pub mod watcher;
