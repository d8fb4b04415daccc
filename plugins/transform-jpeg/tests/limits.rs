//! End-to-end tests of the limits and the rejections: byte budget, pixel limit, damaged,
//! unsupported and misconfigured input.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use image::ImageFormat;
use transform_jpeg::error::Rejection;
use transform_jpeg::geometry::Fit;
use transform_jpeg::profile::Profile;

#[test]
fn target_bytes_lowers_the_quality() {
    let photo = rgb_jpeg(&noise(256, 256), 256, 256);
    let profile = Profile {
        target_bytes: 40_000,
        max_bytes: 200_000,
        ..profile(256, 256, Fit::Crop)
    };
    let (r, _) = ok(&photo, &profile, &[]);
    assert!(r.jpeg.len() <= 40_000, "{}", r.jpeg.len());
    assert!(r.quality < 90 && r.quality > 30, "{}", r.quality);
}

#[test]
fn shrinks_when_min_quality_exceeds_max_bytes() {
    let photo = rgb_jpeg(&noise(256, 256), 256, 256);
    let profile = Profile {
        target_bytes: 0,
        max_bytes: 2048,
        ..profile(200, 100, Fit::Crop)
    };
    let (r, _) = ok(&photo, &profile, &[]);
    assert_eq!(r.quality, 30);
    assert!(r.width < 200 && r.width >= 16, "{}", r.width);
    assert!(
        (r.width as f64 / r.height as f64 - 2.0).abs() < 0.1,
        "aspect kept"
    );

    let err = run(&photo, &profile, &[("min-size", "90")]).unwrap_err();
    assert!(matches!(err, Rejection::CannotFit(_)), "{err}");
    assert!(err.reason().contains("200x100 came to"), "{err}");
    assert!(err.reason().contains("min-size"), "{err}");
}

#[test]
fn oversized_headers_are_refused_before_decoding() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &png_chunk(b"IHDR", &ihdr)].concat();
    let err = run(&png, &profile(96, 96, Fit::Crop), &[]).unwrap_err();
    assert!(matches!(err, Rejection::TooLarge(_)), "{err}");
    assert!(
        err.reason().contains("60000x60000") && err.reason().contains("100000000"),
        "{err}"
    );

    let mut photo = rgb_jpeg(&quadrants(16, 16), 16, 16);
    let sof = photo.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    photo[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]); // 65000 x 65000
    let err = run(&photo, &profile(96, 96, Fit::Crop), &[]).unwrap_err();
    assert!(matches!(err, Rejection::TooLarge(_)), "{err}");
    assert!(err.reason().contains("65000x65000"), "{err}");

    let small_limit = [("max-pixels", "255")];
    let err = run(
        &rgb_jpeg(&quadrants(16, 16), 16, 16),
        &profile(8, 8, Fit::Crop),
        &small_limit,
    );
    assert!(matches!(err, Err(Rejection::TooLarge(_))));
}

#[test]
fn damaged_inputs_are_corrupt_with_a_reason() {
    let photo = rgb_jpeg(&noise(64, 64), 64, 64);
    let err = run(&photo[..photo.len() / 2], &profile(32, 32, Fit::Crop), &[]);
    assert!(matches!(err, Err(Rejection::Corrupt(_))), "{err:?}");

    let png = encode_with_image(half_transparent(32, 32), ImageFormat::Png);
    let err = run(&png[..png.len() - 30], &profile(32, 32, Fit::Crop), &[]).unwrap_err();
    assert!(matches!(err, Rejection::Corrupt(_)), "{err}");
    assert!(!err.reason().is_empty());

    let zero = [
        b"\x89PNG\r\n\x1a\n".as_slice(),
        &png_chunk(b"IHDR", &[0, 0, 0, 0, 0, 0, 0, 9, 8, 2, 0, 0, 0]),
    ]
    .concat();
    assert!(matches!(
        run(&zero, &profile(32, 32, Fit::Crop), &[]),
        Err(Rejection::Corrupt(_))
    ));
}

#[test]
fn unsupported_inputs_say_what_they_are() {
    let p = profile(32, 32, Fit::Crop);
    let err = run(b"", &p, &[]).unwrap_err();
    assert_eq!(
        err,
        Rejection::UnsupportedFormat("the file is empty".to_owned())
    );
    let err = run(b"name,employeeID\nalice,1\n", &p, &[]).unwrap_err();
    assert!(err.reason().contains("look like text"), "{err}");
}

#[test]
fn settings_and_profile_are_checked_first() {
    let p = profile(32, 32, Fit::Crop);
    let err = run(b"", &p, &[("colour", "fff")]).unwrap_err();
    assert!(matches!(err, Rejection::InvalidSetting(_)) && err.reason().contains("`colour`"));
    let bad = Profile {
        min_quality: 95,
        ..p
    };
    assert!(matches!(
        run(b"", &bad, &[]),
        Err(Rejection::InvalidSetting(_))
    ));
}

#[test]
fn other_formats_declaring_huge_sizes_are_too_large() {
    let p = profile(96, 96, Fit::Crop);
    // GIF: logical screen and first frame 60000x60000, then a truncated image.
    let mut gif = b"GIF89a\x60\xea\x60\xea\x00\x00\x00".to_vec();
    gif.extend_from_slice(b"\x2c\0\0\0\0\x60\xea\x60\xea\x00\x02\x02\x44\x01\x00\x3b");
    // BMP: 60000x60000, 24 bits, no pixel data.
    let mut bmp = b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0".to_vec();
    bmp.extend_from_slice(&60000u32.to_le_bytes());
    bmp.extend_from_slice(&60000u32.to_le_bytes());
    bmp.extend_from_slice(&[1, 0, 24, 0, 0, 0, 0, 0]);
    bmp.extend_from_slice(&[0; 20]);
    for (name, bytes) in [("gif", gif), ("bmp", bmp)] {
        let err = run(&bytes, &p, &[]).unwrap_err();
        assert!(matches!(err, Rejection::TooLarge(_)), "{name}: {err}");
        assert!(err.reason().contains("60000x60000"), "{name}: {err}");
    }
}
