//! photosync's test harness.
//!
//! # Layout
//! - [`fixtures`]: photos made on the fly: photo-like JPEGs of any size, EXIF orientations,
//!   CMYK, greyscale, progressive, PNG with alpha, and hostile files.
//! - [`plugins`]: the built test plugins and a runtime set up as the host sets it up.
//! - [`servers`]: real `nats-server` and `slapd` on free loopback ports, gone on `Drop`.
//! - [`stack`]: NATS, slapd and the photosync service together, for end-to-end tests.
//! - [`wait`]: polling with a deadline instead of sleeping.

pub mod containers;
pub mod fixtures;
pub mod plugins;
pub mod servers;
pub mod stack;
pub mod wait;
