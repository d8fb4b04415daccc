//! A photosync transformer: decodes a JPEG, brings it to the profile's box (`crop`, `pad` or
//! `contain`) with an area-averaging resize, and encodes a baseline JPEG at the highest quality
//! that meets the profile's byte goal.
//!
//! A starting point, not photosync's builtin transform-jpeg: it reads JPEG only, does not apply
//! the Exif orientation and resizes with a plain box filter. README.md says what to add next.

wit_bindgen::generate!({ path: "wit", world: "transformer-plugin" });

use exports::photosync::plugin::transformer::{Fit, Guest, Profile, Rejection, Rendition};
use jpeg_decoder::PixelFormat;
use photosync::plugin::log::{Level, log};
use photosync::plugin::types::Setting;

/// The largest photo decoded when the setting `max-pixels` is not given: 50 megapixels.
const DEFAULT_MAX_PIXELS: u64 = 50_000_000;

/// The colour `pad` fills the rest of the box with: white.
const PAD_COLOUR: [u8; 3] = [255, 255, 255];

/// How far the quality drops between two tries.
const QUALITY_STEP: u8 = 5;

/// Pixels as 8-bit RGB, row after row.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

struct Plugin;

impl Guest for Plugin {
    fn transform(settings: Vec<Setting>, photo: Vec<u8>, profile: Profile) -> Result<Rendition, Rejection> {
        let max_pixels = parse_settings(&settings)?;
        check_profile(&profile)?;
        let image = decode(&photo, max_pixels)?;
        let fitted = fit(&image, &profile);
        let (jpeg, quality) = encode_within(&fitted, &profile)?;
        log(
            Level::Debug,
            &format!(
                "Turned a {}x{} JPEG into {}x{} at quality {quality}, {} bytes.",
                image.width,
                image.height,
                fitted.width,
                fitted.height,
                jpeg.len()
            ),
        );
        Ok(Rendition { jpeg, width: fitted.width, height: fitted.height, quality })
    }
}

export!(Plugin);

/// Reads the settings: `max-pixels`, the largest width × height that is decoded.
fn parse_settings(settings: &[Setting]) -> Result<u64, Rejection> {
    let mut max_pixels = DEFAULT_MAX_PIXELS;
    for Setting { key, value } in settings {
        match key.as_str() {
            "max-pixels" => {
                max_pixels = value.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    Rejection::InvalidSetting(format!(
                        "the setting `max-pixels` = {value:?} is not a whole number above 0"
                    ))
                })?;
            }
            other => {
                return Err(Rejection::InvalidSetting(format!(
                    "the setting {other:?} is unknown; this plugin understands max-pixels"
                )));
            }
        }
    }
    Ok(max_pixels)
}

/// Refuses a profile the encoder cannot meet (the host's own profiles always pass).
fn check_profile(p: &Profile) -> Result<(), Rejection> {
    if !(1..=16384).contains(&p.max_width) || !(1..=16384).contains(&p.max_height) {
        return Err(Rejection::InvalidSetting(format!(
            "profile for `{}`: the box {}x{} must be 1 to 16384 pixels each way",
            p.attribute, p.max_width, p.max_height
        )));
    }
    if p.min_quality == 0 || p.min_quality > p.max_quality || p.max_quality > 100 {
        return Err(Rejection::InvalidSetting(format!(
            "profile for `{}`: the qualities must satisfy 1 <= min-quality ({}) <= max-quality ({}) <= 100",
            p.attribute, p.min_quality, p.max_quality
        )));
    }
    Ok(())
}

/// Decodes a JPEG (greyscale or colour) to RGB, refusing it before any pixel is allocated when
/// its header declares more than `max_pixels`.
fn decode(photo: &[u8], max_pixels: u64) -> Result<Image, Rejection> {
    if !photo.starts_with(&[0xFF, 0xD8]) {
        let start: Vec<String> = photo.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(Rejection::UnsupportedFormat(if start.is_empty() {
            "the file is empty".into()
        } else {
            format!("the photo is not a JPEG (it starts with {}); this transformer reads JPEG only", start.join(" "))
        }));
    }
    let mut decoder = jpeg_decoder::Decoder::new(photo);
    decoder.read_info().map_err(decode_error)?;
    let info = decoder.info().ok_or_else(|| Rejection::Corrupt("the JPEG has no frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Rejection::TooLarge(format!(
            "the JPEG is {width}x{height} pixels, more than the limit of {max_pixels} (setting max-pixels)"
        )));
    }
    let pixels = decoder.decode().map_err(decode_error)?;
    let rgb = match info.pixel_format {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        other => {
            return Err(Rejection::UnsupportedFormat(format!(
                "the JPEG's pixels are {other:?}; this transformer reads greyscale and colour JPEGs"
            )));
        }
    };
    if width == 0 || height == 0 || rgb.len() != width as usize * height as usize * 3 {
        return Err(Rejection::Corrupt(format!("the JPEG declares {width}x{height} pixels but decodes to {} bytes", rgb.len())));
    }
    Ok(Image { width, height, rgb })
}

fn decode_error(error: jpeg_decoder::Error) -> Rejection {
    match error {
        jpeg_decoder::Error::Unsupported(feature) => Rejection::UnsupportedFormat(format!(
            "the JPEG uses a feature this transformer does not read: {feature:?}"
        )),
        other => Rejection::Corrupt(format!("the JPEG is damaged: {other}")),
    }
}

