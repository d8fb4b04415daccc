//! Fuzz targets for the transformer's parsers of untrusted bytes, run natively: the format
//! sniffer and the Exif reader on any bytes, and the DC-only JPEG decoder against the general
//! decoder (`jpeg-decoder` at 1/8 scale) on mutated JPEGs, generated here and taken from
//! `tests/fuzz/corpus/jpeg/`. Longer run:
//! `PROPTEST_CASES=20000 cargo test --release -p transform-jpeg --test fuzz`.

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/fuzz/seeds.rs"]
mod seeds;

use jpeg_decoder::PixelFormat;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use proptest::prelude::*;

use transform_jpeg::decode::{self, Request};
use transform_jpeg::error::Rejection;
use transform_jpeg::exif;
use transform_jpeg::geometry::{Fit, Size};
use transform_jpeg::orient::{self, Orientation};
use transform_jpeg::pixels::{self, Rgb, RgbImage};
use transform_jpeg::sniff::{Format, sniff};

/// Markers and segment fields a JPEG mutation is worth trying.
const JPEG: &[&[u8]] = &[
    b"\xff\xd8",
    b"\xff\xd9",
    b"\xff\xda",
    b"\xff\xc4",
    b"\xff\xdb",
    b"\xff\xdd\x00\x04\x00\x01",
    b"\xff\xd0",
    b"\xff\xd3",
    b"\xff\xc0",
    b"\xff\xc1",
    b"\xff\xc2",
    b"\xff\xe1\x00\x10Exif\x00\x00II*\x00\x08\x00",
    b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00",
    b"\xff\x00",
    b"\xff\xff",
    b"\x11",
    b"\x22",
    b"\x00\x3f\x00",
];

/// Tags and fields of a TIFF block.
const TIFF: &[&[u8]] = &[
    b"II*\x00",
    b"MM\x00*",
    b"\x01\x12",
    b"\x12\x01",
    b"\x00\x03",
    b"\x03\x00",
    b"\x00\x04",
    b"\x00\x00\x00\x08",
    b"\x08\x00\x00\x00",
];

/// The largest image the differential decodes: enough for every layout, and it keeps the
/// reference decode of a mutated header cheap.
const MAX_PIXELS: u64 = 1 << 20;

/// Colour a bit of everything: gradients, stripes and noise from `seed`.
fn photo(width: u16, height: u16, seed: u32, channels: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::new();
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state % 31) as i32 - 15;
            let stripe = if (x / 3 + y / 5) % 2 == 0 { 60 } else { 0 };
            let base = [
                (x * 255 / u32::from(width)) as i32,
                (y * 255 / u32::from(height)) as i32 + stripe,
                255 - ((x + 2 * y) % 256) as i32,
            ];
            let px = base.map(|v| (v + noise).clamp(0, 255) as u8);
            out.extend_from_slice(&px[..channels]);
        }
    }
    out
}

/// A baseline JPEG with the layout drawn by the strategy below.
#[derive(Debug, Clone)]
struct Spec {
    width: u16,
    height: u16,
    grey: bool,
    sampling: SamplingFactor,
    quality: u8,
    restart: u16,
    orientation: Option<u16>,
    seed: u32,
}

fn spec() -> impl Strategy<Value = Spec> {
    let sampling = prop::sample::select(
        &[
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_4_0,
            SamplingFactor::R_4_2_0,
        ][..],
    );
    (
        (1u16..80, 1u16..80, any::<bool>(), sampling),
        (
            1u8..=100,
            prop_oneof![Just(0u16), 1u16..8],
            proptest::option::of(1u16..=8),
        ),
        any::<u32>(),
    )
        .prop_map(
            |((width, height, grey, sampling), (quality, restart, orientation), seed)| Spec {
                width,
                height,
                grey,
                sampling,
                quality,
                restart,
                orientation,
                seed,
            },
        )
}

/// A TIFF block holding only the orientation, big-endian.
fn tiff_orientation(value: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01".to_vec();
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0; 6]);
    tiff
}

