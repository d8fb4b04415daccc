//! The builtin transform-jpeg plugin, loaded through the host runtime: orientation, colour
//! models, progressive input, alpha, limits, and hostile photos.

use photosync::plugins::jpeg::inspect;
use photosync::plugins::{Fit, Profile, Rejection, Rendition, Runtime};
use photosync::profiles::{jpeg_photo, thumbnail_photo};
use photosync_tests::fixtures::*;
use photosync_tests::plugins::{runtime, transformer};

fn transform(rt: &Runtime, photo: &[u8], profile: &Profile) -> Result<Rendition, Rejection> {
    transformer(rt)
        .transform(photo, profile)
        .expect("the plugin does not fail")
}

/// The output is a baseline JPEG without metadata, within the profile's limits.
fn assert_well_formed(r: &Rendition, profile: &Profile) {
    let info = inspect(&r.jpeg).expect("output is a JPEG");
    assert!(info.baseline, "baseline");
    assert!(
        !info.has_metadata(),
        "no metadata: APP{:?}",
        info.app_markers
    );
    assert_eq!((info.width, info.height), (r.width, r.height));
    assert!(r.width <= profile.max_width && r.height <= profile.max_height);
    assert!(
        r.jpeg.len() <= profile.max_bytes as usize,
        "{} bytes",
        r.jpeg.len()
    );
}

/// The four quadrant colours are where [`quadrants`] puts them.
fn assert_upright(r: &Rendition, label: &str) {
    let img = decode(&r.jpeg);
    let (w, h) = (img.width, img.height);
    let probes = [
        (w / 4, h / 4),
        (3 * w / 4, h / 4),
        (w / 4, 3 * h / 4),
        (3 * w / 4, 3 * h / 4),
    ];
    for (i, (x, y)) in probes.into_iter().enumerate() {
        let got = img.at(x, y);
        assert!(
            close(got, QUADRANT_COLOURS[i], 40),
            "{label}: quadrant {i} is {got:?}, want {:?}",
            QUADRANT_COLOURS[i]
        );
    }
}

#[test]
fn jpeg_exif_orientations_1_to_8_come_out_upright_without_exif() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let shown = quadrants(120, 80);
    for o in 1..=8 {
        let stored = stored_for_orientation(&shown, o);
        let photo = jpeg(
            &stored,
            JpegOptions {
                orientation: Some(o),
                ..JpegOptions::default()
            },
        );
        let profile = Profile {
            fit: Fit::Contain,
            ..jpeg_photo()
        };
        let r = transform(&rt, &photo, &profile).expect("transforms");
        assert_well_formed(&r, &profile);
        assert_eq!(
            (r.width, r.height),
            (120, 80),
            "orientation {o}: displayed size"
        );
        assert_upright(&r, &format!("JPEG orientation {o}"));
    }
}

#[test]
fn png_exif_orientations_1_to_8_come_out_upright() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let shown = quadrants(120, 80);
    for o in 1..=8 {
        let stored = stored_for_orientation(&shown, o);
        let rgba: Vec<u8> = stored
            .pixels
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let photo = png_rgba(stored.width, stored.height, &rgba, Some(o));
        let r = transform(&rt, &photo, &thumbnail_photo()).expect("transforms");
        assert_well_formed(&r, &thumbnail_photo());
        assert_eq!((r.width, r.height), (96, 96));
        assert_upright(&r, &format!("PNG orientation {o}"));
    }
}

#[test]
fn a_4_megapixel_photo_becomes_a_96px_thumbnail_under_10_kb() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let photo = jpeg(&photo_like(2448, 1632, 7), JpegOptions::default());
    let r = transform(&rt, &photo, &thumbnail_photo()).expect("transforms");
    assert_well_formed(&r, &thumbnail_photo());
    assert_eq!((r.width, r.height), (96, 96));
    assert!(
        r.jpeg.len() <= 10_240,
        "aims at Exchange Online's 10 KB: {} bytes",
        r.jpeg.len()
    );
}

#[test]
fn cmyk_grey_and_progressive_jpegs_are_converted() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let image = quadrants(200, 200);
    let cases = [
        ("cmyk", cmyk_jpeg(&image)),
        (
            "progressive",
            jpeg(
                &image,
                JpegOptions {
                    progressive: true,
                    ..JpegOptions::default()
                },
            ),
        ),
    ];
    for (label, photo) in cases {
        let r =
            transform(&rt, &photo, &thumbnail_photo()).unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_well_formed(&r, &thumbnail_photo());
        assert_upright(&r, label);
    }
    let r = transform(&rt, &grey_jpeg(&image), &thumbnail_photo()).expect("grey transforms");
    assert_well_formed(&r, &thumbnail_photo());
    let px = decode(&r.jpeg).at(24, 24);
    assert!(
        px[0].abs_diff(px[1]) < 8 && px[1].abs_diff(px[2]) < 8,
        "grey stays grey: {px:?}"
    );
}

