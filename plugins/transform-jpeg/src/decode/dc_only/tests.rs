//! The DC-only path against `jpeg-decoder` at 1/8 scale on generated JPEGs of every layout it
//! takes, what it leaves to the general decoder, and damaged input.

#![allow(clippy::unwrap_used)]

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use super::{Header, decode};
use crate::pixels;

/// Smooth colours with stripes and noise, like a photo: `width` × `height` RGB.
fn photo(width: u16, height: u16, seed: u32) -> Vec<u8> {
    let mut state = seed.max(1);
    let mut out = Vec::new();
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state % 41) as i32 - 20;
            let stripe = if (x / 5 + y / 7) % 2 == 0 { 50 } else { 0 };
            let r = (x * 255 / u32::from(width)) as i32 + noise;
            let g = (y * 255 / u32::from(height)) as i32 + stripe - noise;
            let b = 255 - (x + y) as i32 % 256 + noise / 2;
            out.extend([r, g, b].map(|v| v.clamp(0, 255) as u8));
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Options {
    sampling: SamplingFactor,
    grey: bool,
    quality: u8,
    restart: u16,
    optimized: bool,
    /// Progressive as jpeg-encoder writes it: one DC scan per component, no successive
    /// approximation.
    progressive: bool,
}

/// Progressive as jpeg-encoder writes it, with `sampling` and a restart interval of `restart`.
fn progressive(sampling: SamplingFactor, restart: u16) -> Options {
    Options {
        sampling,
        restart,
        progressive: true,
        ..DEFAULT
    }
}

/// Every luma sampling the fast paths take against 1×1 chroma.
const SAMPLINGS: [SamplingFactor; 4] = [
    SamplingFactor::R_4_4_4,
    SamplingFactor::R_4_2_2,
    SamplingFactor::R_4_4_0,
    SamplingFactor::R_4_2_0,
];

const DEFAULT: Options = Options {
    sampling: SamplingFactor::R_4_2_0,
    grey: false,
    quality: 90,
    restart: 0,
    optimized: false,
    progressive: false,
};

fn encode(width: u16, height: u16, options: Options) -> Vec<u8> {
    let rgb = photo(width, height, u32::from(width) * 31 + u32::from(height));
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, options.quality);
    encoder.set_sampling_factor(options.sampling);
    encoder.set_optimized_huffman_tables(options.optimized);
    encoder.set_progressive(options.progressive);
    if options.restart > 0 {
        encoder.set_restart_interval(options.restart);
    }
    if options.grey {
        let grey: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
        encoder
            .encode(&grey, width, height, ColorType::Luma)
            .unwrap();
    } else {
        encoder.encode(&rgb, width, height, ColorType::Rgb).unwrap();
    }
    out
}

/// `jpeg-decoder` at 1/8 scale, as RGB.
fn reference(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    reference_at(jpeg, 1)
}

/// `jpeg-decoder` at `eighths`/8 scale, as RGB.
fn reference_at(jpeg: &[u8], eighths: u16) -> (u32, u32, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    let scaled = |len: u16| (u32::from(len) * u32::from(eighths)).div_ceil(8) as u16;
    decoder
        .scale(scaled(info.width), scaled(info.height))
        .unwrap();
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels::grey_to_rgb(&pixels),
        _ => pixels,
    };
    (info.width.into(), info.height.into(), rgb)
}

fn fast(jpeg: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    let header = Header::parse(jpeg)?;
    let image = decode(jpeg, &header)?.image;
    Some((image.width, image.height, image.data))
}

/// Decodes both ways and checks sizes and that no channel differs by more than `tolerance`.
fn assert_matches(jpeg: &[u8], what: &str) {
    let (w, h, expected) = reference(jpeg);
    let (fw, fh, actual) = fast(jpeg).unwrap_or_else(|| panic!("{what}: the fast path refused"));
    assert_eq!((fw, fh), (w, h), "{what}");
    let worst = expected
        .iter()
        .zip(&actual)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    let total: u64 = expected
        .iter()
        .zip(&actual)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = total as f64 / expected.len().max(1) as f64;
    // jpeg-decoder rounds block means down where this path rounds to nearest, so a difference
    // of about one level on average is expected (the mean says little for a few pixels).
    let tiny = expected.len() < 300;
    assert!(
        worst <= 4 && (mean < 1.5 || tiny),
        "{what}: worst {worst}, mean {mean:.2}"
    );
}

