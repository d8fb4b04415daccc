//! Renditions: for each directory attribute, the size, byte limits and quality bounds of the JPEG
//! written to it. The defaults follow what directories and their consumers accept.

use crate::plugins::{Fit, Profile};

/// The attribute Active Directory and Outlook read: single-valued, at most 102400 bytes
/// (its `rangeUpper`). 96x96 is the usual size; Exchange Online takes only 10 KB or less.
pub fn thumbnail_photo() -> Profile {
    Profile {
        attribute: "thumbnailPhoto".into(),
        max_width: 96,
        max_height: 96,
        max_bytes: 102_400,
        target_bytes: 10_240,
        fit: Fit::Crop,
        min_quality: 50,
        max_quality: 90,
    }
}

/// The `inetOrgPerson` attribute: multi-valued JPEG; 648x648 is the high-resolution size.
pub fn jpeg_photo() -> Profile {
    Profile {
        attribute: "jpegPhoto".into(),
        max_width: 648,
        max_height: 648,
        max_bytes: 512_000,
        target_bytes: 512_000,
        fit: Fit::Crop,
        min_quality: 60,
        max_quality: 92,
    }
}

/// The built-in profiles, named after their attributes.
pub fn builtin() -> Vec<Profile> {
    vec![thumbnail_photo(), jpeg_photo()]
}

/// The built-in profile for `name` (compared case-insensitively, as attribute names are).
pub fn find(name: &str) -> Option<Profile> {
    builtin()
        .into_iter()
        .find(|p| p.attribute.eq_ignore_ascii_case(name))
}