#[test]
fn png_alpha_is_flattened_on_white() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    // Left half transparent, right half opaque blue.
    let (w, h) = (100u32, 100u32);
    let rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            if i % w < w / 2 {
                [0, 0, 0, 0]
            } else {
                [20, 20, 230, 255]
            }
        })
        .collect();
    let r = transform(&rt, &png_rgba(w, h, &rgba, None), &thumbnail_photo()).expect("transforms");
    assert_well_formed(&r, &thumbnail_photo());
    let img = decode(&r.jpeg);
    assert!(
        close(img.at(10, 48), [255, 255, 255], 12),
        "transparent became white: {:?}",
        img.at(10, 48)
    );
    assert!(
        close(img.at(85, 48), [20, 20, 230], 30),
        "opaque kept: {:?}",
        img.at(85, 48)
    );
}

#[test]
fn the_byte_limit_is_always_met() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let photo = jpeg(
        &photo_like(1200, 900, 3),
        JpegOptions {
            quality: 98,
            ..JpegOptions::default()
        },
    );
    for max_bytes in [4_000u32, 20_000, 60_000] {
        let profile = Profile {
            max_bytes,
            target_bytes: max_bytes,
            ..jpeg_photo()
        };
        let r = transform(&rt, &photo, &profile).expect("fits");
        assert_well_formed(&r, &profile);
    }
}

#[test]
fn hostile_photos_get_clear_rejections() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let good = jpeg(&photo_like(640, 480, 5), JpegOptions::default());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zero bytes", vec![]),
        (
            "text named .jpg",
            b"Dear HR, please find my photo attached.\n".to_vec(),
        ),
        ("truncated JPEG", good[..good.len() / 3].to_vec()),
        ("PNG declaring 60000x60000", png_declaring(60_000, 60_000)),
        ("JPEG declaring 65000x65000", jpeg_declaring(65_000, 65_000)),
    ];
    for (label, photo) in cases {
        let out = transformer(&rt).transform(&photo, &thumbnail_photo());
        let rejection = match out {
            Ok(Err(rejection)) => rejection,
            other => panic!("{label}: expected a rejection, got {other:?}"),
        };
        let ok = match label {
            "zero bytes" | "text named .jpg" => {
                matches!(rejection, Rejection::UnsupportedFormat(_))
            }
            "truncated JPEG" => matches!(rejection, Rejection::Corrupt(_)),
            _ => matches!(&rejection, Rejection::TooLarge(r) if r.contains("000")),
        };
        assert!(ok, "{label}: {rejection:?}");
    }
}

/// The mean difference per channel between two images of the same size, in levels.
fn mean_difference(a: &Rgb, b: &Rgb) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let total: u64 = a
        .pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.pixels.len() as f64
}

#[test]
fn one_transform_all_call_gives_each_rendition_within_its_profile() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let plugin = transformer(&rt);
    assert!(
        plugin.makes_all_at_once(),
        "the builtin exports transform-all"
    );
    let exchange = Profile {
        attribute: "exchangePhoto".into(),
        max_width: 300,
        max_height: 200,
        target_bytes: 10_240,
        fit: Fit::Contain,
        ..thumbnail_photo()
    };
    let broken = Profile {
        attribute: "brokenPhoto".into(),
        max_bytes: 100,
        ..thumbnail_photo()
    };
    let profiles = [thumbnail_photo(), jpeg_photo(), broken, exchange];
    for (photo, kind) in [
        (
            jpeg(&photo_like(2400, 1600, 3), JpegOptions::default()),
            "baseline",
        ),
        (
            jpeg(
                &photo_like(2400, 1600, 4),
                JpegOptions {
                    progressive: true,
                    ..JpegOptions::default()
                },
            ),
            "progressive",
        ),
    ] {
        let answers = plugin
            .transform_all(&photo, &profiles)
            .expect("the plugin does not fail");
        assert_eq!(answers.len(), profiles.len());
        for (answer, profile) in answers.iter().zip(&profiles) {
            if profile.attribute == "brokenPhoto" {
                // One bad profile is that profile's rejection alone.
                assert!(
                    matches!(answer, Err(Rejection::InvalidSetting(r)) if r.contains("max-bytes 100")),
                    "{kind}: {answer:?}"
                );
                continue;
            }
            let r = answer.as_ref().expect("a rendition");
            assert_well_formed(r, profile);
            // The same picture as a call for this profile alone, within a few levels: the
            // renditions come from one decode at the scale the largest needs.
            let alone = transform(&rt, &photo, profile).expect("a rendition");
            assert_eq!((r.width, r.height), (alone.width, alone.height), "{kind}");
            let diff = mean_difference(&decode(&r.jpeg), &decode(&alone.jpeg));
            assert!(
                diff < 4.0,
                "{kind} {}: {diff:.2} levels apart",
                profile.attribute
            );
        }
        assert_eq!(answers[0].as_ref().map(|r| r.width).ok(), Some(96));
        assert_eq!(answers[1].as_ref().map(|r| r.width).ok(), Some(648));
    }
}
