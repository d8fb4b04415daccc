//! A reader of JPEG marker structure, enough to check that a rendition is what photosync writes:
//! a complete baseline JPEG of the stated size with no metadata.

/// What the markers of a JPEG say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegInfo {
    /// Width from the frame header.
    pub width: u32,
    /// Height from the frame header.
    pub height: u32,
    /// Number of colour components (1 grey, 3 YCbCr, 4 CMYK).
    pub components: u8,
    /// Whether the frame is baseline sequential (SOF0).
    pub baseline: bool,
    /// APPn markers present, as `n` (JFIF is APP0, EXIF APP1, ICC APP2, Adobe APP14).
    pub app_markers: Vec<u8>,
    /// Whether a comment (COM) segment is present.
    pub has_comment: bool,
}

impl JpegInfo {
    /// Whether the JPEG carries anything beyond the JFIF header: EXIF, ICC, XMP, comments.
    pub fn has_metadata(&self) -> bool {
        self.has_comment || self.app_markers.iter().any(|&n| n != 0)
    }
}

/// Reads the marker segments of `data` up to the first scan and checks the end-of-image marker.
pub fn inspect(data: &[u8]) -> Result<JpegInfo, String> {
    if data.len() < 4 || data[0..2] != [0xFF, 0xD8] {
        return Err("it does not start with a JPEG start-of-image marker".into());
    }
    if data[data.len() - 2..] != [0xFF, 0xD9] {
        return Err("it does not end with a JPEG end-of-image marker".into());
    }
    let mut pos = 2;
    let mut frame = None;
    let mut app_markers = Vec::new();
    let mut has_comment = false;
    loop {
        let (marker, body, next) = segment(data, pos)?;
        match marker {
            0xDA => break,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if body.len() < 6 {
                    return Err("its frame header is truncated".into());
                }
                let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
                let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
                frame = Some((marker == 0xC0, width, height, body[5]));
            }
            0xE0..=0xEF => app_markers.push(marker - 0xE0),
            0xFE => has_comment = true,
            _ => {}
        }
        pos = next;
    }
    let (baseline, width, height, components) =
        frame.ok_or("it has no frame header before its first scan")?;
    Ok(JpegInfo {
        width,
        height,
        components,
        baseline,
        app_markers,
        has_comment,
    })
}

/// The marker at `pos`, its body and the position after it.
fn segment(data: &[u8], pos: usize) -> Result<(u8, &[u8], usize), String> {
    let head = data.get(pos..pos + 4).ok_or("its headers are truncated")?;
    if head[0] != 0xFF {
        return Err(format!(
            "byte {pos} should start a marker but is {:#04x}",
            head[0]
        ));
    }
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if len < 2 {
        return Err(format!(
            "the segment at byte {pos} has an impossible length"
        ));
    }
    let body = data
        .get(pos + 4..pos + 2 + len)
        .ok_or("a header segment runs past the end")?;
    Ok((head[1], body, pos + 2 + len))
}

#[cfg(test)]
mod tests {
    use super::inspect;

    #[test]
    fn rejects_non_jpeg_and_truncation() {
        assert!(inspect(b"").is_err());
        assert!(inspect(b"\x89PNG\r\n\x1a\n....").is_err());
        assert!(inspect(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0xFF, 0xD9]).is_err());
    }

    #[test]
    fn reads_a_minimal_frame() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend([0xFF, 0xE1, 0x00, 0x04, 0, 0]); // APP1
        jpeg.extend([0xFF, 0xC2, 0x00, 0x0B, 8, 0, 48, 0, 64, 1, 1, 0x11, 0]); // SOF2 64x48
        jpeg.extend([0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]);
        let info = inspect(&jpeg).expect("valid markers");
        assert_eq!(
            (info.width, info.height, info.components, info.baseline),
            (64, 48, 1, false)
        );
        assert!(info.has_metadata());
    }
}
