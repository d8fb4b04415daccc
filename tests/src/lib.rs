//! photosync's test harness.
//!
//! # Layout
//! - [`fixtures`]: photos made on the fly: photo-like JPEGs of any size, EXIF orientations,
//!   CMYK, greyscale, progressive, PNG with alpha, and hostile files.
//! - [`plugins`]: the built test plugins and a runtime set up as the host sets it up.
//! - [`wait`]: polling with a deadline instead of sleeping.

pub mod fixtures;
pub mod plugins;
pub mod wait;
