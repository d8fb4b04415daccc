//! # photosync
//!
//! Keeps people's photos in a directory (Active Directory `thumbnailPhoto`, LDAP `jpegPhoto`) in
//! step with the systems that produce them. Events arrive on NATS; sandboxed WebAssembly plugins
//! match, transform and deduplicate; the host writes LDAP and publishes a result for every event.
//!
//! # Layout
//! - [`commands`]: what each `photosync` command does, ending in an [`commands::Outcome`] (its
//!   output and exit status); `main` only parses arguments.
//! - [`config`]: the TOML configuration, validated before anything connects.
//! - [`events`]: the event and result types.
//! - [`names`]: every NATS subject, stream, consumer and bucket name, made from `[nats] prefix`.
//! - [`bus`]: NATS and JetStream: streams, the photo Object Store, the state KV bucket.
//! - [`directory`]: LDAP: bind, search with escaping and paging, write photo attributes; TLS
//!   trust and the reasons given for LDAP and Active Directory errors.
//! - [`backup`]: the photos photosync replaced (and wrote), kept for rollback and reports.
//! - [`ber`]: a strict BER/DER reader for the bytes photosync decodes itself.
//! - [`state`]: per-entry sync state (digests last written and seen), saved with compare-and-set;
//!   the photo-name index.
//! - [`pipeline`]: one event from payload to result and verdict:
//!   - [`pipeline::upload`]: the photo-upload path, one stage a file (parse → fetch → locate →
//!     render → claim → write → keep);
//!   - [`pipeline::directory_change`]: the directory-change path;
//!   - [`pipeline::verdict`]: the one place that decides ack, retry, wait or dead letter.
//! - [`service`]: `photosync run`: the wiring of servers and plugins
//!   ([`service::wiring`]), pulling and the per-event worker; `watch` and `export`
//!   ([`service::watch`]).
//! - [`health`]: health, readiness and Prometheus metrics over HTTP.
//! - [`watcher`]: the directory watcher (RFC 4533, or uSNChanged on Active Directory),
//!   publishing directory-change events.
//! - [`publish`]: `photosync publish` (events from files) and photo-changed events.
//! - [`plugins`]: loading, sandboxing and calling WebAssembly component plugins.
//! - [`profiles`]: renditions, the size and byte limits of each photo attribute.
//! - [`ops`]: operators' tools: `import` (and its dry run), `watch-folder`, `resync`,
//!   `rollback`, `report`.
//! - [`offline`]: commands that work on files without any server (`transform`, `plugin inspect`).
//! - [`shutdown`], [`text`], [`timestamps`]: the stop signals, text helpers (`clip`, `md5_hex`)
//!   and the current time in stored forms.

pub mod backup;
pub mod ber;
pub mod bus;
pub mod commands;
pub mod config;
pub mod directory;
pub mod events;
pub mod health;
pub mod names;
pub mod offline;
pub mod ops;
pub mod pipeline;
pub mod plugins;
pub mod profiles;
pub mod publish;
pub mod service;
pub mod shutdown;
pub mod state;
pub mod text;
pub mod timestamps;
pub mod watcher;

/// The fuzz targets' seed corpus and mutations, shared with the other crates' targets.
#[cfg(test)]
#[path = "../../tests/fuzz/seeds.rs"]
mod fuzz_seeds;
