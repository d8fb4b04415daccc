//! Photos made on the fly for tests and benchmarks, so the repository carries no binary fixtures.

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// Four colours, one per quadrant, for checking orientation: top-left red, top-right green,
/// bottom-left blue, bottom-right yellow.
pub const QUADRANT_COLOURS: [[u8; 3]; 4] =
    [[230, 20, 20], [20, 200, 20], [20, 20, 230], [240, 230, 20]];

/// An RGB image in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// The pixel at (x, y).
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// A photo-like image: smooth light, shapes and sensor-like noise, so that JPEG sizes and decode
/// costs resemble a camera's.
pub fn photo_like(width: u32, height: u32, seed: u32) -> Rgb {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    let mut rng = seed.wrapping_mul(2_654_435_761).max(1);
    let (cx, cy, r2) = (
        width as f32 * 0.55,
        height as f32 * 0.45,
        (height as f32 * 0.3).powi(2),
    );
    for y in 0..height {
        for x in 0..width {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            let noise = (rng & 15) as f32 - 7.5;
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let face = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < r2) as u8 as f32;
            let stripes = ((x / 37 + y / 53) % 2) as f32 * 18.0;
            let r = 60.0 + 150.0 * fx + 40.0 * face + stripes + noise;
            let g = 80.0 + 100.0 * fy + 30.0 * face + noise;
            let b = 170.0 - 90.0 * fx * fy - 50.0 * face + stripes + noise;
            pixels.extend([r, g, b].map(|v| v.clamp(0.0, 255.0) as u8));
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

/// An image split into the four [`QUADRANT_COLOURS`].
pub fn quadrants(width: u32, height: u32) -> Rgb {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let q = usize::from(x >= width / 2) + 2 * usize::from(y >= height / 2);
            pixels.extend(QUADRANT_COLOURS[q]);
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

/// How a test JPEG is encoded.
#[derive(Debug, Clone, Copy)]
pub struct JpegOptions {
    pub quality: u8,
    pub progressive: bool,
    /// EXIF orientation to record (1..=8), if any.
    pub orientation: Option<u16>,
}

impl Default for JpegOptions {
    fn default() -> Self {
        Self {
            quality: 90,
            progressive: false,
            orientation: None,
        }
    }
}

/// Encodes `image` as a YCbCr 4:2:0 JPEG.
pub fn jpeg(image: &Rgb, options: JpegOptions) -> Vec<u8> {
    encode(
        &image.pixels,
        image.width,
        image.height,
        ColorType::Rgb,
        options,
    )
}

/// Encodes `image` as a greyscale JPEG.
pub fn grey_jpeg(image: &Rgb) -> Vec<u8> {
    let luma: Vec<u8> = image
        .pixels
        .chunks(3)
        .map(|p| ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8)
        .collect();
    encode(
        &luma,
        image.width,
        image.height,
        ColorType::Luma,
        JpegOptions::default(),
    )
}

/// Encodes `image` as a CMYK JPEG (converted naively from RGB).
pub fn cmyk_jpeg(image: &Rgb) -> Vec<u8> {
    let mut cmyk = Vec::with_capacity(image.pixels.len() / 3 * 4);
    for p in image.pixels.chunks(3) {
        let k = 255 - p[0].max(p[1]).max(p[2]);
        let scale = |c: u8| {
            if k == 255 {
                0
            } else {
                ((255 - c - k) as u32 * 255 / (255 - k) as u32) as u8
            }
        };
        cmyk.extend([scale(p[0]), scale(p[1]), scale(p[2]), k]);
    }
    encode(
        &cmyk,
        image.width,
        image.height,
        ColorType::Cmyk,
        JpegOptions::default(),
    )
}

fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    colour: ColorType,
    options: JpegOptions,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, options.quality);
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    encoder.set_progressive(options.progressive);
    if let Some(o) = options.orientation {
        encoder
            .add_app_segment(1, exif_orientation(o))
            .expect("APP1 is a valid segment");
    }
    encoder
        .encode(pixels, width as u16, height as u16, colour)
        .expect("test image encodes");
    out
}

/// An APP1 payload: `Exif\0\0`, a big-endian TIFF header and IFD0 holding only Orientation.
pub fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut d = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    d.extend(1u16.to_be_bytes()); // one entry
    d.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]); // tag 0x0112, SHORT, count 1
    d.extend(orientation.to_be_bytes());
    d.extend([0, 0, 0, 0, 0, 0]); // value padding, next IFD = 0
    d
}