fn encode(spec: &Spec) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, spec.quality);
    encoder.set_sampling_factor(spec.sampling);
    if spec.restart > 0 {
        encoder.set_restart_interval(spec.restart);
    }
    if let Some(value) = spec.orientation {
        encoder.add_exif_metadata(&tiff_orientation(value)).unwrap();
    }
    let (colour, channels) = if spec.grey {
        (ColorType::Luma, 1)
    } else {
        (ColorType::Rgb, 3)
    };
    let pixels = photo(spec.width, spec.height, spec.seed, channels);
    encoder
        .encode(&pixels, spec.width, spec.height, colour)
        .unwrap();
    out
}

/// What `jpeg-decoder` makes of `data` at 1/8 scale, upright by the Exif block it reports, as
/// RGB; `None` when it rejects the data.
fn reference(data: &[u8]) -> Option<(RgbImage, Orientation)> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    let pixels = u64::from(info.width) * u64::from(info.height);
    assert!(
        pixels <= MAX_PIXELS,
        "the path under test checks the size first"
    );
    decoder
        .scale(info.width.div_ceil(8), info.height.div_ceil(8))
        .ok()?;
    let decoded = decoder.decode().ok()?;
    let info = decoder.info()?;
    let rgb = match info.pixel_format {
        PixelFormat::L8 => pixels::grey_to_rgb(&decoded),
        PixelFormat::RGB24 => decoded,
        PixelFormat::CMYK32 => pixels::cmyk_to_rgb(&decoded),
        PixelFormat::L16 => return None,
    };
    let image = RgbImage::new(info.width.into(), info.height.into(), rgb)?;
    let orientation = decoder
        .exif_data()
        .and_then(exif::orientation)
        .unwrap_or(Orientation::Normal);
    Some((orient::apply(image, orientation), orientation))
}

/// A progressive JPEG without its AC scans (spectral selection past 0): every other segment and
/// scan as it is, up to EOI. `None` when the file is not one, or its markers cannot be walked.
fn without_ac_scans(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = data.get(..2)?.to_vec();
    let mut at = 2;
    let mut progressive = false;
    loop {
        // Stray bytes before a marker are skipped, as both decoders do.
        at += data.get(at..)?.iter().position(|&b| b == 0xFF)?;
        let (marker, body) = (*data.get(at + 1)?, at + 2);
        match marker {
            0xFF => {
                at += 1;
                continue;
            }
            // Not markers between segments: skipped, as both decoders do.
            0x00 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            _ => {}
        }
        if marker == 0xD9 {
            out.extend_from_slice(&data[at..body]);
            return progressive.then_some(out);
        }
        let len = usize::from(u16::from_be_bytes([*data.get(body)?, *data.get(body + 1)?]));
        let mut end = body + len;
        progressive |= marker == 0xC2;
        let mut keep = true;
        if marker == 0xDA {
            let count = usize::from(*data.get(body + 2)?);
            keep = *data.get(body + 3 + 2 * count)? == 0;
            // The entropy-coded data runs to the next marker that is not FF00 or RSTn.
            loop {
                end += data.get(end..)?.iter().position(|&b| b == 0xFF)?;
                match *data.get(end + 1)? {
                    0x00 | 0xD0..=0xD7 => end += 2,
                    _ => break,
                }
            }
        }
        if keep {
            out.extend_from_slice(data.get(at..end)?);
        }
        at = end;
    }
}

/// The most a channel of the DC-only path may differ from the reference. Both take each block's
/// mean from its DC coefficient alone and upsample chroma with the same triangle filter, but
/// `jpeg-decoder` truncates `dc × q / 8` toward zero where the DC-only path rounds to nearest:
/// up to one level in Y, Cb and Cr each. Through the YCbCr→RGB matrix (|coefficients| of a row
/// sum to at most 1 + 0.344 + 0.714 ≈ 2.06) and the filter's and conversion's own rounding,
/// that comes to at most 4 levels; a wrong block, plane or colour model is off by far more.
const TOLERANCE: u8 = 4;

