//! The plugin's settings: parsed and validated from the host's key/value strings, before any
//! photo byte is looked at. Unknown keys are rejected so that a typo never silently falls back
//! to a default.

use crate::error::Rejection;
use crate::pixels::Rgb;

/// Validated settings; every field has a default so that an empty table is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Largest pixel count (width × height, as declared in the header) the plugin decodes.
    /// Guards against decompression bombs. Key `max-pixels`, default 100 000 000.
    pub max_pixels: u64,
    /// Colour that transparent pixels are flattened onto and that `pad` fills the border with.
    /// Key `background`, hex `rrggbb`, default `ffffff`.
    pub background: Rgb,
    /// Resampling filter. Key `filter`, default `lanczos3`.
    pub filter: Filter,
    /// Chroma subsampling of the output. Key `subsampling`, default `420`.
    pub subsampling: Subsampling,
    /// Smallest width or height the plugin shrinks a rendition to when it cannot meet
    /// `max-bytes` at full size. Key `min-size`, default 16.
    pub min_size: u32,
}

/// Resampling filter used to scale the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Sharpest, slight ringing; the default.
    Lanczos3,
    /// Bicubic, sharp.
    CatmullRom,
    /// Bicubic, softer, no ringing.
    Mitchell,
    /// Fastest, softest.
    Bilinear,
}

/// Chroma subsampling of the encoded JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsampling {
    /// Colour at half resolution in both directions (smallest files, the default).
    S420,
    /// Colour at full resolution.
    S444,
}

/// The largest value `min-size` may take (the largest rendition side).
const MAX_MIN_SIZE: u32 = 16384;

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            background: Rgb {
                r: 255,
                g: 255,
                b: 255,
            },
            filter: Filter::Lanczos3,
            subsampling: Subsampling::S420,
            min_size: 16,
        }
    }
}

impl Settings {
    /// Parses `(key, value)` pairs as the administrator wrote them.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Rejection> {
        let mut settings = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in pairs {
            if seen.contains(&key) {
                return Err(invalid(format!("setting `{key}` is given more than once")));
            }
            seen.push(key);
            settings.apply(key, value.trim())?;
        }
        Ok(settings)
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), Rejection> {
        match key {
            "max-pixels" => self.max_pixels = parse_number(key, value, 1, u64::MAX)?,
            "background" => self.background = parse_colour(key, value)?,
            "filter" => self.filter = parse_filter(key, value)?,
            "subsampling" => self.subsampling = parse_subsampling(key, value)?,
            "min-size" => {
                let size = parse_number(key, value, 1, u64::from(MAX_MIN_SIZE))?;
                self.min_size = u32::try_from(size).unwrap_or(MAX_MIN_SIZE);
            }
            _ => {
                return Err(invalid(format!(
                    "unknown setting `{key}`; known settings are max-pixels, background, filter, \
                     subsampling and min-size"
                )));
            }
        }
        Ok(())
    }
}

fn invalid(reason: String) -> Rejection {
    Rejection::InvalidSetting(reason)
}

fn parse_number(key: &str, value: &str, min: u64, max: u64) -> Result<u64, Rejection> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(format!(
            "setting `{key}` = `{value}` is not a whole number from {min} to {max}"
        ))),
    }
}

fn parse_colour(key: &str, value: &str) -> Result<Rgb, Rejection> {
    let hex = value.strip_prefix('#').unwrap_or(value);
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    let valid = hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    match (valid, channel(0), channel(2), channel(4)) {
        (true, Some(r), Some(g), Some(b)) => Ok(Rgb { r, g, b }),
        _ => Err(invalid(format!(
            "setting `{key}` = `{value}` is not a colour as six hex digits `rrggbb`, e.g. `ffffff`"
        ))),
    }
}

fn parse_filter(key: &str, value: &str) -> Result<Filter, Rejection> {
    match value.to_ascii_lowercase().as_str() {
        "lanczos3" => Ok(Filter::Lanczos3),
        "catmull-rom" => Ok(Filter::CatmullRom),
        "mitchell" => Ok(Filter::Mitchell),
        "bilinear" => Ok(Filter::Bilinear),
        _ => Err(invalid(format!(
            "setting `{key}` = `{value}` is not one of lanczos3, catmull-rom, mitchell, bilinear"
        ))),
    }
}

fn parse_subsampling(key: &str, value: &str) -> Result<Subsampling, Rejection> {
    match value {
        "420" | "4:2:0" => Ok(Subsampling::S420),
        "444" | "4:4:4" => Ok(Subsampling::S444),
        _ => Err(invalid(format!(
            "setting `{key}` = `{value}` is not one of 420, 444"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, Rejection> {
        Settings::parse(pairs.iter().copied())
    }

    #[test]
    fn empty_table_gives_defaults() {
        assert_eq!(parse(&[]), Ok(Settings::default()));
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(&[
            ("max-pixels", "2000"),
            ("background", "#00FF7f"),
            ("filter", "mitchell"),
            ("subsampling", "444"),
            ("min-size", "32"),
        ])
        .unwrap_or_default();
        assert_eq!(s.max_pixels, 2000);
        assert_eq!(
            s.background,
            Rgb {
                r: 0,
                g: 255,
                b: 127
            }
        );
        assert_eq!(s.filter, Filter::Mitchell);
        assert_eq!(s.subsampling, Subsampling::S444);
        assert_eq!(s.min_size, 32);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse(&[("quality", "80")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("invalid setting: unknown setting `quality`"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_key_and_value() {
        for (key, value) in [
            ("max-pixels", "0"),
            ("max-pixels", "lots"),
            ("background", "fff"),
            ("background", "gggggg"),
            ("background", "ééé"),
            ("filter", "nearest"),
            ("subsampling", "422"),
            ("min-size", "0"),
            ("min-size", "20000"),
        ] {
            let err = parse(&[(key, value)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(&format!("`{key}` = `{value}`")),
                "{key}={value}: {err}"
            );
        }
    }

    #[test]
    fn duplicate_key_is_rejected() {
        assert!(parse(&[("filter", "bilinear"), ("filter", "mitchell")]).is_err());
    }
}
