//! The rendition profile the host asks for, and its validation into a size box and a byte
//! budget.

use crate::encode::Budget;
use crate::error::Rejection;
use crate::geometry::{Fit, Size};

/// The largest rendition side: well within JPEG's 65535 and any directory attribute.
pub const MAX_SIDE: u32 = 16384;
/// The smallest `max-bytes` that can hold a meaningful JPEG.
pub const MIN_MAX_BYTES: u32 = 1024;

/// What the output must look like, as the host sends it (see `profile` in the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The attribute the rendition is for, only used in messages.
    pub attribute: String,
    pub max_width: u32,
    pub max_height: u32,
    pub max_bytes: u32,
    /// 0, or more than `max_bytes`, means "aim for `max_bytes`".
    pub target_bytes: u32,
    pub fit: Fit,
    pub min_quality: u8,
    pub max_quality: u8,
}

impl Profile {
    /// Checks the profile and returns the box and the byte budget.
    pub fn validate(&self) -> Result<(Size, Budget), Rejection> {
        let invalid = |what: String| {
            Rejection::InvalidSetting(format!("profile for `{}`: {what}", self.attribute))
        };
        for (name, side) in [
            ("max-width", self.max_width),
            ("max-height", self.max_height),
        ] {
            if !(1..=MAX_SIDE).contains(&side) {
                return Err(invalid(format!("{name} {side} is outside 1..={MAX_SIDE}")));
            }
        }
        for (name, q) in [
            ("min-quality", self.min_quality),
            ("max-quality", self.max_quality),
        ] {
            if !(1..=100).contains(&q) {
                return Err(invalid(format!("{name} {q} is outside 1..=100")));
            }
        }
        if self.min_quality > self.max_quality {
            return Err(invalid(format!(
                "min-quality {} is above max-quality {}",
                self.min_quality, self.max_quality
            )));
        }
        if self.max_bytes < MIN_MAX_BYTES {
            return Err(invalid(format!(
                "max-bytes {} is below the smallest usable {MIN_MAX_BYTES}",
                self.max_bytes
            )));
        }
        let target = if self.target_bytes == 0 || self.target_bytes > self.max_bytes {
            self.max_bytes
        } else {
            self.target_bytes
        };
        let budget = Budget {
            min_quality: self.min_quality,
            max_quality: self.max_quality,
            target_bytes: bytes(target),
            max_bytes: bytes(self.max_bytes),
        };
        Ok((Size::new(self.max_width, self.max_height), budget))
    }
}

fn bytes(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn thumbnail() -> Profile {
        Profile {
            attribute: "thumbnailPhoto".to_owned(),
            max_width: 96,
            max_height: 96,
            max_bytes: 100 * 1024,
            target_bytes: 10 * 1024,
            fit: Fit::Crop,
            min_quality: 30,
            max_quality: 90,
        }
    }

    fn reason(profile: Profile) -> String {
        profile
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn valid_profile_gives_box_and_budget() {
        let (size, budget) = thumbnail().validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(size, Size::new(96, 96));
        assert_eq!(
            (budget.target_bytes, budget.max_bytes),
            (10 * 1024, 100 * 1024)
        );
    }

    #[test]
    fn target_zero_or_above_max_means_max() {
        for target in [0, 200 * 1024] {
            let profile = Profile {
                target_bytes: target,
                ..thumbnail()
            };
            let budget = profile.validate().map(|(_, b)| b.target_bytes);
            assert_eq!(budget, Ok(100 * 1024));
        }
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            (
                Profile {
                    max_width: 0,
                    ..thumbnail()
                },
                "max-width 0 is outside 1..=16384",
            ),
            (
                Profile {
                    max_height: 16385,
                    ..thumbnail()
                },
                "max-height 16385 is outside",
            ),
            (
                Profile {
                    min_quality: 0,
                    ..thumbnail()
                },
                "min-quality 0 is outside 1..=100",
            ),
            (
                Profile {
                    max_quality: 101,
                    ..thumbnail()
                },
                "max-quality 101 is outside",
            ),
            (
                Profile {
                    min_quality: 91,
                    ..thumbnail()
                },
                "min-quality 91 is above max-quality 90",
            ),
            (
                Profile {
                    max_bytes: 1023,
                    ..thumbnail()
                },
                "max-bytes 1023 is below",
            ),
        ];
        for (profile, want) in cases {
            let got = reason(profile);
            assert!(
                got.starts_with("invalid setting: profile for `thumbnailPhoto`: "),
                "{got}"
            );
            assert!(got.contains(want), "{got} lacks {want}");
        }
    }
}
