//! Damaged and hostile bytes must give a rejection, never a panic: truncations and byte
//! flips of small valid images in every format, run through the whole transform.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use image::{DynamicImage, ImageBuffer, ImageFormat};
use jpeg_encoder::ColorType;
use transform_jpeg::geometry::Fit;

/// Small valid images in every supported format and JPEG flavour.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let pixels = noise(24, 16);
    let image = DynamicImage::ImageRgb8(ImageBuffer::from_raw(24, 16, pixels.clone()).unwrap());
    let exif = exif_orientation(6);
    vec![
        (
            "baseline",
            jpeg(&pixels, 24, 16, ColorType::Rgb, false, Some(&exif)),
        ),
        (
            "progressive",
            jpeg(&pixels, 24, 16, ColorType::Rgb, true, None),
        ),
        (
            "cmyk",
            jpeg(
                &noise(24, 24)[..24 * 16 * 4],
                24,
                16,
                ColorType::Cmyk,
                false,
                None,
            ),
        ),
        ("png", encode_with_image(image.clone(), ImageFormat::Png)),
        ("gif", encode_with_image(image.clone(), ImageFormat::Gif)),
        ("bmp", encode_with_image(image.clone(), ImageFormat::Bmp)),
        ("webp", encode_with_image(image.clone(), ImageFormat::WebP)),
        ("tiff", encode_with_image(image, ImageFormat::Tiff)),
    ]
}

#[test]
fn truncations_never_panic() {
    let p = profile(16, 16, Fit::Crop);
    for (name, bytes) in samples() {
        assert!(run(&bytes, &p, &[]).is_ok(), "{name} intact");
        let step = (bytes.len() / 60).max(1);
        for len in (0..bytes.len()).step_by(step) {
            // Any outcome is fine as long as it is not a panic.
            let _ = run(&bytes[..len], &p, &[]);
        }
    }
}

#[test]
fn byte_flips_never_panic() {
    let p = profile(16, 16, Fit::Pad);
    let mut state = 0x9e37_79b9_u32;
    for (_, bytes) in samples() {
        for _ in 0..150 {
            let mut damaged = bytes.clone();
            for _ in 0..3 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = (state >> 8) as usize % damaged.len();
                damaged[at] = (state >> 24) as u8;
            }
            if let Ok(r) = run(&damaged, &p, &[]) {
                assert!(r.jpeg.len() <= p.max_bytes as usize);
            }
        }
    }
}
