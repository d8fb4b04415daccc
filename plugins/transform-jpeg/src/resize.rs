//! Renders a plan: scales the planned part of the decoded image with `fast_image_resize`
//! straight into its place on the canvas (its crop option selects the source part, a cropped
//! view of the canvas is the destination), so no pixels are copied around.
//!
//! On wasm32 built with `+simd128`, `fast_image_resize` picks its SIMD128 code paths
//! (`CpuExtensions::Simd128`) by default; `cpu_extensions()` reports which one is in use.

use fast_image_resize::images::{CroppedImageMut, Image, ImageRef};
use fast_image_resize::{CpuExtensions, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::error::Rejection;
use crate::geometry::Plan;
use crate::pixels::{Rgb, RgbImage};
use crate::settings::Filter;

/// The SIMD extension the resizer uses on this machine, for the debug log.
pub fn cpu_extensions() -> CpuExtensions {
    Resizer::new().cpu_extensions()
}

/// Renders `plan` from `source`, whose pixels are `scale` times the plan's (full-size)
/// coordinates; the border of a padded canvas is `background`.
pub fn render(
    source: &RgbImage,
    scale: f64,
    plan: &Plan,
    filter: Filter,
    background: Rgb,
) -> Result<RgbImage, Rejection> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Rejection::Corrupt(format!(
            "resizing failed ({what}): {e}; this is a plugin bug"
        ))
    };
    let src = ImageRef::new(source.width, source.height, &source.data, PixelType::U8x3)
        .map_err(|e| failed("source", &e))?;
    let (width, height) = (plan.canvas.width, plan.canvas.height);
    let mut canvas = if plan.canvas == plan.scaled {
        Image::new(width, height, PixelType::U8x3)
    } else {
        let filled = RgbImage::filled(width, height, background)
            .ok_or_else(|| failed("canvas", &"too large"))?;
        Image::from_vec_u8(width, height, filled.data, PixelType::U8x3)
            .map_err(|e| failed("canvas", &e))?
    };
    let (x, y) = plan.offset;
    let mut target = CroppedImageMut::new(&mut canvas, x, y, plan.scaled.width, plan.scaled.height)
        .map_err(|e| failed("placement", &e))?;
    let crop = source_crop(source, scale, plan);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter_type(filter)))
        .crop(crop.0, crop.1, crop.2, crop.3);
    Resizer::new()
        .resize(&src, &mut target, &options)
        .map_err(|e| failed("scaling", &e))?;
    Ok(RgbImage {
        width: canvas.width(),
        height: canvas.height(),
        data: canvas.into_vec(),
    })
}

/// The plan's source rectangle in decoded pixels, kept inside the decoded image.
fn source_crop(source: &RgbImage, scale: f64, plan: &Plan) -> (f64, f64, f64, f64) {
    let (w, h) = (f64::from(source.width), f64::from(source.height));
    let left = (plan.source.left * scale).clamp(0.0, w - 1.0);
    let top = (plan.source.top * scale).clamp(0.0, h - 1.0);
    let width = (plan.source.width * scale).clamp(1.0, w - left);
    let height = (plan.source.height * scale).clamp(1.0, h - top);
    (left, top, width, height)
}

fn filter_type(filter: Filter) -> FilterType {
    match filter {
        Filter::Lanczos3 => FilterType::Lanczos3,
        Filter::CatmullRom => FilterType::CatmullRom,
        Filter::Mitchell => FilterType::Mitchell,
        Filter::Bilinear => FilterType::Bilinear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Fit, Size, plan};

    fn gradient(width: u32, height: u32) -> RgbImage {
        let data = (0..width * height)
            .flat_map(|i| [(i % width * 8) as u8, 100, 200])
            .collect();
        RgbImage {
            width,
            height,
            data,
        }
    }

    #[test]
    fn pad_fills_the_border_with_the_background() {
        let source = gradient(32, 16);
        let p = plan(Size::new(32, 16), Size::new(16, 16), Fit::Pad);
        let bg = Rgb { r: 1, g: 2, b: 3 };
        let out = render(&source, 1.0, &p, Filter::Lanczos3, bg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (out.width, out.height, out.data.len()),
            (16, 16, 16 * 16 * 3)
        );
        assert_eq!(&out.data[..3], &[1, 2, 3], "top border");
        assert_eq!(&out.data[out.data.len() - 3..], &[1, 2, 3], "bottom border");
        let middle = (8 * 16 + 8) * 3;
        assert_eq!(&out.data[middle + 1..middle + 3], &[100, 200], "content");
    }

    #[test]
    fn crop_maps_full_size_coordinates_onto_a_downscaled_source() {
        // The "original" is 64x32; the decoder delivered it at 1/2.
        let source = gradient(32, 16);
        let p = plan(Size::new(64, 32), Size::new(8, 8), Fit::Crop);
        let out = render(&source, 0.5, &p, Filter::Bilinear, Rgb { r: 0, g: 0, b: 0 });
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.width, out.height), (8, 8));
        // The centre half of a left-to-right ramp 0..248: from about 64 to about 184.
        assert!((60..=80).contains(&out.data[0]), "{}", out.data[0]);
        assert!(
            (168..=190).contains(&out.data[7 * 3]),
            "{}",
            out.data[7 * 3]
        );
    }
}