#[test]
fn matches_the_general_decoder_for_every_sampling() {
    for sampling in SAMPLINGS {
        for (w, h) in [(203, 157), (256, 128), (17, 9), (8, 8), (1, 1), (9, 33)] {
            let options = Options {
                sampling,
                ..DEFAULT
            };
            assert_matches(&encode(w, h, options), &format!("{sampling:?} {w}x{h}"));
        }
    }
}

#[test]
fn matches_for_grey_quality_and_table_variants() {
    for (w, h) in [(203, 157), (64, 64), (3, 5)] {
        let grey = Options {
            grey: true,
            ..DEFAULT
        };
        assert_matches(&encode(w, h, grey), &format!("grey {w}x{h}"));
    }
    // A lone component is one block per MCU whatever sampling factors it declares.
    let mut grey = encode(
        75,
        41,
        Options {
            grey: true,
            ..DEFAULT
        },
    );
    let sampling = find_marker(&grey, 0xC0) + 11;
    assert_eq!(grey[sampling], 0x11);
    grey[sampling] = 0x22;
    assert_matches(&grey, "grey declaring 2x2");
    for quality in [1, 30, 75, 100] {
        let options = Options { quality, ..DEFAULT };
        assert_matches(&encode(120, 90, options), &format!("quality {quality}"));
    }
}

#[test]
fn matches_with_restart_intervals() {
    for restart in [1, 3, 7, 100] {
        for sampling in [SamplingFactor::R_4_2_0, SamplingFactor::R_4_4_4] {
            let options = Options {
                restart,
                sampling,
                ..DEFAULT
            };
            assert_matches(&encode(203, 157, options), &format!("restart {restart}"));
        }
        let grey = Options {
            restart,
            grey: true,
            ..DEFAULT
        };
        assert_matches(&encode(99, 45, grey), &format!("grey restart {restart}"));
    }
}

/// The offset of the first `FF <marker>` in `jpeg`.
fn find_marker(jpeg: &[u8], marker: u8) -> usize {
    jpeg.windows(2).position(|w| w == [0xFF, marker]).unwrap()
}

#[test]
fn other_layouts_are_left_to_the_general_decoder() {
    let cmyk = {
        let mut out = Vec::new();
        let encoder = Encoder::new(&mut out, 90);
        encoder
            .encode(&[9; 64 * 64 * 4], 64, 64, ColorType::Cmyk)
            .unwrap();
        out
    };
    assert!(Header::parse(&cmyk).is_none(), "CMYK");
    let wide = Options {
        sampling: SamplingFactor::R_4_1_1,
        ..DEFAULT
    };
    assert!(Header::parse(&encode(64, 64, wide)).is_none(), "4:1:1");
    // jpeg-encoder writes one scan per component when it optimises the tables.
    let optimized = Options {
        optimized: true,
        ..DEFAULT
    };
    assert!(
        Header::parse(&encode(64, 64, optimized)).is_none(),
        "one scan per component"
    );

    let baseline = encode(64, 64, DEFAULT);
    let sof = find_marker(&baseline, 0xC0);
    let mut arithmetic = baseline.clone();
    arithmetic[sof + 1] = 0xC9;
    assert!(Header::parse(&arithmetic).is_none(), "arithmetic");
    let mut twelve_bit = baseline.clone();
    twelve_bit[sof + 4] = 12;
    assert!(Header::parse(&twelve_bit).is_none(), "12-bit");
    // An Adobe marker saying the three components are RGB, not YCbCr.
    let mut adobe = b"\xFF\xD8\xFF\xEE\x00\x0EAdobe\x00\x64\x00\x00\x00\x00\x00".to_vec();
    adobe.extend_from_slice(&baseline[2..]);
    assert!(Header::parse(&adobe).is_some(), "JFIF outranks Adobe");
    // SOI and APP14 take 18 bytes, the JFIF APP0 the next 18.
    assert_eq!(adobe[18..20], [0xFF, 0xE0]);
    let without_jfif: Vec<u8> = [&adobe[..18], &adobe[36..]].concat();
    assert!(Header::parse(&without_jfif).is_none(), "Adobe RGB");
    assert!(Header::parse(&baseline).is_some());
}

