//! Fuzz targets through the sandbox: the builtin transformer, loaded with photosync's runtime,
//! on mutated photos of every format `sniff` accepts (seeds in `tests/fuzz/corpus/jpeg/` and
//! `image/`, and JPEGs made here), and the builtin matcher on arbitrary Unicode file names and
//! attributes (seeds in `tests/fuzz/corpus/match/`). Each call instantiates the plugin, so the CI
//! case counts are low; a longer run is
//! `PROPTEST_CASES=2000 cargo test --release -p photosync-tests --test fuzz`.
//! `write_seed_corpus` (ignored) rewrites the generated image seeds.

#[path = "../fuzz/seeds.rs"]
mod seeds;

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};
use proptest::prelude::*;

use photosync::plugins::jpeg::inspect;
use photosync::plugins::{
    Attribute, Fit, MatchOutcome, Matcher, PhotoInfo, PluginError, Profile, Role, Runtime,
    Transformer, is_attribute_name,
};
use photosync::profiles::{jpeg_photo, thumbnail_photo};
use photosync_tests::fixtures::{self, JpegOptions};
use photosync_tests::plugins::{builtin_spec, runtime};

/// Cases per target in CI: each transform is a few milliseconds, each match well under one.
const CI_TRANSFORM_CASES: u32 = 120;
const CI_MATCH_CASES: u32 = 250;
/// A call this slow is a finding even if it ends before the plugin's deadline (10 s for the
/// transformer, 1 s for the matcher); generous, so that a loaded machine does not fail a run.
const SLOW: Duration = Duration::from_secs(5);

/// Markers and chunk names worth writing into a photo.
const PHOTO: &[&[u8]] = &[
    b"\xff\xd8",
    b"\xff\xd9",
    b"\xff\xda",
    b"\xff\xc4",
    b"\xff\xc0",
    b"\xff\xc2",
    b"\xff\xdd\x00\x04\x00\x01",
    b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00",
    b"IHDR",
    b"IDAT",
    b"IEND",
    b"eXIf",
    b"tRNS",
    b"PLTE",
    b"GIF89a",
    b"RIFF",
    b"VP8L",
    b"VP8X",
    b"II*\x00",
    b"\x01\x12\x00\x03",
];

/// One runtime for the whole process: loading the component is the slow part.
fn runtime_once() -> &'static Runtime {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| runtime(CACHE.get_or_init(|| tempfile::tempdir().expect("tempdir"))))
}

fn transformer() -> &'static Transformer {
    static TRANSFORMER: OnceLock<Transformer> = OnceLock::new();
    TRANSFORMER.get_or_init(|| photosync_tests::plugins::transformer(runtime_once()))
}

/// The built-in profiles and a small padded one with a tight byte limit.
fn profiles() -> Vec<Profile> {
    let tight = Profile {
        attribute: "badgePhoto".into(),
        max_width: 40,
        max_height: 60,
        max_bytes: 1_024,
        target_bytes: 0,
        fit: Fit::Pad,
        min_quality: 10,
        max_quality: 95,
    };
    vec![thumbnail_photo(), jpeg_photo(), tight]
}

/// The only acceptable outcomes: a rendition within the profile's limits, or a rejection.
fn assert_rendition_or_rejection(photo: &[u8], profile: &Profile) -> Result<(), TestCaseError> {
    let transformer = transformer();
    let started = Instant::now();
    let outcome = transformer.transform(photo, profile);
    let took = started.elapsed();
    prop_assert!(took < SLOW, "the call took {:?}", took);
    match outcome {
        Ok(Ok(r)) => {
            let info = inspect(&r.jpeg).map_err(TestCaseError::fail)?;
            prop_assert!(info.baseline && !info.has_metadata());
            prop_assert_eq!((info.width, info.height), (r.width, r.height));
            prop_assert!(r.width >= 1 && r.width <= profile.max_width);
            prop_assert!(r.height >= 1 && r.height <= profile.max_height);
            prop_assert!(r.jpeg.len() <= profile.max_bytes as usize);
        }
        Ok(Err(_rejection)) => {}
        Err(error) => prop_assert!(false, "the plugin failed: {}", error),
    }
    Ok(())
}

