//! Builders for small test images in every supported format, and helpers to run the transform
//! and look at its output.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use jpeg_encoder::{ColorType, Encoder};
use transform_jpeg::error::Rejection;
use transform_jpeg::geometry::Fit;
use transform_jpeg::pipeline::{self, Rendition};
use transform_jpeg::profile::Profile;

pub const RED: [u8; 3] = [255, 0, 0];
pub const GREEN: [u8; 3] = [0, 255, 0];
pub const BLUE: [u8; 3] = [0, 0, 255];
pub const WHITE: [u8; 3] = [255, 255, 255];

/// A `thumbnailPhoto`-like profile: 96×96, crop, quality 30-90, 10 KiB target, 100 KiB max.
pub fn profile(width: u32, height: u32, fit: Fit) -> Profile {
    Profile {
        attribute: "thumbnailPhoto".to_owned(),
        max_width: width,
        max_height: height,
        max_bytes: 100 * 1024,
        target_bytes: 10 * 1024,
        fit,
        min_quality: 30,
        max_quality: 90,
    }
}

pub fn run(
    photo: &[u8],
    profile: &Profile,
    settings: &[(&str, &str)],
) -> Result<Rendition, Rejection> {
    pipeline::transform(settings.iter().copied(), photo, profile).map(|t| t.rendition)
}

/// Runs and expects a rendition; checks it is a baseline JPEG of the announced size.
pub fn ok(photo: &[u8], profile: &Profile, settings: &[(&str, &str)]) -> (Rendition, Vec<u8>) {
    let rendition = run(photo, profile, settings).unwrap_or_else(|e| panic!("{e}"));
    assert!(rendition.jpeg.len() <= profile.max_bytes as usize);
    assert!((profile.min_quality..=profile.max_quality).contains(&rendition.quality));
    let mut decoder = jpeg_decoder::Decoder::new(rendition.jpeg.as_slice());
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(
        info.coding_process,
        jpeg_decoder::CodingProcess::DctSequential
    );
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
    assert_eq!(
        (u32::from(info.width), u32::from(info.height)),
        (rendition.width, rendition.height)
    );
    assert!(decoder.exif_data().is_none() && decoder.icc_profile().is_none());
    (rendition, pixels)
}

/// The colour at `(x, y)` of decoded RGB `pixels` that are `width` wide.
pub fn at(pixels: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [pixels[i], pixels[i + 1], pixels[i + 2]]
}

/// Whether two colours differ by at most `tolerance` per channel.
pub fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
}

/// RGB pixels of a `width`×`height` image made of four coloured quadrants:
/// red top-left, green top-right, blue bottom-left, white bottom-right.
pub fn quadrants(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let colour = match (x < width / 2, y < height / 2) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => WHITE,
            };
            data.extend_from_slice(&colour);
        }
    }
    data
}

/// Pseudo-random RGB noise (incompressible, so JPEG sizes are large).
pub fn noise(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..width * height * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

/// A JPEG from `data` in `color`, optionally progressive, optionally with an Exif block.
pub fn jpeg(
    data: &[u8],
    width: u16,
    height: u16,
    color: ColorType,
    progressive: bool,
    exif: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 95);
    encoder.set_progressive(progressive);
    if let Some(exif) = exif {
        encoder.add_exif_metadata(exif).unwrap();
    }
    encoder.encode(data, width, height, color).unwrap();
    out
}

pub fn rgb_jpeg(data: &[u8], width: u16, height: u16) -> Vec<u8> {
    jpeg(data, width, height, ColorType::Rgb, false, None)
}

/// A little-endian TIFF block whose IFD0 holds only the orientation.
pub fn exif_orientation(value: u16) -> Vec<u8> {
    let mut tiff = b"II\x2a\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    tiff.extend_from_slice(&value.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    tiff
}

/// Encodes an RGBA image with the `image` crate.
pub fn encode_with_image(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// An RGBA image, left half opaque red, right half fully transparent.
pub fn half_transparent(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgba([255, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    }))
}

/// CRC-32 (ISO-HDLC) as PNG chunks use it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG chunk with its length and CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// Inserts `chunk` into `png` right after IHDR.
pub fn insert_after_ihdr(png: &[u8], chunk: &[u8]) -> Vec<u8> {
    let at = 8 + 8 + 13 + 4; // signature, IHDR header, IHDR data, CRC
    [&png[..at], chunk, &png[at..]].concat()
}
