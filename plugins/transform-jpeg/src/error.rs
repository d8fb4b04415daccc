//! The plugin's own rejection type: why a photo cannot become a rendition.
//!
//! It mirrors the WIT `rejection` variant so that the core logic does not depend on generated
//! bindings; `lib.rs` converts one into the other.

use std::fmt;

/// Why a photo cannot be turned into a rendition. Every variant carries a sentence for the
/// operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The bytes are not a format the plugin reads.
    UnsupportedFormat(String),
    /// The image is damaged: truncated, bad header or bad data.
    Corrupt(String),
    /// The image declares more pixels than `max-pixels` allows.
    TooLarge(String),
    /// No encoding fits `max-bytes` within the quality bounds and `min-size`.
    CannotFit(String),
    /// A setting or the profile is unusable.
    InvalidSetting(String),
}

impl Rejection {
    /// The reason text, whatever the kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::UnsupportedFormat(r)
            | Self::Corrupt(r)
            | Self::TooLarge(r)
            | Self::CannotFit(r)
            | Self::InvalidSetting(r) => r,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedFormat(_) => "unsupported format",
            Self::Corrupt(_) => "corrupt",
            Self::TooLarge(_) => "too large",
            Self::CannotFit(_) => "cannot fit",
            Self::InvalidSetting(_) => "invalid setting",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.reason())
    }
}

impl std::error::Error for Rejection {}