/// Small JPEGs of every kind the transformer reads: 4:2:0 with and without Exif, progressive,
/// greyscale, CMYK.
fn jpeg_variants(width: u32, height: u32, seed: u32) -> Vec<Vec<u8>> {
    let image = fixtures::photo_like(width, height, seed);
    let orientation = Some((seed % 8 + 1) as u16);
    vec![
        fixtures::jpeg(&image, JpegOptions::default()),
        fixtures::jpeg(
            &image,
            JpegOptions {
                orientation,
                quality: 60,
                ..JpegOptions::default()
            },
        ),
        fixtures::jpeg(
            &image,
            JpegOptions {
                progressive: true,
                ..JpegOptions::default()
            },
        ),
        fixtures::grey_jpeg(&image),
        fixtures::cmyk_jpeg(&image),
    ]
}

/// Small images in the other formats: PNG (RGBA, with an Exif orientation), GIF, BMP, WebP
/// (lossless) and TIFF.
fn other_formats(width: u32, height: u32, seed: u32) -> Vec<(&'static str, Vec<u8>)> {
    let image = fixtures::photo_like(width, height, seed);
    let rgba: Vec<u8> = image
        .pixels
        .chunks(3)
        .enumerate()
        .flat_map(|(i, p)| [p[0], p[1], p[2], (i * 7 % 256) as u8])
        .collect();
    let rgb = RgbImage::from_raw(width, height, image.pixels.clone()).expect("RGB size");
    let rgba_image = RgbaImage::from_raw(width, height, rgba.clone()).expect("RGBA size");
    let write = |image: DynamicImage, format: ImageFormat| {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("the image encodes");
        out.into_inner()
    };
    vec![
        ("png", fixtures::png_rgba(width, height, &rgba, Some(6))),
        (
            "gif",
            write(DynamicImage::ImageRgba8(rgba_image), ImageFormat::Gif),
        ),
        (
            "bmp",
            write(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Bmp),
        ),
        (
            "webp",
            write(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::WebP),
        ),
        (
            "tiff",
            write(DynamicImage::ImageRgb8(rgb), ImageFormat::Tiff),
        ),
    ]
}

/// Rewrites the generated seeds of `jpeg/` and `image/` (`valid-*` and `mutated-*`); seeds
/// added for findings (`regression-*`) are left alone.
#[test]
#[ignore = "rewrites the seed corpus; run by hand"]
fn write_seed_corpus() {
    let root = seeds::corpus_root();
    let names = ["baseline", "exif", "progressive", "grey", "cmyk"];
    let jpegs = jpeg_variants(48, 32, 3);
    let mut files: Vec<(String, Vec<u8>)> = names
        .iter()
        .zip(&jpegs)
        .map(|(name, data)| (format!("jpeg/valid-{name}.jpg"), data.clone()))
        .collect();
    let baseline = &jpegs[0];
    files.push((
        "jpeg/mutated-truncated.jpg".into(),
        baseline[..baseline.len() / 2].to_vec(),
    ));
    files.push((
        "jpeg/mutated-declares-65000x65000.jpg".into(),
        fixtures::jpeg_declaring(65_000, 65_000),
    ));
    let mut flipped = baseline.clone();
    let scan = flipped
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    flipped[scan + 20] ^= 0x5A;
    files.push(("jpeg/mutated-scan-bits.jpg".into(), flipped));
    for (format, data) in other_formats(24, 16, 5) {
        files.push((format!("image/valid.{format}"), data));
    }
    files.push((
        "image/mutated-png-declares-60000x60000.png".into(),
        fixtures::png_declaring(60_000, 60_000),
    ));
    let png = &other_formats(24, 16, 5)[0].1;
    files.push((
        "image/mutated-truncated.png".into(),
        png[..png.len() * 2 / 3].to_vec(),
    ));
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
        std::fs::write(&path, data).expect("the seed is written");
    }
}

proptest! {
    #![proptest_config(seeds::config(CI_TRANSFORM_CASES))]

    #[test]
    fn fuzz_transform_generated_jpegs(
        (width, height, seed) in (1u32..120, 1u32..120, any::<u32>()),
        kind in 0usize..5,
        mutations in seeds::mutations(),
        profile in prop::sample::select(profiles()),
    ) {
        let jpeg = jpeg_variants(width, height, seed).swap_remove(kind);
        let photo = seeds::apply(jpeg.clone(), &[jpeg], &mutations, PHOTO);
        assert_rendition_or_rejection(&photo, &profile)?;
    }

    #[test]
    fn fuzz_transform_generated_other_formats(
        (width, height, seed) in (1u32..64, 1u32..64, any::<u32>()),
        kind in 0usize..5,
        mutations in seeds::mutations(),
        profile in prop::sample::select(profiles()),
    ) {
        let photo = other_formats(width, height, seed).swap_remove(kind).1;
        let photo = seeds::apply(photo.clone(), &[photo], &mutations, PHOTO);
        assert_rendition_or_rejection(&photo, &profile)?;
    }

    #[test]
    fn fuzz_transform_corpus(
        photo in seeds::inputs(
            seeds::corpus("jpeg").into_iter().chain(seeds::corpus("image")).collect(),
            PHOTO,
            256,
        ),
        profile in prop::sample::select(profiles()),
    ) {
        assert_rendition_or_rejection(&photo, &profile)?;
    }
}

