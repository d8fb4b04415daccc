//! Decoding untrusted bytes into an upright 8-bit RGB image.
//!
//! Both paths read the header first and refuse oversized images before any pixel buffer is
//! allocated. JPEG goes through `jpeg-decoder` with DCT-domain downscaling (the main speed
//! lever), or at 1/8 scale through `dc_only`, which reads only the DC coefficients; the other
//! formats go through the `image` crate at full size.

mod dc_only;
mod jpeg;
mod other;

use crate::error::Rejection;
use crate::geometry::{Fit, Size};
use crate::orient::{self, Orientation};
use crate::pixels::{Rgb, RgbImage};
use crate::sniff::Format;

/// What the caller needs from the decoder.
#[derive(Debug, Clone)]
pub struct Request {
    /// The renditions' boxes, each with how the image will be fitted into it: a JPEG is
    /// decoded at the smallest scale that serves every one.
    pub boxes: Vec<(Size, Fit)>,
    /// Largest declared width × height that is decoded.
    pub max_pixels: u64,
    /// Colour transparent pixels are flattened onto.
    pub background: Rgb,
}

/// A decoded, upright image.
#[derive(Debug)]
pub struct Decoded {
    /// The pixels, upright, possibly smaller than the original (see `scale`).
    pub image: RgbImage,
    /// The original's upright size as declared in its header.
    pub full: Size,
    /// Decoded pixels per original pixel (a number of eighths: 1/8 to 8/8).
    pub scale: f64,
    /// The Exif orientation that was applied.
    pub orientation: Orientation,
    /// Whether a JPEG was decoded from its DC coefficients alone (the 1/8-scale fast path).
    pub dc_only: bool,
}

/// The decoder's output before orientation: stored pixels and what to do with them.
#[derive(Debug)]
struct Stored {
    image: RgbImage,
    full: Size,
    scale: f64,
    orientation: Orientation,
    dc_only: bool,
}

/// Decodes `data`, which `sniff` recognised as `format`.
pub fn decode(format: Format, data: &[u8], request: &Request) -> Result<Decoded, Rejection> {
    let stored = match format {
        Format::Jpeg => jpeg::decode(data, request)?,
        _ => other::decode(format, data, request)?,
    };
    let orientation = stored.orientation;
    let full = if orientation.swaps_axes() {
        Size::new(stored.full.height, stored.full.width)
    } else {
        stored.full
    };
    Ok(Decoded {
        image: orient::apply(stored.image, orientation),
        full,
        scale: stored.scale,
        orientation,
        dc_only: stored.dc_only,
    })
}

/// Refuses zero sizes (corrupt) and sizes over the pixel limit (too large), naming both.
fn check_size(format: Format, width: u32, height: u32, max_pixels: u64) -> Result<(), Rejection> {
    if width == 0 || height == 0 {
        return Err(Rejection::Corrupt(format!(
            "the {} header declares a size of {width}x{height} pixels",
            format.name()
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Rejection::TooLarge(format!(
            "the {} declares {width}x{height} pixels ({:.1} megapixels), more than the limit of \
             {max_pixels} pixels (setting max-pixels)",
            format.name(),
            pixels as f64 / 1e6
        )));
    }
    Ok(())
}

/// A decoder's output whose length does not match its size: a decoder bug or a broken file.
fn size_mismatch(format: Format, len: usize, width: u32, height: u32) -> Rejection {
    Rejection::Corrupt(format!(
        "the {} decoder returned {len} bytes for {width}x{height} pixels",
        format.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_checks_name_dimensions_and_limit() {
        let err = check_size(Format::Png, 60000, 60000, 100_000_000)
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.starts_with("too large: the PNG declares 60000x60000 pixels (3600.0 megapixels)"),
            "{err}"
        );
        assert!(err.contains("100000000"), "{err}");
        assert!(matches!(
            check_size(Format::Jpeg, 0, 10, 100),
            Err(Rejection::Corrupt(_))
        ));
        assert!(check_size(Format::Jpeg, 10, 10, 100).is_ok());
        assert!(check_size(Format::Jpeg, 10, 11, 100).is_err());
    }
}
