//! End-to-end tests of the transform on small generated images, natively: formats, colour
//! models, orientation, geometry, filters.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use jpeg_encoder::ColorType;
use transform_jpeg::geometry::Fit;

#[test]
fn jpeg_is_cropped_to_the_exact_box() {
    let photo = rgb_jpeg(&quadrants(400, 300), 400, 300);
    let (r, pixels) = ok(&photo, &profile(96, 96, Fit::Crop), &[]);
    assert_eq!((r.width, r.height, r.quality), (96, 96, 90));
    assert!(r.jpeg.len() <= 10 * 1024);
    assert!(
        near(at(&pixels, 96, 5, 5), RED, 40),
        "{:?}",
        at(&pixels, 96, 5, 5)
    );
    assert!(near(at(&pixels, 96, 90, 90), WHITE, 40));
}

#[test]
fn progressive_and_greyscale_jpegs_decode() {
    let progressive = jpeg(&quadrants(200, 100), 200, 100, ColorType::Rgb, true, None);
    let (_, pixels) = ok(&progressive, &profile(40, 20, Fit::Crop), &[]);
    assert!(near(at(&pixels, 40, 35, 3), GREEN, 50));

    let grey = jpeg(&[77; 64 * 48], 64, 48, ColorType::Luma, false, None);
    let (r, pixels) = ok(&grey, &profile(32, 32, Fit::Contain), &[]);
    assert_eq!((r.width, r.height), (32, 24));
    assert!(near(at(&pixels, 32, 16, 12), [77, 77, 77], 3));
}

#[test]
fn cmyk_and_ycck_jpegs_become_the_right_colours() {
    // Ink amounts: cyan, then magenta + half black.
    let mut cmyk = Vec::new();
    for i in 0..64 * 32 {
        cmyk.extend_from_slice(if i % 64 < 32 {
            &[255, 0, 0, 0]
        } else {
            &[0, 255, 0, 128]
        });
    }
    for color in [ColorType::Cmyk, ColorType::CmykAsYcck] {
        let photo = jpeg(&cmyk, 64, 32, color, false, None);
        let (_, pixels) = ok(&photo, &profile(64, 32, Fit::Crop), &[]);
        assert!(
            near(at(&pixels, 64, 8, 16), [0, 255, 255], 12),
            "{color:?} {:?}",
            at(&pixels, 64, 8, 16)
        );
        assert!(
            near(at(&pixels, 64, 56, 16), [127, 0, 127], 12),
            "{color:?} {:?}",
            at(&pixels, 64, 56, 16)
        );
    }
}

#[test]
fn every_exif_orientation_is_applied() {
    // Stored quadrants: red TL, green TR, blue BL, white BR. Expected upright TL and TR.
    let expected = [
        (1, RED, GREEN),
        (2, GREEN, RED),
        (3, WHITE, BLUE),
        (4, BLUE, WHITE),
        (5, RED, BLUE),
        (6, BLUE, RED),
        (7, WHITE, GREEN),
        (8, GREEN, WHITE),
    ];
    for (value, top_left, top_right) in expected {
        let exif = exif_orientation(value);
        let photo = jpeg(
            &quadrants(64, 32),
            64,
            32,
            ColorType::Rgb,
            false,
            Some(&exif),
        );
        let (r, pixels) = ok(&photo, &profile(64, 64, Fit::Contain), &[]);
        let size = if value >= 5 { (32, 64) } else { (64, 32) };
        assert_eq!((r.width, r.height), size, "orientation {value}");
        assert!(
            near(at(&pixels, r.width, 2, 2), top_left, 40),
            "orientation {value} TL"
        );
        assert!(
            near(at(&pixels, r.width, r.width - 3, 2), top_right, 40),
            "orientation {value} TR"
        );
    }
}

#[test]
fn png_exif_orientation_is_applied() {
    let image = DynamicImage::ImageRgb8(ImageBuffer::from_raw(64, 32, quadrants(64, 32)).unwrap());
    let png = encode_with_image(image, ImageFormat::Png);
    let png = insert_after_ihdr(&png, &png_chunk(b"eXIf", &exif_orientation(6)));
    let (r, pixels) = ok(&png, &profile(64, 64, Fit::Contain), &[]);
    assert_eq!((r.width, r.height), (32, 64));
    assert!(near(at(&pixels, 32, 2, 2), BLUE, 40));
}

