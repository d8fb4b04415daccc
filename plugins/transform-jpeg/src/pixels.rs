//! The one pixel layout the pipeline works in after decoding: 8-bit RGB, rows top to bottom,
//! no padding. Also the conversions into it from what the decoders hand out (grey, CMYK,
//! 16-bit samples, RGBA flattened onto a background).

/// An 8-bit sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// An 8-bit RGB image; `data.len() == width * height * 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps decoded RGB bytes, or `None` when their length does not match the size.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (pixel_count(width, height)?.checked_mul(3)? == data.len()).then_some(Self {
            width,
            height,
            data,
        })
    }

    /// An image filled with one colour.
    pub fn filled(width: u32, height: u32, colour: Rgb) -> Option<Self> {
        let count = pixel_count(width, height)?;
        let data = [colour.r, colour.g, colour.b].repeat(count);
        Some(Self {
            width,
            height,
            data,
        })
    }
}

/// `width * height` as a `usize`, or `None` when it does not fit.
pub fn pixel_count(width: u32, height: u32) -> Option<usize> {
    usize::try_from(u64::from(width) * u64::from(height)).ok()
}

/// Grey to RGB by repeating each sample.
pub fn grey_to_rgb(grey: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(grey.len() * 3);
    for &v in grey {
        rgb.extend_from_slice(&[v, v, v]);
    }
    rgb
}

/// CMYK, as ink amounts (0 = no ink, 255 = full ink), to RGB with the naive formula
/// `R = (255 - C)(255 - K) / 255`. Without the file's ICC profile this is only an
/// approximation, but a faithful one for portrait photos.
pub fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let white = 255 - u32::from(px[3]);
        for &ink in &px[..3] {
            rgb.push(div255((255 - u32::from(ink)) * white));
        }
    }
    rgb
}

/// 16-bit samples (native byte order, as the decoders hand them out) whose largest value is
/// `max` to 8 bits, rounding to nearest.
pub fn samples16_to_8(bytes: &[u8], max: u16) -> Vec<u8> {
    let max = u32::from(max.max(1));
    bytes
        .chunks_exact(2)
        .map(|pair| {
            let v = u32::from(u16::from_ne_bytes([pair[0], pair[1]])).min(max);
            u8::try_from((v * 255 + max / 2) / max).unwrap_or(u8::MAX)
        })
        .collect()
}

/// Flattens RGBA onto `background`, reusing the buffer: the result is RGB.
pub fn flatten_rgba(mut data: Vec<u8>, background: Rgb) -> Vec<u8> {
    let bg = [background.r, background.g, background.b];
    let count = data.len() / 4;
    for i in 0..count {
        let alpha = u32::from(data[i * 4 + 3]);
        for c in 0..3 {
            let fg = u32::from(data[i * 4 + c]);
            // Writing to index i*3+c never overtakes reading at i*4+c, so reuse is safe.
            data[i * 3 + c] = div255(fg * alpha + u32::from(bg[c]) * (255 - alpha));
        }
    }
    data.truncate(count * 3);
    data
}

/// `x / 255` rounded to nearest, for `x <= 255 * 255`.
fn div255(x: u32) -> u8 {
    u8::try_from((x + 127) / 255).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_ink_amounts_become_rgb() {
        let cmyk = [0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 0, 128, 255, 0];
        assert_eq!(
            cmyk_to_rgb(&cmyk),
            [255, 255, 255, 0, 255, 255, 0, 0, 0, 255, 127, 0]
        );
    }

    #[test]
    fn flatten_uses_alpha_and_background() {
        let rgba = vec![10, 20, 30, 255, 10, 20, 30, 0, 255, 255, 255, 128];
        let bg = Rgb {
            r: 0,
            g: 100,
            b: 200,
        };
        assert_eq!(
            flatten_rgba(rgba, bg),
            [10, 20, 30, 0, 100, 200, 128, 178, 228]
        );
    }

    #[test]
    fn sixteen_bit_samples_scale_to_their_precision() {
        let twelve_bit: Vec<u8> = [0u16, 4095, 2048]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(samples16_to_8(&twelve_bit, 4095), [0, 255, 128]);
        let full: Vec<u8> = [65535u16, 257]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(samples16_to_8(&full, 65535), [255, 1]);
    }

    #[test]
    fn image_size_must_match_data() {
        assert!(RgbImage::new(2, 2, vec![0; 12]).is_some());
        assert!(RgbImage::new(2, 2, vec![0; 11]).is_none());
        assert_eq!(
            RgbImage::filled(1, 2, Rgb { r: 1, g: 2, b: 3 }).map(|i| i.data),
            Some(vec![1, 2, 3, 1, 2, 3])
        );
    }
}
