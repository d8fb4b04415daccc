//! Baseline JPEG encoding and the search for the best quality within the byte limits.
//!
//! `jpeg-encoder` writes SOI, a 16-byte JFIF APP0, DQT, SOF0, DHT, one interleaved SOS scan and
//! EOI: no Exif, ICC, Adobe or comment segments (those appear only when asked for, or for CMYK
//! input, which this plugin never gives it). Standard Huffman tables are kept on purpose:
//! optimised tables make the encoder write one scan per component, which is still baseline but
//! less widely handled by simple decoders than a single interleaved scan.

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

use crate::error::Rejection;
use crate::pixels::RgbImage;
use crate::settings::Subsampling;

/// Encodes `image` as a baseline YCbCr JPEG at `quality` (1-100).
pub fn encode(
    image: &RgbImage,
    quality: u8,
    subsampling: Subsampling,
) -> Result<Vec<u8>, Rejection> {
    let failed = |e: &dyn std::fmt::Display| {
        Rejection::CannotFit(format!(
            "encoding {}x{} at quality {quality} failed: {e}",
            image.width, image.height
        ))
    };
    let width = u16::try_from(image.width).map_err(|e| failed(&e))?;
    let height = u16::try_from(image.height).map_err(|e| failed(&e))?;
    let mut out = Vec::with_capacity(image.data.len() / 8 + 1024);
    let mut encoder = Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(match subsampling {
        Subsampling::S420 => SamplingFactor::R_4_2_0,
        Subsampling::S444 => SamplingFactor::R_4_4_4,
    });
    encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    encoder.set_progressive(false);
    encoder.set_optimized_huffman_tables(false);
    encoder
        .encode(&image.data, width, height, ColorType::Rgb)
        .map_err(|e| failed(&e))?;
    Ok(out)
}

/// Byte limits and the quality range, as validated from the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub min_quality: u8,
    pub max_quality: u8,
    /// Soft goal; already at most `max_bytes`.
    pub target_bytes: usize,
    /// Hard limit.
    pub max_bytes: usize,
}

/// The outcome of a quality search at one size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// The best encoding within the budget.
    Fits { jpeg: Vec<u8>, quality: u8 },
    /// Even `min_quality` exceeds `max_bytes`; this is its size.
    TooBig { smallest: usize },
}

/// Finds the highest quality in the budget's range whose output is at most `target_bytes`
/// (binary search; JPEG size grows with quality); failing that, `min_quality` if its output is
/// at most `max_bytes`.
pub fn search<E>(
    budget: &Budget,
    mut encode: impl FnMut(u8) -> Result<Vec<u8>, E>,
) -> Result<Search, E> {
    let (mut low, mut high) = (budget.min_quality, budget.max_quality);
    let best = encode(high)?;
    if best.len() <= budget.target_bytes {
        return Ok(Search::Fits {
            jpeg: best,
            quality: high,
        });
    }
    let mut fitting = encode(low)?;
    if fitting.len() > budget.target_bytes {
        return Ok(if fitting.len() <= budget.max_bytes {
            Search::Fits {
                jpeg: fitting,
                quality: low,
            }
        } else {
            Search::TooBig {
                smallest: fitting.len(),
            }
        });
    }
    // Invariant: `low` fits the target (its bytes are in `fitting`), `high` does not.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        let jpeg = encode(middle)?;
        if jpeg.len() <= budget.target_bytes {
            (low, fitting) = (middle, jpeg);
        } else {
            high = middle;
        }
    }
    Ok(Search::Fits {
        jpeg: fitting,
        quality: low,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake encoder whose output grows by 100 bytes per quality step, recording its calls.
    fn fake(calls: &mut Vec<u8>) -> impl FnMut(u8) -> Result<Vec<u8>, ()> + '_ {
        |q| {
            calls.push(q);
            Ok(vec![0; usize::from(q) * 100])
        }
    }

    fn budget(min: u8, max: u8, target: usize, max_bytes: usize) -> Budget {
        Budget {
            min_quality: min,
            max_quality: max,
            target_bytes: target,
            max_bytes,
        }
    }

    fn outcome(b: Budget) -> (Option<u8>, Vec<u8>) {
        let mut calls = Vec::new();
        let found = match search(&b, fake(&mut calls)) {
            Ok(Search::Fits { jpeg, quality }) => {
                assert!(jpeg.len() <= b.max_bytes);
                assert_eq!(jpeg.len(), usize::from(quality) * 100);
                Some(quality)
            }
            _ => None,
        };
        (found, calls)
    }

    #[test]
    fn max_quality_when_it_meets_the_target() {
        assert_eq!(
            outcome(budget(30, 90, 10_000, 20_000)),
            (Some(90), vec![90])
        );
    }

    #[test]
    fn highest_quality_under_the_target() {
        let (quality, calls) = outcome(budget(30, 90, 5_050, 20_000));
        assert_eq!(quality, Some(50));
        assert!(calls.len() <= 9, "{calls:?}");
        assert!(calls.iter().all(|q| (30..=90).contains(q)));
    }

    #[test]
    fn min_quality_over_target_but_under_max_bytes() {
        assert_eq!(outcome(budget(30, 90, 2_000, 3_000)).0, Some(30));
    }

    #[test]
    fn too_big_when_min_quality_exceeds_max_bytes() {
        let mut calls = Vec::new();
        let result = search(&budget(30, 90, 2_000, 2_500), fake(&mut calls));
        assert_eq!(result, Ok(Search::TooBig { smallest: 3_000 }));
    }

    #[test]
    fn single_quality_range() {
        assert_eq!(
            outcome(budget(75, 75, 10_000, 10_000)),
            (Some(75), vec![75])
        );
        assert_eq!(outcome(budget(75, 75, 1_000, 10_000)).0, Some(75));
        assert_eq!(outcome(budget(75, 75, 1_000, 1_000)).0, None);
    }

    #[test]
    fn real_encoder_writes_baseline_jfif_without_metadata() {
        let image = RgbImage {
            width: 17,
            height: 9,
            data: vec![120; 17 * 9 * 3],
        };
        let jpeg = encode(&image, 80, Subsampling::S420).unwrap_or_default();
        assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE0], "SOI then APP0");
        assert_eq!(&jpeg[6..11], b"JFIF\0");
        let markers = markers(&jpeg);
        assert_eq!(
            markers,
            [0xE0, 0xC0, 0xDB, 0xDB, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA],
            "{markers:x?}"
        );
        assert_eq!(
            jpeg.windows(2).filter(|w| w == &[0xFF, 0xDA]).count(),
            1,
            "one scan"
        );
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "EOI");
    }

    /// The markers of the segments from SOI up to and including the first SOS.
    fn markers(jpeg: &[u8]) -> Vec<u8> {
        let mut found = Vec::new();
        let mut at = 2;
        while let Some(&[0xFF, marker, high, low]) = jpeg.get(at..at + 4) {
            found.push(marker);
            if marker == 0xDA {
                break;
            }
            at += 2 + usize::from(u16::from_be_bytes([high, low]));
        }
        found
    }
}
