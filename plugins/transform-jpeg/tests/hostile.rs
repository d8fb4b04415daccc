//! Damaged and hostile bytes must give a rejection, never a panic: truncations and byte
//! flips of small valid images in every format, run through the whole transform.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use image::{DynamicImage, ImageBuffer, ImageFormat};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
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

/// JPEGs big enough for a 16×16 rendition to be decoded at 1/8 scale, which takes the DC-only
/// path: 4:2:0 with restart intervals, 4:4:4 with an Exif block, and greyscale.
fn thumbnail_samples() -> Vec<Vec<u8>> {
    let exif = exif_orientation(6);
    let options: [(ColorType, SamplingFactor, u16, Option<&[u8]>); 3] = [
        (ColorType::Rgb, SamplingFactor::R_4_2_0, 3, None),
        (ColorType::Rgb, SamplingFactor::R_4_4_4, 0, Some(&exif)),
        (ColorType::Luma, SamplingFactor::R_4_2_0, 0, None),
    ];
    options
        .into_iter()
        .map(|(color, sampling, restart, exif)| {
            let pixels = noise(136, 128);
            let data = match color {
                ColorType::Luma => &pixels[..136 * 128],
                _ => &pixels[..],
            };
            let mut out = Vec::new();
            let mut encoder = Encoder::new(&mut out, 90);
            encoder.set_sampling_factor(sampling);
            if restart > 0 {
                encoder.set_restart_interval(restart);
            }
            if let Some(exif) = exif {
                encoder.add_exif_metadata(exif).unwrap();
            }
            encoder.encode(data, 136, 128, color).unwrap();
            out
        })
        .collect()
}

#[test]
fn damaged_thumbnail_sources_never_panic() {
    let p = profile(16, 16, Fit::Crop);
    let mut state = 0x7f4a_7c15_u32;
    for bytes in thumbnail_samples() {
        let done = transform_jpeg::pipeline::transform([], &bytes, &p).unwrap();
        assert!(done.note.contains("DC only"), "{}", done.note);
        for len in (0..bytes.len()).step_by(bytes.len() / 200) {
            let _ = run(&bytes[..len], &p, &[]);
        }
        for _ in 0..200 {
            let mut damaged = bytes.clone();
            for _ in 0..2 {
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