#[test]
fn wrong_restart_numbers_are_left_to_the_general_decoder() {
    let options = Options {
        restart: 2,
        ..DEFAULT
    };
    let jpeg = encode(203, 157, options);
    assert!(fast(&jpeg).is_some());
    let mut wrong = jpeg.clone();
    let rst1 = find_marker(&wrong, 0xD1);
    wrong[rst1 + 1] = 0xD3;
    assert!(fast(&wrong).is_none());
    let header = Header::parse(&wrong).unwrap();
    for eighths in [2, 4] {
        assert!(decode_at(&wrong, &header, eighths).is_none(), "{eighths}/8");
    }
    let mut missing = jpeg;
    let rst1 = find_marker(&missing, 0xD1);
    missing.drain(rst1..rst1 + 2);
    assert!(fast(&missing).is_none());
}

#[test]
fn exif_is_found_before_the_frame_and_after_the_scan() {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 90);
    encoder.add_exif_metadata(b"II*\0early").unwrap();
    encoder
        .encode(&photo(32, 32, 3), 32, 32, ColorType::Rgb)
        .unwrap();
    let header = Header::parse(&out).unwrap();
    assert_eq!(header.exif_before_frame, Some(&b"II*\0early"[..]));
    let eoi = out.len() - 2;
    let late = [&out[..eoi], b"\xFF\xE1\x00\x0CExif\0\0late", &out[eoi..]].concat();
    let header = Header::parse(&late).unwrap();
    assert_eq!(decode(&late, &header).unwrap().exif, Some(&b"late"[..]));
    let scaled = super::decode_scaled(&late, &header, 4).unwrap();
    assert_eq!(scaled.exif, Some(&b"late"[..]));
    assert_eq!(header.exif_before_frame, Some(&b"II*\0early"[..]));
}

/// Calls `decode` on `rounds` copies of `jpeg` with one to four bytes overwritten (a generator
/// seeded with `seed` picks where and what) whose header still reads.
fn damage(jpeg: &[u8], seed: u32, rounds: usize, mut decode: impl FnMut(&[u8], &Header)) {
    let mut state = seed;
    for _ in 0..rounds {
        let mut damaged = jpeg.to_vec();
        for _ in 0..1 + state % 4 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let at = (state >> 8) as usize % damaged.len();
            damaged[at] = (state >> 24) as u8;
        }
        if let Some(header) = Header::parse(&damaged) {
            decode(&damaged, &header);
        }
    }
}

/// The fast path at `eighths`/8 scale: from the DC coefficients alone at 1/8, else scaled.
fn decode_at<'a>(jpeg: &'a [u8], header: &Header<'a>, eighths: u32) -> Option<super::Decoded<'a>> {
    match eighths {
        1 => decode(jpeg, header),
        _ => super::decode_scaled(jpeg, header, eighths),
    }
}

#[test]
fn damaged_data_never_panics_and_truncation_is_refused_at_every_scale() {
    let options = Options {
        restart: 4,
        ..DEFAULT
    };
    for eighths in [1, 2, 4] {
        for jpeg in [encode(90, 70, options), encode(70, 50, DEFAULT)] {
            let scan = find_marker(&jpeg, 0xDA);
            for len in 0..jpeg.len() - 1 {
                let cut = &jpeg[..len];
                let decoded = Header::parse(cut).and_then(|h| decode_at(cut, &h, eighths));
                // Cut inside the scan, the data ends before EOI: never a (garbled) success.
                assert!(decoded.is_none() || len < scan, "cut at {len}, {eighths}/8");
            }
            damage(&jpeg, 0x1234_5678 ^ eighths, 3000, |damaged, header| {
                let _ = decode_at(damaged, header, eighths);
            });
        }
    }
}

#[test]
fn progressive_jpegs_match_the_general_decoder_for_every_sampling() {
    for sampling in SAMPLINGS {
        for (w, h) in [(203, 157), (256, 128), (17, 9), (8, 8), (1, 1), (9, 33)] {
            for restart in [0, 1, 5] {
                let jpeg = encode(w, h, progressive(sampling, restart));
                assert!(Header::parse(&jpeg).is_some(), "progressive {w}x{h}");
                assert_matches(
                    &jpeg,
                    &format!("progressive {sampling:?} {w}x{h} restart {restart}"),
                );
            }
        }
    }
    let grey = Options {
        grey: true,
        progressive: true,
        ..DEFAULT
    };
    assert_matches(&encode(203, 157, grey), "progressive grey");
}

#[test]
fn progressive_jpegs_with_refinement_scans_and_restarts_match_the_general_decoder() {
    // Written by libjpeg (through vips): DC in two passes, the second after the AC scans;
    // the first with a restart marker every 3 MCUs.
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fuzz/corpus/jpeg/");
    for name in [
        "valid-progressive-refined.jpg",
        "valid-progressive-grey.jpg",
    ] {
        let jpeg = std::fs::read(format!("{corpus}{name}")).unwrap();
        assert_matches(&jpeg, name);
    }
}