/// The differential property: the DC-only path gives the reference's pixels within
/// [`TOLERANCE`] and the same orientation, or it declines and the general decoder gives the
/// verdict (then there is nothing to compare), or both reject.
fn assert_same_as_reference(data: &[u8]) -> Result<(), TestCaseError> {
    let request = Request {
        // A 1×1 box: 1/8 scale always suffices, so the DC-only path is tried on every input.
        boxes: vec![(Size::new(1, 1), Fit::Contain)],
        max_pixels: MAX_PIXELS,
        background: Rgb {
            r: 255,
            g: 255,
            b: 255,
        },
    };
    let ours = decode::decode(Format::Jpeg, data, &request);
    if let Err(Rejection::TooLarge(_)) = ours {
        return Ok(());
    }
    let mut theirs = reference(data);
    if theirs.is_none() && matches!(&ours, Ok(d) if d.dc_only) {
        // A progressive file's AC scans are never read at 1/8 scale, so damage there is not
        // seen: compare with the reference on the same file without them, which it reads as
        // DC only.
        theirs = without_ac_scans(data).and_then(|dc| reference(&dc));
    }
    match (ours, theirs) {
        (Ok(decoded), Some((image, orientation))) if decoded.dc_only => {
            prop_assert_eq!(decoded.orientation, orientation);
            let ours = &decoded.image;
            prop_assert_eq!((ours.width, ours.height), (image.width, image.height));
            let worst = ours
                .data
                .iter()
                .zip(&image.data)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap_or(0);
            prop_assert!(worst <= TOLERANCE, "a channel differs by {}", worst);
        }
        (Ok(decoded), None) if decoded.dc_only => {
            prop_assert!(false, "the DC-only path decoded what jpeg-decoder rejects");
        }
        // The general path decided (it is the reference, plus colour handling), or both
        // rejected.
        (Ok(_), _) | (Err(_), None) => {}
        (Err(rejection), Some(_)) => {
            prop_assert!(false, "rejected what jpeg-decoder reads: {}", rejection);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(seeds::config(300))]

    #[test]
    fn fuzz_dc_only_matches_general_decoder(
        spec in spec(),
        mutations in seeds::mutations(),
    ) {
        let jpeg = encode(&spec);
        let data = seeds::apply(jpeg.clone(), &[jpeg], &mutations, JPEG);
        assert_same_as_reference(&data)?;
    }

    #[test]
    fn fuzz_dc_only_matches_general_decoder_on_corpus(
        data in seeds::mutated(seeds::corpus("jpeg"), JPEG),
    ) {
        assert_same_as_reference(&data)?;
    }
}

proptest! {
    #![proptest_config(seeds::config(5000))]

    #[test]
    fn fuzz_sniff_any_bytes(data in seeds::bytes(64)) {
        match sniff(&data) {
            Ok(format) => prop_assert!(data.len() >= 2, "{:?} from {} bytes", format, data.len()),
            Err(Rejection::Corrupt(r) | Rejection::UnsupportedFormat(r)) => {
                prop_assert!(!r.is_empty());
            }
            Err(other) => prop_assert!(false, "sniff said {:?}", other),
        }
    }

    #[test]
    fn fuzz_sniff_mutated(data in seeds::mutated(
        seeds::corpus("jpeg").into_iter().chain(seeds::corpus("image")).collect(),
        JPEG,
    )) {
        let _ = sniff(&data);
    }

    #[test]
    fn fuzz_exif_any_bytes(data in seeds::bytes(128)) {
        let _ = exif::orientation(&data);
    }

    #[test]
    fn fuzz_exif_mutated(data in seeds::mutated(seeds::corpus("exif"), TIFF)) {
        let _ = exif::orientation(&data);
    }
}

/// The differential compares something: an unmutated input takes the DC-only path.
#[test]
fn fuzz_dc_only_is_taken_for_valid_input() {
    let spec = Spec {
        width: 40,
        height: 24,
        grey: false,
        sampling: SamplingFactor::R_4_2_0,
        quality: 80,
        restart: 2,
        orientation: Some(6),
        seed: 7,
    };
    let jpeg = encode(&spec);
    let request = Request {
        boxes: vec![(Size::new(1, 1), Fit::Contain)],
        max_pixels: MAX_PIXELS,
        background: Rgb { r: 0, g: 0, b: 0 },
    };
    let decoded = decode::decode(Format::Jpeg, &jpeg, &request).unwrap();
    assert!(decoded.dc_only);
    assert_eq!((decoded.image.width, decoded.image.height), (3, 5));
    assert_same_as_reference(&jpeg).unwrap();
}