/// The photo brought to the profile's box as its `fit` says.
fn fit(image: &Image, profile: &Profile) -> Image {
    let (w, h) = (image.width, image.height);
    let (box_w, box_h) = (profile.max_width, profile.max_height);
    let whole = Rect { x: 0, y: 0, width: w, height: h };
    match profile.fit {
        Fit::Crop => {
            // The largest centred rectangle with the box's aspect ratio, scaled to the box.
            let (cw, ch) = if u64::from(w) * u64::from(box_h) > u64::from(h) * u64::from(box_w) {
                (mul_div(h, box_w, box_h).clamp(1, w), h)
            } else {
                (w, mul_div(w, box_h, box_w).clamp(1, h))
            };
            let centre = Rect { x: (w - cw) / 2, y: (h - ch) / 2, width: cw, height: ch };
            resize(image, centre, box_w, box_h)
        }
        Fit::Pad => {
            let (sw, sh) = scaled_into(w, h, box_w, box_h);
            place_centred(&resize(image, whole, sw, sh), box_w, box_h)
        }
        Fit::Contain if w <= box_w && h <= box_h => resize(image, whole, w, h),
        Fit::Contain => {
            let (sw, sh) = scaled_into(w, h, box_w, box_h);
            resize(image, whole, sw, sh)
        }
    }
}

/// A rectangle of source pixels.
#[derive(Clone, Copy)]
struct Rect {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// The size of `w`x`h` scaled, aspect kept, to touch the box `box_w`x`box_h` from inside.
fn scaled_into(w: u32, h: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    if u64::from(w) * u64::from(box_h) > u64::from(h) * u64::from(box_w) {
        (box_w, mul_div(h, box_w, w).max(1))
    } else {
        (mul_div(w, box_h, h).max(1), box_h)
    }
}

/// `a * b / c` without overflow (the result is never larger than the inputs here).
fn mul_div(a: u32, b: u32, c: u32) -> u32 {
    u32::try_from(u64::from(a) * u64::from(b) / u64::from(c)).unwrap_or(u32::MAX)
}

/// Scales the `from` part of `image` to `width`x`height`: each output pixel is the mean of the
/// source pixels it covers (at least one, so enlarging repeats pixels).
fn resize(image: &Image, from: Rect, width: u32, height: u32) -> Image {
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for oy in 0..height {
        let (y0, y1) = covered(oy, height, from.height);
        for ox in 0..width {
            let (x0, x1) = covered(ox, width, from.width);
            let mut sum = [0u64; 3];
            for y in from.y + y0..from.y + y1 {
                let row = y as usize * image.width as usize;
                for x in from.x + x0..from.x + x1 {
                    let at = (row + x as usize) * 3;
                    for (s, &v) in sum.iter_mut().zip(&image.rgb[at..at + 3]) {
                        *s += u64::from(v);
                    }
                }
            }
            let n = u64::from((x1 - x0) * (y1 - y0));
            rgb.extend(sum.map(|s| u8::try_from((s + n / 2) / n).unwrap_or(u8::MAX)));
        }
    }
    Image { width, height, rgb }
}

/// The source positions `[start, end)` that output position `i` of `out` covers, out of `len`.
fn covered(i: u32, out: u32, len: u32) -> (u32, u32) {
    let start = mul_div(i, len, out);
    // `start` is below `len`, so the end is at least one past it and at most `len`.
    let end = mul_div(i + 1, len, out).max(start + 1).min(len);
    (start, end)
}

/// `inner` in the middle of a `width`x`height` canvas of [`PAD_COLOUR`].
fn place_centred(inner: &Image, width: u32, height: u32) -> Image {
    let mut rgb = PAD_COLOUR.repeat(width as usize * height as usize);
    let (left, top) = ((width - inner.width) / 2, (height - inner.height) / 2);
    let row_bytes = inner.width as usize * 3;
    for y in 0..inner.height as usize {
        let to = ((top as usize + y) * width as usize + left as usize) * 3;
        rgb[to..to + row_bytes].copy_from_slice(&inner.rgb[y * row_bytes..(y + 1) * row_bytes]);
    }
    Image { width, height, rgb }
}

/// Encodes at the highest quality, going down from `max-quality` in steps, whose bytes meet
/// `target-bytes`; when none does, `min-quality`'s bytes as long as they are within `max-bytes`.
fn encode_within(image: &Image, profile: &Profile) -> Result<(Vec<u8>, u8), Rejection> {
    let goal = match profile.target_bytes {
        0 => profile.max_bytes,
        t => t.min(profile.max_bytes),
    } as usize;
    let mut quality = profile.max_quality;
    loop {
        let jpeg = encode(image, quality)?;
        if jpeg.len() <= goal {
            return Ok((jpeg, quality));
        }
        if quality == profile.min_quality {
            if jpeg.len() <= profile.max_bytes as usize {
                return Ok((jpeg, quality));
            }
            return Err(Rejection::CannotFit(format!(
                "at the lowest quality, {quality}, {}x{} takes {} bytes, more than max-bytes {}",
                image.width,
                image.height,
                jpeg.len(),
                profile.max_bytes
            )));
        }
        quality = quality.saturating_sub(QUALITY_STEP).max(profile.min_quality);
    }
}

/// A baseline JPEG of `image`: jpeg-encoder writes a JFIF header and no other metadata.
fn encode(image: &Image, quality: u8) -> Result<Vec<u8>, Rejection> {
    let failed = |e: &dyn std::fmt::Display| Rejection::CannotFit(format!("encoding at quality {quality} failed: {e}"));
    let width = u16::try_from(image.width).map_err(|e| failed(&e))?;
    let height = u16::try_from(image.height).map_err(|e| failed(&e))?;
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_progressive(false);
    encoder
        .encode(&image.rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| failed(&e))?;
    Ok(out)
}