#[test]
fn damaged_progressive_jpegs_are_left_to_the_general_decoder() {
    let jpeg = encode(
        203,
        157,
        Options {
            progressive: true,
            ..DEFAULT
        },
    );
    // Cut before the last DC scan has all its data, and cut after the DC scans.
    let scans: Vec<usize> = (0..jpeg.len() - 1)
        .filter(|&i| jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA)
        .collect();
    let header = Header::parse(&jpeg[..scans[2] + 40]).unwrap();
    assert!(
        decode(&jpeg[..scans[2] + 40], &header).is_none(),
        "a DC scan cut short"
    );
    let header = Header::parse(&jpeg[..scans[3]]).unwrap();
    assert!(
        decode(&jpeg[..scans[3]], &header).is_none(),
        "no end of image"
    );
    // A refinement scan that does not continue where the first scan stopped.
    let mut wrong = jpeg.clone();
    let second = scans[1];
    let approximation = second + 2 + 2 + 1 + 2 + 2;
    wrong[approximation] = 0x21;
    let header = Header::parse(&wrong).unwrap();
    assert!(
        decode(&wrong, &header).is_none(),
        "a refinement out of order"
    );
}

/// The scaled path against `jpeg-decoder` at the same scale (1/4, 1/2, or full size, where the
/// tests run the same transform at 8 points): the two inverse DCTs differ in rounding and in
/// how they scale, a level or two on average.
fn assert_scaled_matches(jpeg: &[u8], eighths: u32, what: &str) {
    let (w, h, expected) = reference_at(jpeg, eighths as u16);
    let header = Header::parse(jpeg).unwrap();
    let image = super::decode_scaled(jpeg, &header, eighths)
        .unwrap_or_else(|| panic!("{what}: the scaled path refused"))
        .image;
    assert_eq!((image.width, image.height), (w, h), "{what}");
    let (mean, worst) = differences(&expected, &image.data);
    assert!(
        mean < 2.0 && worst <= 48,
        "{what}: mean {mean:.2}, worst {worst}"
    );
}

#[test]
fn progressive_jpegs_at_a_quarter_and_a_half_match_the_general_decoder() {
    for sampling in SAMPLINGS {
        for (w, h) in [(203, 157), (256, 128), (17, 9), (9, 33)] {
            for restart in [0, 3] {
                let jpeg = encode(w, h, progressive(sampling, restart));
                for eighths in [2, 4, 8] {
                    let what = format!("{sampling:?} {w}x{h} restart {restart} at {eighths}/8");
                    assert_scaled_matches(&jpeg, eighths, &what);
                }
            }
        }
    }
    // Written by libjpeg: successive approximation, refinement scans, restarts, grey.
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fuzz/corpus/jpeg/");
    for name in [
        "valid-progressive-refined.jpg",
        "valid-progressive-grey.jpg",
    ] {
        let jpeg = std::fs::read(format!("{corpus}{name}")).unwrap();
        for eighths in [2, 4, 8] {
            assert_scaled_matches(&jpeg, eighths, &format!("{name} at {eighths}/8"));
        }
    }
}

#[test]
fn damaged_progressive_jpegs_never_panic_at_a_quarter_or_a_half() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fuzz/corpus/jpeg/");
    let refined = std::fs::read(format!("{corpus}valid-progressive-refined.jpg")).unwrap();
    let options = Options {
        progressive: true,
        restart: 2,
        ..DEFAULT
    };
    for jpeg in [refined, encode(90, 70, options)] {
        for len in (0..jpeg.len()).step_by(5) {
            let cut = &jpeg[..len];
            if let Some(header) = Header::parse(cut) {
                let _ = super::decode_scaled(cut, &header, 2);
            }
        }
        damage(&jpeg, 0x9E37_79B9, 2000, |damaged, header| {
            let _ = super::decode_scaled(damaged, header, 4);
        });
    }
}

