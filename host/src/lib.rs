//! # photosync
//!
//! Keeps people's photos in a directory (Active Directory `thumbnailPhoto`, LDAP `jpegPhoto`) in
//! step with the systems that produce them. Events arrive on NATS; sandboxed WebAssembly plugins
//! match, transform and deduplicate; the host writes LDAP and publishes a result for every event.
//!
//! # Layout
//! - [`plugins`]: loading, sandboxing and calling WebAssembly component plugins.
//! - [`profiles`]: renditions, the size and byte limits of each photo attribute.
//! - [`offline`]: commands that work on files without any server (`transform`, `plugin inspect`).

pub mod offline;
pub mod plugins;
pub mod profiles;
