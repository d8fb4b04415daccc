//! Recognises the image format from the first bytes (magic numbers), ignoring the declared
//! content type, and describes what was seen when the bytes are not a supported image.

use crate::error::Rejection;

/// A format the plugin decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Bmp,
    WebP,
    Tiff,
}

impl Format {
    /// The format's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
            Self::WebP => "WebP",
            Self::Tiff => "TIFF",
        }
    }
}

/// Signatures at offset 0; `None` bytes match anything (the RIFF size field).
const SIGNATURES: &[(&[Option<u8>], Format)] = &[
    (&[Some(0xFF), Some(0xD8), Some(0xFF)], Format::Jpeg),
    (&bytes(b"\x89PNG\r\n\x1a\n"), Format::Png),
    (&bytes(b"GIF87a"), Format::Gif),
    (&bytes(b"GIF89a"), Format::Gif),
    (&bytes(b"BM"), Format::Bmp),
    (&WEBP, Format::WebP),
    (&bytes(b"II*\0"), Format::Tiff),
    (&bytes(b"MM\0*"), Format::Tiff),
    (&bytes(b"II+\0"), Format::Tiff),
    (&bytes(b"MM\0+"), Format::Tiff),
];

/// Turns a byte string into a signature with every byte significant.
const fn bytes<const N: usize>(s: &[u8; N]) -> [Option<u8>; N] {
    let mut out = [None; N];
    let mut i = 0;
    while i < N {
        out[i] = Some(s[i]);
        i += 1;
    }
    out
}

/// `RIFF`, a four-byte size that can be anything, `WEBP`.
const WEBP: [Option<u8>; 12] = {
    let mut sig = bytes(b"RIFF____WEBP");
    let mut i = 4;
    while i < 8 {
        sig[i] = None;
        i += 1;
    }
    sig
};

/// How many leading bytes are inspected to tell text from binary.
const TEXT_PROBE: usize = 64;

/// The format of `data`, or why it is not one the plugin reads.
pub fn sniff(data: &[u8]) -> Result<Format, Rejection> {
    let matches = |sig: &[Option<u8>], data: &[u8]| {
        sig.iter().zip(data).all(|(s, d)| s.is_none_or(|s| s == *d))
    };
    for (sig, format) in SIGNATURES {
        if data.len() >= sig.len() && matches(sig, data) {
            return Ok(*format);
        }
    }
    for (sig, format) in SIGNATURES {
        // Multi-byte signatures only: two random bytes "BM" are no evidence of a cut-off file.
        if !data.is_empty() && data.len() < sig.len() && sig.len() > 2 && matches(sig, data) {
            return Err(Rejection::Corrupt(format!(
                "the file is only {} bytes long: the start of a {} file, cut off",
                data.len(),
                format.name()
            )));
        }
    }
    Err(Rejection::UnsupportedFormat(describe(data)))
}

/// A sentence saying what the unsupported bytes look like.
fn describe(data: &[u8]) -> String {
    if data.is_empty() {
        return "the file is empty".to_owned();
    }
    if let Some(kind) = known_unsupported(data) {
        return format!("the file is {kind}, which this plugin does not read");
    }
    let probe = &data[..data.len().min(TEXT_PROBE)];
    let text = std::str::from_utf8(probe).is_ok_and(|s| !s.chars().any(is_binary_control));
    if text {
        return "the first bytes look like text, not an image".to_owned();
    }
    let hex: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "the first bytes ({}) match no supported image format",
        hex.join(" ")
    )
}

fn is_binary_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')
}

/// Well-known formats the plugin does not decode, named so the operator knows what arrived.
fn known_unsupported(data: &[u8]) -> Option<&'static str> {
    let brand = data.get(4..12);
    match brand {
        Some(b"ftypheic" | b"ftypheix" | b"ftypmif1" | b"ftyphevc") => return Some("HEIF/HEIC"),
        Some(b"ftypavif" | b"ftypavis") => return Some("AVIF"),
        _ => {}
    }
    if data.starts_with(b"%PDF") {
        return Some("a PDF document");
    }
    if data.starts_with(b"\xff\x0a") || data.get(4..12) == Some(b"jP  \r\n\x87\n") {
        return Some("JPEG XL or JPEG 2000");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(data: &[u8]) -> String {
        sniff(data).err().map(|r| r.to_string()).unwrap_or_default()
    }

    #[test]
    fn recognises_every_supported_signature() {
        let cases: [(&[u8], Format); 7] = [
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Format::Jpeg),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Format::Png),
            (b"GIF89a\x01\0", Format::Gif),
            (b"BM\x3a\0\0\0", Format::Bmp),
            (b"RIFF\x24\x10\0\0WEBPVP8 ", Format::WebP),
            (b"II*\0\x08\0\0\0", Format::Tiff),
            (b"MM\0*\0\0\0\x08", Format::Tiff),
        ];
        for (data, format) in cases {
            assert_eq!(sniff(data), Ok(format));
        }
    }

    #[test]
    fn empty_input() {
        assert_eq!(reason(b""), "unsupported format: the file is empty");
    }

    #[test]
    fn text_input() {
        let text = "Hello, this is not a photo.\nÜmlauts too.\n";
        assert_eq!(
            reason(text.as_bytes()),
            "unsupported format: the first bytes look like text, not an image"
        );
        assert!(reason(b"<?xml version=\"1.0\"?><svg/>").contains("look like text"));
    }

    #[test]
    fn truncated_signatures_are_corrupt() {
        assert!(matches!(sniff(b"\xff\xd8"), Err(Rejection::Corrupt(_))));
        assert!(reason(b"\x89PNG").contains("start of a PNG file, cut off"));
        // A lone "B" is no evidence of a BMP.
        assert!(matches!(sniff(b"B"), Err(Rejection::UnsupportedFormat(_))));
    }

    #[test]
    fn other_binaries_show_their_first_bytes() {
        assert!(
            reason(b"\0\x01\x02\x03\xfe\xfd\xfc\xfb\xfa").contains("(00 01 02 03 fe fd fc fb)")
        );
        assert!(reason(b"\0\0\0\x18ftypheic\0\0").contains("HEIF/HEIC"));
        assert!(reason(b"RIFF\0\0\0\0WAVEfmt ").contains("match no supported image format"));
    }
}