#[test]
fn sequential_jpegs_at_a_quarter_and_a_half_match_the_general_decoder() {
    for sampling in SAMPLINGS {
        for (w, h) in [(203, 157), (256, 128), (17, 9), (9, 33), (1, 1)] {
            for restart in [0, 3] {
                let options = Options {
                    sampling,
                    restart,
                    ..DEFAULT
                };
                let jpeg = encode(w, h, options);
                for eighths in [2, 4, 8] {
                    let what = format!("{sampling:?} {w}x{h} restart {restart} at {eighths}/8");
                    assert_scaled_matches(&jpeg, eighths, &what);
                }
            }
        }
    }
    // Quality 100 leaves long runs of zeros (ZRL symbols) and large values; quality 1 all but
    // the first coefficients zero.
    for quality in [1, 50, 100] {
        let options = Options { quality, ..DEFAULT };
        for eighths in [2, 4, 8] {
            let what = format!("quality {quality} at {eighths}/8");
            assert_scaled_matches(&encode(120, 90, options), eighths, &what);
        }
    }
    let grey = Options {
        grey: true,
        restart: 2,
        ..DEFAULT
    };
    for eighths in [2, 4] {
        assert_scaled_matches(&encode(99, 45, grey), eighths, "grey with restarts");
    }
}

/// `image` (`width` × `height` RGB) shrunk to `eighths`/8 of its size by averaging the pixels
/// each output pixel covers, in part at its edges: what a DCT-scaled decode approximates.
fn box_shrunk(image: &[u8], (width, height): (u32, u32), eighths: u32) -> Vec<u8> {
    let shrink = |len: u32| (len * eighths).div_ceil(8) as usize;
    // For output position i, each input position it covers and how much of it.
    let taps = |len: u32| -> Vec<Vec<(usize, f64)>> {
        let ratio = 8.0 / f64::from(eighths);
        (0..shrink(len))
            .map(|i| {
                let (start, end) = (
                    i as f64 * ratio,
                    ((i + 1) as f64 * ratio).min(f64::from(len)),
                );
                (start.floor() as usize..end.ceil() as usize)
                    .map(|j| (j, (end.min(j as f64 + 1.0) - start.max(j as f64)).max(0.0)))
                    .collect()
            })
            .collect()
    };
    let (across, down) = (taps(width), taps(height));
    let mut out = Vec::with_capacity(across.len() * down.len() * 3);
    for row in &down {
        for column in &across {
            for channel in 0..3 {
                let (mut sum, mut weight) = (0.0, 0.0);
                for &(y, wy) in row {
                    for &(x, wx) in column {
                        let at = (y * width as usize + x) * 3 + channel;
                        sum += f64::from(image[at]) * wx * wy;
                        weight += wx * wy;
                    }
                }
                out.push((sum / weight).round() as u8);
            }
        }
    }
    out
}

/// The scaled path at `eighths`/8 against `jpeg-decoder` at full size shrunk by averaging:
/// the mean and worst differences.
fn against_box_shrunk(jpeg: &[u8], eighths: u32) -> (f64, u8) {
    let (w, h, full) = reference_at(jpeg, 8);
    let expected = box_shrunk(&full, (w, h), eighths);
    let header = Header::parse(jpeg).unwrap();
    let image = super::decode_scaled(jpeg, &header, eighths).unwrap().image;
    let shrink = |len: u32| (len * eighths).div_ceil(8);
    assert_eq!(
        (image.width, image.height),
        (shrink(w), shrink(h)),
        "{eighths}/8"
    );
    differences(&expected, &image.data)
}

/// The mean and the worst difference of two images' samples.
fn differences(expected: &[u8], actual: &[u8]) -> (f64, u8) {
    let diffs = || expected.iter().zip(actual).map(|(a, b)| a.abs_diff(*b));
    let mean = diffs().map(u64::from).sum::<u64>() as f64 / expected.len().max(1) as f64;
    (mean, diffs().max().unwrap_or(0))
}

#[test]
fn every_other_scale_is_as_close_to_the_shrunk_full_decode_as_a_half() {
    for progressive in [false, true] {
        for sampling in SAMPLINGS {
            let options = Options {
                sampling,
                progressive,
                restart: 5,
                ..DEFAULT
            };
            let jpeg = encode(203, 157, options);
            // 1/2 matches jpeg-decoder at 1/2 (above); every eighth is held to what it gives.
            let (half, _) = against_box_shrunk(&jpeg, 4);
            for eighths in [2, 3, 5, 6, 7] {
                let (mean, worst) = against_box_shrunk(&jpeg, eighths);
                let what = format!("{sampling:?} progressive {progressive} at {eighths}/8");
                assert!(
                    mean <= 1.5 * half + 0.5 && worst <= 96,
                    "{what}: mean {mean:.2} (1/2: {half:.2}), worst {worst}"
                );
            }
        }
    }
}
