//! PNG, GIF (first frame), BMP, WebP and TIFF through the `image` crate, at full size.
//!
//! The decoder reads the header first; the declared size is checked against `max-pixels`
//! before the pixel buffer is allocated, and allocations are capped by `image`'s `Limits`.

use std::io::{Cursor, ErrorKind};

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use super::{Request, Stored, check_size, size_mismatch};
use crate::error::Rejection;
use crate::geometry::Size;
use crate::orient::Orientation;
use crate::pixels::{self, Rgb, RgbImage};
use crate::sniff::Format;

/// Bytes per pixel allowed for the decoded buffer: enough for 16-bit RGBA.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Decodes a non-JPEG image at full size.
pub(super) fn decode(format: Format, data: &[u8], request: &Request) -> Result<Stored, Rejection> {
    if let Some((width, height)) = png_header_size(format, data) {
        // Checked before the decoder runs, so a header-only bomb is "too large", not "truncated".
        check_size(format, width, height, request.max_pixels)?;
    }
    let max_alloc = request.max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL);
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(data), image_format(format));
    // The decoders check these limits only against the header here (PNG also bounds its
    // metadata chunks by them); the pixel buffer comes after the size checks below.
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| image_error(format, e))?;
    let (width, height) = decoder.dimensions();
    check_size(format, width, height, request.max_pixels)?;
    if decoder.total_bytes() > max_alloc {
        return Err(Rejection::TooLarge(format!(
            "the {} would need {} bytes when decoded, more than {max_alloc} bytes \
             ({MAX_BYTES_PER_PIXEL} per pixel of max-pixels)",
            format.name(),
            decoder.total_bytes()
        )));
    }
    let orientation = decoder
        .orientation()
        .map_or(Orientation::Normal, Orientation::from_image);
    let decoded = DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, e))?;
    let rgb = into_rgb(decoded, request.background);
    let len = rgb.len();
    let image = RgbImage::new(width, height, rgb)
        .ok_or_else(|| size_mismatch(format, len, width, height))?;
    Ok(Stored {
        image,
        full: Size::new(width, height),
        scale: 1.0,
        orientation,
        dc_only: false,
    })
}

/// A PNG's size from its IHDR chunk, which must directly follow the signature.
fn png_header_size(format: Format, data: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?));
    (format == Format::Png && data.get(12..16) == Some(b"IHDR")).then_some((be(16)?, be(20)?))
}

fn image_format(format: Format) -> ImageFormat {
    match format {
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Png => ImageFormat::Png,
        Format::Gif => ImageFormat::Gif,
        Format::Bmp => ImageFormat::Bmp,
        Format::WebP => ImageFormat::WebP,
        Format::Tiff => ImageFormat::Tiff,
    }
}

/// 8-bit RGB from whatever the decoder produced: 16 bits are rounded to 8, grey is repeated,
/// alpha is flattened onto `background`.
fn into_rgb(image: DynamicImage, background: Rgb) -> Vec<u8> {
    match image {
        DynamicImage::ImageRgb8(buffer) => buffer.into_raw(),
        image if image.color().has_alpha() => {
            pixels::flatten_rgba(image.into_rgba8().into_raw(), background)
        }
        image => image.into_rgb8().into_raw(),
    }
}

/// The `image` crate's error as a rejection with its reason.
fn image_error(format: Format, error: ImageError) -> Rejection {
    let name = format.name();
    match error {
        ImageError::Limits(e) => {
            Rejection::TooLarge(format!("the {name} needs more memory than allowed: {e}"))
        }
        ImageError::Unsupported(e) => Rejection::UnsupportedFormat(format!(
            "the {name} uses a feature this plugin does not read: {e}"
        )),
        ImageError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            Rejection::Corrupt(format!("the {name} data ends early: the file is truncated"))
        }
        other => Rejection::Corrupt(format!("the {name} is damaged: {other}")),
    }
}
