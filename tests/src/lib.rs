//! photosync's test harness.
//!
//! # Layout
//! - [`fixtures`]: photos made on the fly: photo-like JPEGs of any size, EXIF orientations,
//!   CMYK, greyscale, progressive, PNG with alpha, and hostile files.
//! - [`names`]: the default deployment's NATS names, as other clients spell them.
//! - [`plugins`]: the built test plugins, the example plugins in other languages (built by their
//!   own build scripts), and a runtime set up as the host sets it up.
//! - [`containers`]: podman containers of photosync's image, removed on `Drop`.
//! - [`servers`]: real `nats-server` and `slapd` on free loopback ports, gone on `Drop`.
//! - [`stack`]: NATS, slapd and the photosync service together, for end-to-end tests.
//! - [`wait`]: polling with a deadline instead of sleeping.

pub mod containers;
pub mod fixtures;
pub mod names;
pub mod plugins;
pub mod servers;
pub mod stack;
pub mod wait;

/// The repository's top directory.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}
