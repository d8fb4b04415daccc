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
//! - `huffman`: Huffman tables and their lookups.
//! - `bits`: the bit reader; a DC difference; skipping a block's AC coefficients.
//! - `scan`: the MCU loop, restart intervals, the DC planes.
//! - `progressive`: a progressive frame's DC scans, its AC scans skipped, or all its scans
//!   decoded into coefficients;
//! - `scaled`: a progressive frame at 1/4 or 1/2 scale, by a 2×2 or 4×4 inverse DCT of those
//!   coefficients (`decode_scaled`), for which `jpeg-decoder` is slow on refinement scans.

mod bits;
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

/// Decodes the progressive frame `header` (read from `data`) introduces at `eighths` (2 or 4)
/// eighths of its size, from all its coefficients; `None` as for [`decode`].
pub(super) fn decode_scaled<'a>(
    data: &'a [u8],
    header: &Header<'a>,
    eighths: u32,
) -> Option<Decoded<'a>> {
    let n = usize::try_from(eighths).ok()?;
    let planes = scaled::decode(data, header, n)?;
    let image = assemble(header, &planes.planes, &planes.stride, n)?;
    Some(Decoded {
        image,
        exif: header.exif,
    })
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
            let luma = Plane {
                samples: y,
                stride: y_stride,
            };
            let chroma = [cb, cr].map(|samples| Plane {
                samples,
                stride: c_stride,
            });
            ycbcr_to_rgb(luma, chroma, (width, height), (first.h, first.v))?
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

/// A plane of 8-bit samples, `stride` to a row.
#[derive(Debug, Clone, Copy)]
struct Plane<'a> {
    samples: &'a [u8],
    stride: usize,
}

impl<'a> Plane<'a> {
    fn row(self, y: usize) -> Option<&'a [u8]> {
        self.samples.get(y * self.stride..(y + 1) * self.stride)
    }

    fn rows(self) -> usize {
        self.samples.len() / self.stride.max(1)
    }
}

/// Fixed-point JFIF coefficients, × 2^16: Cr→R, Cb→G, Cr→G, Cb→B.
const CR_R: i32 = 91_881; // 1.402
const CB_G: i32 = 22_554; // 0.344136
const CR_G: i32 = 46_802; // 0.714136
const CB_B: i32 = 116_130; // 1.772

/// Upsamples the chroma planes to the luma grid (`factors` = luma blocks per chroma block
/// across and down) and converts to RGB. Chroma is kept at 16× precision between the two.
fn ycbcr_to_rgb(
    luma: Plane,
    [cb, cr]: [Plane; 2],
    (width, height): (usize, usize),
    (h, v): (usize, usize),
) -> Option<Vec<u8>> {
    let columns = taps(width, h, cb.stride);
    let chroma_rows = taps(height, v, cb.rows());
    let mut rgb = Vec::with_capacity(width * height * 3);
    for (y, &(near, far)) in chroma_rows.iter().enumerate() {
        let luma = luma.row(y)?.get(..width)?;
        let rows = [cb.row(near)?, cb.row(far)?, cr.row(near)?, cr.row(far)?];
        for (&l, &(x_near, x_far)) in luma.iter().zip(&columns) {
            // 3:1 across, then 3:1 down: weights summing to 16.
            let filter = |near: &[u8], far: &[u8]| -> Option<i32> {
                let across = |row: &[u8]| -> Option<i32> {
                    Some(3 * i32::from(*row.get(x_near)?) + i32::from(*row.get(x_far)?))
                };
                Some(3 * across(near)? + across(far)? - 16 * 128)
            };
            let cb = filter(rows[0], rows[1])?;
            let cr = filter(rows[2], rows[3])?;
            let y = (i32::from(l) << 20) + (1 << 19);
            let channel = |value: i32| (value >> 20).clamp(0, 255) as u8;
            rgb.extend_from_slice(&[
                channel(y + CR_R * cr),
                channel(y - CB_G * cb - CR_G * cr),
                channel(y + CB_B * cb),
            ]);
        }
    }
    Some(rgb)
}

/// For each of `len` output positions along an axis, the nearer and the farther of the `input`
/// chroma samples around it, weighted 3:1 (the triangle filter libjpeg calls "fancy
/// upsampling"), for a factor of 1 (no filtering: both are the same sample) or 2.
fn taps(len: usize, factor: usize, input: usize) -> Vec<(usize, usize)> {
    let last = input.saturating_sub(1);
    (0..len)
        .map(|i| {
            if factor == 1 {
                return (i.min(last), i.min(last));
            }
            let near = (i / 2).min(last);
            let far = if i % 2 == 0 {
                near.saturating_sub(1)
            } else {
                (near + 1).min(last)
            };
            (near, far)
        })
        .collect()
}
