//! The fast path for a JPEG needed at 1/8 scale, written from the JPEG standard (ITU T.81).
//!
//! At 1/8 scale each 8×8 block becomes one pixel: the block's mean, which is its DC coefficient
//! times the DC quantiser divided by 8, plus 128 (T.81 A.3.3). So only the DC coefficients are
//! decoded; the AC coefficients are skipped without being computed, and there is no inverse
//! DCT. The bytes are read straight from the slice through a 64-bit bit buffer and lookup
//! tables. Chroma is upsampled to the luma grid with the usual triangle filter and converted
//! from YCbCr to RGB (JFIF, full range), as the general decoder does.
//!
//! It applies to baseline and extended sequential Huffman JPEGs with 8-bit samples, greyscale
//! or YCbCr with luma sampled 1×1, 2×1, 1×2 or 2×2 against 1×1 chroma, in one interleaved scan,
//! and to progressive Huffman JPEGs of the same kinds, whose DC scans alone are decoded.
//! For anything else, and for data it finds damaged, it returns `None` and the caller uses the
//! general decoder, so a damaged file gets exactly the general decoder's verdict.
//!
//! - `header`: marker segments before and after the scan.
//! - `colour`: chroma upsampling and YCbCr to RGB.
//! - `huffman`: Huffman tables and their lookups.
//! - `bits`: the bit reader; a DC difference; skipping a block's AC coefficients.
//! - `scan`: the MCU loop, restart intervals, the DC planes.
//! - `band`: a progressive frame's AC scans decoded into coefficients.
//! - `progressive`: a progressive frame's DC scans, its AC scans skipped, or all its scans
//!   decoded into coefficients;
//! - `scaled`: any of these frames at 2/8 to 7/8 scale, by a 2×2 to 7×7 inverse DCT of each
//!   block's first coefficients (`decode_scaled`): a progressive frame from all its scans
//!   (`jpeg-decoder` is slow on refinement scans), a sequential one decoding each block only
//!   as far as those coefficients go.

mod band;
mod bits;
mod colour;
mod header;
mod huffman;
mod progressive;
mod scaled;
mod scan;
#[cfg(test)]
mod tests;

pub(super) use header::Header;

use crate::pixels::{self, RgbImage};
use scan::Planes;

/// A JPEG decoded at 1/8 scale and the Exif block that says how to turn it upright.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    pub(super) image: RgbImage,
    /// The last Exif block in the file (after `Exif\0\0`).
    pub(super) exif: Option<&'a [u8]>,
}

/// Decodes the scan that `header` (read from `data`) introduces, at 1/8 scale: ⌈width/8⌉ ×
/// ⌈height/8⌉ pixels. `None` when the data is damaged or uses something the fast path leaves
/// to the general decoder.
pub(super) fn decode<'a>(data: &'a [u8], header: &Header<'a>) -> Option<Decoded<'a>> {
    let (planes, exif) = match header.progressive {
        Some(_) => (
            progressive::decode(data, header, progressive::Keep::Dc)?,
            header.exif,
        ),
        None => {
            let planes = scan::decode(data, header)?;
            let exif = header::trailer(data, planes.end, header.exif)?;
            (planes, exif)
        }
    };
    let image = to_rgb(header, &planes)?;
    Some(Decoded { image, exif })
}

/// Decodes the frame `header` (read from `data`) introduces at `eighths` (2 to 7) eighths of
/// its size; `None` as for [`decode`].
pub(super) fn decode_scaled<'a>(
    data: &'a [u8],
    header: &Header<'a>,
    eighths: u32,
) -> Option<Decoded<'a>> {
    let n = usize::try_from(eighths).ok()?;
    let (planes, exif) = scaled::decode(data, header, n)?;
    let image = assemble(header, &planes.planes, &planes.stride, n)?;
    Some(Decoded { image, exif })
}

/// The DC planes as RGB pixels, cropped to the image.
fn to_rgb(header: &Header, planes: &Planes) -> Option<RgbImage> {
    let samples: Vec<Vec<u8>> = (header.components.iter().zip(&planes.dc))
        .map(|(c, dc)| dc.iter().map(|&v| sample(v, c.dc_quant)).collect())
        .collect();
    assemble(header, &samples, &planes.stride, 1)
}

/// Component planes of `per_block` samples a block side (each `strides` wide) as RGB pixels,
/// cropped to the image at that scale.
fn assemble(
    header: &Header,
    samples: &[Vec<u8>],
    strides: &[usize],
    per_block: usize,
) -> Option<RgbImage> {
    let width = (usize::from(header.width) * per_block).div_ceil(8);
    let height = (usize::from(header.height) * per_block).div_ceil(8);
    let rgb = match (samples, strides, &header.components[..]) {
        ([grey], &[stride], _) => {
            let rows = grey.chunks_exact(stride).take(height);
            let cropped: Vec<u8> = rows
                .flat_map(|row| row.iter().take(width))
                .copied()
                .collect();
            pixels::grey_to_rgb(&cropped)
        }
        ([y, cb, cr], &[y_stride, c_stride, _], [first, ..]) => {
            let luma = colour::Plane {
                samples: y,
                stride: y_stride,
            };
            let chroma = [cb, cr].map(|samples| colour::Plane {
                samples,
                stride: c_stride,
            });
            colour::ycbcr_to_rgb(luma, chroma, (width, height), (first.h, first.v))?
        }
        _ => return None,
    };
    RgbImage::new(u32::try_from(width).ok()?, u32::try_from(height).ok()?, rgb)
}

/// A block's mean sample: `dc × quant / 8 + 128` (T.81 A.3.3), rounded to nearest and clamped.
fn sample(dc: i16, quant: u16) -> u8 {
    // |dc| ≤ 2^15 and quant < 2^16, so the product (and the rounding term) fits in an i32.
    let scaled = i32::from(dc) * i32::from(quant);
    (((scaled + 4) >> 3) + 128).clamp(0, 255) as u8
}
