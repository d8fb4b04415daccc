//! The plugin's digest: MD5 as lower-case hex.
//!
//! MD5 serves here only to notice whether bytes changed; nobody gains by forging a collision
//! for a photo they could upload anyway.

use md5::{Digest, Md5};

/// The MD5 digest of `data` as 32 lower-case hexadecimal characters.
pub fn md5_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(32);
    for byte in Md5::digest(data).iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// The first eight characters of a digest, enough to tell photos apart in a log line.
pub fn short(digest: &str) -> String {
    digest.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn short_digests_never_split_a_character() {
        assert_eq!(short("900150983cd24fb0d6963f7d28e17f72"), "90015098");
        assert_eq!(short("ab"), "ab");
        assert_eq!(short("ééééééééé"), "éééééééé");
    }
}
