//! JPEG, decoded only as large as the rendition needs.
//!
//! When less than full size suffices (a thumbnail or a `jpegPhoto` from a camera photo) and the
//! file is a plain sequential or progressive JPEG, `dc_only` decodes it at the smallest number
//! of eighths of its size that covers the rendition: at 1/8 from its DC coefficients alone, at
//! 2/8 to 7/8 from each block's first 2×2 to 7×7 coefficients. Otherwise `jpeg-decoder` does:
//! `Decoder::scale` makes the inverse DCT produce 1/8, 1/4, 1/2 or full size; a 12-megapixel
//! photo headed for a 96×96 thumbnail is decoded at 1/8 (about 500×375) and never exists at full
//! size in memory.

use jpeg_decoder::{CodingProcess, Decoder, Error, ImageInfo, PixelFormat};

use super::dc_only::{self, Header};
use super::{Request, Stored, check_size, size_mismatch};
use crate::error::Rejection;
use crate::exif;
use crate::geometry::{self, Size};
use crate::orient::Orientation;
use crate::pixels::{self, RgbImage};
use crate::sniff::Format;

/// The scales `jpeg-decoder` supports, in eighths, smallest first.
const EIGHTHS: [u32; 4] = [1, 2, 4, 8];

/// The scales the fast paths support, in eighths, smallest first (full size is
/// `jpeg-decoder`'s).
const FAST_EIGHTHS: [u32; 7] = [1, 2, 3, 4, 5, 6, 7];

/// Decodes a JPEG at the smallest scale that still covers what `request` needs.
pub(super) fn decode(data: &[u8], request: &Request) -> Result<Stored, Rejection> {
    match decode_dc_only(data, request)? {
        Some(stored) => Ok(stored),
        None => decode_general(data, request),
    }
}

/// The fast paths, for a file `dc_only` reads: at 1/8 scale from the DC coefficients alone,
/// and at 2/8 to 7/8 from each block's first coefficients. `None` otherwise, and also when the
/// data turns out damaged: then the general path decodes the file and gives its usual verdict.
fn decode_dc_only(data: &[u8], request: &Request) -> Result<Option<Stored>, Rejection> {
    let Some(header) = Header::parse(data) else {
        return Ok(None);
    };
    let full = Size::new(header.width.into(), header.height.into());
    check_size(Format::Jpeg, full.width, full.height, request.max_pixels)?;
    let need = stored_need(full, exif_orientation(header.exif_before_frame), request);
    let eighths = eighths_for(full, need, &FAST_EIGHTHS);
    let decoded = match eighths {
        1 => dc_only::decode(data, &header),
        2..=7 => dc_only::decode_scaled(data, &header, eighths),
        _ => return Ok(None),
    };
    Ok(decoded.map(|decoded| Stored {
        image: decoded.image,
        full,
        scale: f64::from(eighths) / 8.0,
        orientation: exif_orientation(decoded.exif),
        dc_only: eighths == 1,
    }))
}

/// Decodes with `jpeg-decoder`, which reads every kind of JPEG.
fn decode_general(data: &[u8], request: &Request) -> Result<Stored, Rejection> {
    let mut decoder = Decoder::new(data);
    decoder.read_info().map_err(jpeg_error)?;
    let info = frame_info(&decoder)?;
    let full = Size::new(info.width.into(), info.height.into());
    check_size(Format::Jpeg, full.width, full.height, request.max_pixels)?;
    let lossless = info.coding_process == CodingProcess::Lossless;
    if lossless && info.pixel_format == PixelFormat::CMYK32 {
        return Err(Rejection::UnsupportedFormat(
            "the file is a lossless CMYK JPEG".to_owned(),
        ));
    }
    let scale = if lossless {
        // The lossless path ignores the DCT scale; asking for one would garble the output.
        1.0
    } else {
        let need = stored_need(full, orientation(&decoder), request);
        choose_scale(&mut decoder, full, need)?
    };
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let info = frame_info(&decoder)?;
    let image = to_rgb(pixels, info, data)?;
    // Exif normally precedes the frame header, but a late APP1 is only seen after decoding.
    Ok(Stored {
        image,
        full,
        scale,
        orientation: orientation(&decoder),
        dc_only: false,
    })
}

fn frame_info(decoder: &Decoder<&[u8]>) -> Result<ImageInfo, Rejection> {
    decoder
        .info()
        .ok_or_else(|| Rejection::Corrupt("the JPEG has no frame header (SOF marker)".to_owned()))
}

fn orientation(decoder: &Decoder<&[u8]>) -> Orientation {
    exif_orientation(decoder.exif_data())
}

/// The orientation an Exif block (if any) records; `Normal` when it records none.
fn exif_orientation(exif: Option<&[u8]>) -> Orientation {
    exif.and_then(exif::orientation)
        .unwrap_or(Orientation::Normal)
}

/// The decoded size needed for every box of the request, in stored (not yet upright) pixels.
fn stored_need(full: Size, orientation: Orientation, request: &Request) -> Size {
    let swap = |s: Size| {
        if orientation.swaps_axes() {
            Size::new(s.height, s.width)
        } else {
            s
        }
    };
    let need = request
        .boxes
        .iter()
        .map(|&(bound, fit)| geometry::needed_source_size(swap(full), bound, fit))
        .fold(Size::new(1, 1), |a, b| {
            Size::new(a.width.max(b.width), a.height.max(b.height))
        });
    swap(need)
}

/// `len` scaled by `eighths`/8, rounded up, as the decoder computes it.
fn scaled(len: u32, eighths: u32) -> u32 {
    (len * eighths).div_ceil(8)
}