/// The stored pixels of a photo that displays as `shown` once EXIF `orientation` is applied.
pub fn stored_for_orientation(shown: &Rgb, orientation: u16) -> Rgb {
    let (w, h) = (shown.width, shown.height);
    let swap = orientation >= 5;
    let (sw, sh) = if swap { (h, w) } else { (w, h) };
    let mut pixels = vec![0; (sw * sh * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            // Where displayed pixel (x, y) sits in the stored image.
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, w - 1 - x),
                7 => (h - 1 - y, w - 1 - x),
                8 => (h - 1 - y, x),
                _ => (x, y),
            };
            let from = ((y * w + x) * 3) as usize;
            let to = ((sy * sw + sx) * 3) as usize;
            pixels[to..to + 3].copy_from_slice(&shown.pixels[from..from + 3]);
        }
    }
    Rgb {
        width: sw,
        height: sh,
        pixels,
    }
}

/// A PNG of RGBA pixels, with an eXIf chunk carrying `orientation` if given.
pub fn png_rgba(width: u32, height: u32, rgba: &[u8], orientation: Option<u16>) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .expect("test PNG encodes");
    match orientation {
        Some(o) => insert_png_chunk(&out, b"eXIf", &exif_orientation(o)[6..]),
        None => out,
    }
}

/// `png` with a chunk inserted right after IHDR.
fn insert_png_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 8 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    out.extend(png_chunk(kind, data));
    out.extend(&png[ihdr_end..]);
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend(kind);
    chunk.extend(data);
    chunk.extend(crc32(&chunk[4..]).to_be_bytes());
    chunk
}

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
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

/// A PNG whose header declares `width` x `height` RGBA pixels, followed by a token of data.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// A small baseline JPEG whose frame header is patched to declare `width` x `height`.
pub fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut data = jpeg(&quadrants(16, 16), JpegOptions::default());
    let sof = data
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline frame header");
    data[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    data[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    data
}

/// Decodes a JPEG to RGB for checking pixels.
pub fn decode(jpeg: &[u8]) -> Rgb {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output decodes")
        .to_rgb8();
    Rgb {
        width: img.width(),
        height: img.height(),
        pixels: img.into_raw(),
    }
}

/// Whether two colours are within `tolerance` on every channel.
pub fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Writes the demo's sample photos into `dir` and returns their paths: camera-sized JPEGs named
/// by employee ID and by name, one taken with the camera on its side, a PNG with transparency,
/// one photo nobody matches and a damaged file.
pub fn write_samples(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let sideways = stored_for_orientation(&photo_like(1632, 2448, 2), 6);
    let (w, h) = (800, 800);
    let rgba: Vec<u8> = photo_like(w, h, 4)
        .pixels
        .chunks(3)
        .enumerate()
        .flat_map(|(i, p)| {
            [
                p[0],
                p[1],
                p[2],
                if (i as u32 % w) < w / 8 { 0 } else { 255 },
            ]
        })
        .collect();
    let damaged = jpeg(&photo_like(640, 480, 5), JpegOptions::default());
    let samples: Vec<(&str, Vec<u8>)> = vec![
        (
            "12345.jpg",
            jpeg(&photo_like(2448, 1632, 1), JpegOptions::default()),
        ),
        (
            "23456.jpg",
            jpeg(
                &sideways,
                JpegOptions {
                    orientation: Some(6),
                    ..JpegOptions::default()
                },
            ),
        ),
        (
            "grace_hopper.jpg",
            jpeg(
                &photo_like(4032, 3024, 3),
                JpegOptions {
                    progressive: true,
                    ..JpegOptions::default()
                },
            ),
        ),
        ("ada_lovelace.png", png_rgba(w, h, &rgba, None)),
        (
            "99999.jpg",
            jpeg(&photo_like(1024, 768, 6), JpegOptions::default()),
        ),
        ("34567.jpg", damaged[..damaged.len() / 4].to_vec()),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in samples {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        paths.push(path);
    }
    Ok(paths)
}