/// Matcher settings covering each key: digits-only, no separators, producer attributes, OIDs.
const MATCHER_SETTINGS: &[&[(&str, &str)]] = &[
    &[
        ("patterns", "{employeeID}; {givenName}_{sn}"),
        ("digits-only", "employeeID"),
    ],
    &[
        (
            "patterns",
            "photo-{uid}\n{mail}\n{givenName}.{initials}.{sn}",
        ),
        ("separators", ""),
        ("producer-attributes", "employeeID, mail"),
    ],
    &[
        ("patterns", "{2.5.4.3} - {x-badge-no}"),
        ("separators", "_-. \u{3000}"),
    ],
];

fn matchers() -> &'static [Matcher] {
    static MATCHERS: OnceLock<Vec<Matcher>> = OnceLock::new();
    MATCHERS.get_or_init(|| {
        MATCHER_SETTINGS
            .iter()
            .map(|settings| {
                Matcher::load(runtime_once(), &builtin_spec(Role::Matcher, settings))
                    .expect("the builtin matcher loads")
            })
            .collect()
    })
}

/// Separators, braces and an ideographic space, for mutating file names.
const NAME_TOKENS: &[&[u8]] = &[b"_", b".", b"-", b" ", b"{", b"}", b"\xe3\x80\x80", b".jpg"];

/// File names: any Unicode, names made of what patterns look at, long runs of separators, and
/// mutations of the seeds.
fn file_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[0-9a-zA-Zéü李_.\\- ]{0,40}(\\.jpg)?",
        1 => "([a-z]{1,3}[_.\\- ]){0,200}",
        2 => seeds::mutated(seeds::corpus("match"), NAME_TOKENS)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Attributes as a producer or the directory gives them: names the settings mention (in any
/// case), arbitrary names, any values.
fn attributes() -> impl Strategy<Value = Vec<Attribute>> {
    let name = prop_oneof![
        prop::sample::select(
            &[
                "employeeID",
                "EMPLOYEEID",
                "mail",
                "uid",
                "givenName",
                "sn",
                "initials",
                "2.5.4.3",
                "x-badge-no"
            ][..]
        )
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let values = proptest::collection::vec(any::<String>(), 0..3);
    proptest::collection::vec(
        (name, values).prop_map(|(name, values)| Attribute { name, values }),
        0..5,
    )
}

/// Criteria (with attribute names), no criteria, or an error the plugin reports; never a trap,
/// a timeout or a malformed answer.
fn assert_match_outcome<T>(outcome: Result<T, PluginError>) -> Result<Option<T>, TestCaseError> {
    match outcome {
        Ok(value) => Ok(Some(value)),
        Err(PluginError::Reported { .. }) => Ok(None),
        Err(error) => Err(TestCaseError::fail(format!("the matcher failed: {error}"))),
    }
}

proptest! {
    #![proptest_config(seeds::config(CI_MATCH_CASES))]

    #[test]
    fn fuzz_match_pattern(
        which in 0..MATCHER_SETTINGS.len(),
        file_name in file_name(),
        attributes in attributes(),
        entry in attributes(),
    ) {
        let matcher = &matchers()[which];
        let photo = PhotoInfo {
            file_name,
            source: "fuzz".into(),
            content_type: "image/jpeg".into(),
            attributes,
        };
        let started = Instant::now();
        if let Some(MatchOutcome::Criteria(criteria)) = assert_match_outcome(matcher.match_photo(&photo))? {
            prop_assert!(!criteria.is_empty());
            prop_assert!(criteria.iter().all(|c| is_attribute_name(&c.attribute)));
        }
        assert_match_outcome(matcher.photo_names(&entry))?;
        prop_assert!(started.elapsed() < SLOW, "the calls took {:?}", started.elapsed());
    }
}
