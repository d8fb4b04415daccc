//! Small text helpers shared by results, reasons and logs.

/// `text` cut to at most `max` bytes on a character boundary, with control characters escaped.
pub fn clip(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// MD5 of `bytes` as lowercase hex, the digest photo-changed events and backups promise.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clip_cuts_on_characters_and_escapes_controls() {
        assert_eq!(super::clip("a\nb", 10), "a\\nb");
        assert_eq!(super::clip("ééé", 4), "éé…");
    }

    #[test]
    fn md5_is_lowercase_hex() {
        assert_eq!(super::md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