#[test]
fn alpha_is_flattened_onto_the_background() {
    let png = encode_with_image(half_transparent(64, 64), ImageFormat::Png);
    let settings = [("background", "0000ff")];
    let (_, pixels) = ok(&png, &profile(64, 64, Fit::Crop), &settings);
    assert!(near(at(&pixels, 64, 8, 32), RED, 30));
    assert!(near(at(&pixels, 64, 56, 32), BLUE, 30));
}

#[test]
fn sixteen_bit_png_is_reduced_to_eight_bits() {
    let image = ImageBuffer::from_fn(32, 32, |_, _| Rgb([65535u16, 32768, 0]));
    let png = encode_with_image(DynamicImage::ImageRgb16(image), ImageFormat::Png);
    let (_, pixels) = ok(&png, &profile(16, 16, Fit::Crop), &[]);
    assert!(
        near(at(&pixels, 16, 8, 8), [255, 128, 0], 6),
        "{:?}",
        at(&pixels, 16, 8, 8)
    );
}

#[test]
fn gif_bmp_webp_and_tiff_decode() {
    let image = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(48, 48, |x, y| {
        let rgb = [RED, GREEN, BLUE, WHITE][usize::from(x >= 24) + 2 * usize::from(y >= 24)];
        image::Rgba([rgb[0], rgb[1], rgb[2], 255])
    }));
    for format in [
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Tiff,
    ] {
        let bytes = encode_with_image(image.clone(), format);
        let (_, pixels) = ok(&bytes, &profile(24, 24, Fit::Crop), &[]);
        assert!(near(at(&pixels, 24, 2, 2), RED, 40), "{format:?}");
        assert!(near(at(&pixels, 24, 21, 21), WHITE, 40), "{format:?}");
    }
}

#[test]
fn pad_centres_on_the_background() {
    let photo = rgb_jpeg(&quadrants(200, 100), 200, 100);
    let (r, pixels) = ok(
        &photo,
        &profile(96, 96, Fit::Pad),
        &[("background", "00ff00")],
    );
    assert_eq!((r.width, r.height), (96, 96));
    assert!(near(at(&pixels, 96, 48, 5), GREEN, 30), "top border");
    assert!(
        near(at(&pixels, 96, 5, 30), RED, 40),
        "content starts at row 24"
    );
}

#[test]
fn small_sources_are_upscaled_for_crop_but_not_for_contain() {
    let photo = rgb_jpeg(&quadrants(40, 30), 40, 30);
    assert_eq!(ok(&photo, &profile(96, 96, Fit::Crop), &[]).0.width, 96);
    let (r, _) = ok(&photo, &profile(96, 96, Fit::Contain), &[]);
    assert_eq!((r.width, r.height), (40, 30));
}

#[test]
fn filters_and_444_subsampling_work() {
    let photo = rgb_jpeg(&quadrants(128, 128), 128, 128);
    for filter in ["lanczos3", "catmull-rom", "mitchell", "bilinear"] {
        let settings = [("filter", filter), ("subsampling", "444")];
        let (r, _) = ok(&photo, &profile(50, 50, Fit::Crop), &settings);
        assert_eq!((r.width, r.height), (50, 50));
    }
}

#[test]
fn dct_scaling_is_chosen_on_the_upright_size() {
    let exif = exif_orientation(6);
    let photo = jpeg(
        &quadrants(512, 256),
        512,
        256,
        ColorType::Rgb,
        false,
        Some(&exif),
    );
    let profile = profile(64, 64, Fit::Contain);
    let done = transform_jpeg::pipeline::transform([], &photo, &profile).unwrap();
    assert!(
        done.note
            .contains("at scale 1/8 to 32x64 (Rotate90, DC only)"),
        "{}",
        done.note
    );
    let r = done.rendition;
    assert_eq!((r.width, r.height), (32, 64));
    let (_, pixels) = ok(&photo, &profile, &[]);
    assert!(near(at(&pixels, 32, 4, 4), BLUE, 40));
    assert!(near(at(&pixels, 32, 28, 4), RED, 40));
    assert!(near(at(&pixels, 32, 4, 60), WHITE, 40));
}