/// The smallest of `scales` (in eighths) at which a `full` image is at least `need` on both
/// axes; full size when none is.
fn eighths_for(full: Size, need: Size, scales: &[u32]) -> u32 {
    scales
        .iter()
        .copied()
        .find(|&k| scaled(full.width, k) >= need.width && scaled(full.height, k) >= need.height)
        .unwrap_or(8)
}

/// Sets the decoder's DCT scale and returns decoded pixels per original pixel.
///
/// The decoder picks the smallest scale that reaches the requested size on *one* axis; the
/// result is checked on both and falls back to full size in the rare case it falls short.
fn choose_scale(decoder: &mut Decoder<&[u8]>, full: Size, need: Size) -> Result<f64, Rejection> {
    let k = eighths_for(full, need, &EIGHTHS);
    let request = |len: u32| u16::try_from(len).unwrap_or(u16::MAX);
    let (w, h) = decoder
        .scale(
            request(scaled(full.width, k)),
            request(scaled(full.height, k)),
        )
        .map_err(jpeg_error)?;
    let (w, h) = (u32::from(w), u32::from(h));
    if w < need.width || h < need.height {
        decoder
            .scale(request(full.width), request(full.height))
            .map_err(jpeg_error)?;
        return Ok(1.0);
    }
    let actual = EIGHTHS
        .into_iter()
        .find(|&k| scaled(full.width, k) == w && scaled(full.height, k) == h)
        .unwrap_or(8);
    Ok(f64::from(actual) / 8.0)
}

/// Converts the decoder's output (grey, RGB or CMYK; 8 or, for lossless, 16 bits) to RGB.
fn to_rgb(pixels: Vec<u8>, info: ImageInfo, data: &[u8]) -> Result<RgbImage, Rejection> {
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let len = pixels.len();
    let mismatch = || size_mismatch(Format::Jpeg, len, w, h);
    let channels = match info.pixel_format {
        PixelFormat::L8 | PixelFormat::L16 => 1,
        PixelFormat::RGB24 => 3,
        PixelFormat::CMYK32 => 4,
    };
    let samples = pixels::pixel_count(w, h)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(mismatch)?;
    let rgb = if len == samples {
        match channels {
            1 => pixels::grey_to_rgb(&pixels),
            3 => pixels,
            // jpeg-decoder un-inverts Adobe CMYK/YCCK, so these are ink amounts.
            _ => pixels::cmyk_to_rgb(&pixels),
        }
    } else if Some(len) == samples.checked_mul(2) && channels != 4 {
        // Lossless JPEG with more (or fewer) than 8 bits per sample: native-endian u16.
        let bits = sof_precision(data).unwrap_or(16).clamp(2, 16);
        let eight = pixels::samples16_to_8(&pixels, u16::MAX >> (16 - bits));
        if channels == 1 {
            pixels::grey_to_rgb(&eight)
        } else {
            eight
        }
    } else {
        return Err(mismatch());
    };
    RgbImage::new(w, h, rgb).ok_or_else(|| size_mismatch(Format::Jpeg, samples, w, h))
}

/// The sample precision (bits) from the first SOF marker, walking the marker segments.
fn sof_precision(data: &[u8]) -> Option<u8> {
    let mut at = 2; // after SOI
    loop {
        while *data.get(at)? != 0xFF {
            at += 1;
        }
        while *data.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *data.get(at)?;
        at += 1;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return data.get(at + 2).copied();
            }
            0x01 | 0xD0..=0xD9 => {}
            _ => {
                let len = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
                at += usize::from(len);
            }
        }
    }
}

/// The decoder's error as a rejection with its reason.
fn jpeg_error(error: Error) -> Rejection {
    match error {
        Error::Format(reason) => Rejection::Corrupt(format!("the JPEG is damaged: {reason}")),
        Error::Unsupported(feature) => Rejection::UnsupportedFormat(format!(
            "the JPEG uses a feature this plugin does not read: {feature:?}"
        )),
        Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Rejection::Corrupt("the JPEG data ends early: the file is truncated".to_owned())
        }
        other => Rejection::Corrupt(format!("the JPEG could not be decoded: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_smallest_that_covers_both_axes() {
        let full = Size::new(4000, 3000);
        let general = |full, need| eighths_for(full, need, &EIGHTHS);
        assert_eq!(general(full, Size::new(128, 96)), 1);
        assert_eq!(general(full, Size::new(500, 375)), 1);
        assert_eq!(general(full, Size::new(501, 375)), 2);
        assert_eq!(general(full, Size::new(1500, 1125)), 4);
        assert_eq!(general(full, Size::new(2001, 10)), 8);
        assert_eq!(general(Size::new(9, 9), Size::new(2, 2)), 1);
        assert_eq!(general(Size::new(9, 9), Size::new(3, 3)), 2);
        let fast = |full, need| eighths_for(full, need, &FAST_EIGHTHS);
        assert_eq!(fast(full, Size::new(501, 375)), 2);
        assert_eq!(fast(full, Size::new(1001, 375)), 3);
        assert_eq!(fast(full, Size::new(1500, 1125)), 3);
        assert_eq!(fast(full, Size::new(1501, 1125)), 4);
        // A 1920x1200 photo's centre square (1200x1200) for a 648x648 rendition: 5/8.
        assert_eq!(fast(Size::new(1920, 1200), Size::new(648, 648)), 5);
        assert_eq!(fast(full, Size::new(3501, 10)), 8);
    }

    #[test]
    fn sof_precision_skips_segments() {
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, // APP0 with two bytes
            0xFF, 0xFF, 0xC3, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0, // SOF3, 12 bits
        ];
        assert_eq!(sof_precision(&jpeg), Some(12));
        assert_eq!(sof_precision(&jpeg[..10]), None);
        assert_eq!(sof_precision(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF]), None);
    }
}
