//! Reads the orientation tag (0x0112) from IFD0 of an Exif TIFF block, as found in a JPEG's
//! APP1 segment after `Exif\0\0`. Every read is bounds-checked: the block is untrusted, and a
//! damaged block simply has no orientation.

use crate::orient::Orientation;

/// The TIFF tag that holds the orientation.
const ORIENTATION_TAG: u16 = 0x0112;
/// TIFF field type SHORT (u16).
const TYPE_SHORT: u16 = 3;
/// TIFF field type LONG (u32); not what the standard says, but some writers use it.
const TYPE_LONG: u16 = 4;
/// Bytes per IFD entry: tag, type, count, value.
const ENTRY_LEN: usize = 12;

/// The byte order of a TIFF block.
#[derive(Debug, Clone, Copy)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, data: &[u8], at: usize) -> Option<u16> {
        let bytes: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u16::from_le_bytes(bytes),
            Self::Big => u16::from_be_bytes(bytes),
        })
    }

    fn u32(self, data: &[u8], at: usize) -> Option<u32> {
        let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u32::from_le_bytes(bytes),
            Self::Big => u32::from_be_bytes(bytes),
        })
    }
}

/// The orientation stored in `tiff` (which starts at the TIFF header), or `None` when there is
/// no valid orientation tag.
pub fn orientation(tiff: &[u8]) -> Option<Orientation> {
    let order = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => ByteOrder::Little,
        [b'M', b'M', 0, 42] => ByteOrder::Big,
        _ => return None,
    };
    let ifd = usize::try_from(order.u32(tiff, 4)?).ok()?;
    let count = usize::from(order.u16(tiff, ifd)?);
    (0..count).find_map(|i| {
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(ENTRY_LEN)?)?;
        if order.u16(tiff, entry)? != ORIENTATION_TAG {
            return None;
        }
        let value = match order.u16(tiff, entry + 2)? {
            TYPE_SHORT => order.u16(tiff, entry + 8)?,
            TYPE_LONG => u16::try_from(order.u32(tiff, entry + 8)?).ok()?,
            _ => return None,
        };
        Orientation::from_exif(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TIFF block with IFD0 at offset 8 holding `entries` as (tag, type, value) triples.
    fn tiff(big_endian: bool, entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = if big_endian {
            b"MM\0\x2a".to_vec()
        } else {
            b"II\x2a\0".to_vec()
        };
        out.extend_from_slice(&u32b(8));
        out.extend_from_slice(&u16b(entries.len() as u16));
        for &(tag, kind, value) in entries {
            out.extend_from_slice(&u16b(tag));
            out.extend_from_slice(&u16b(kind));
            out.extend_from_slice(&u32b(1));
            match kind {
                TYPE_SHORT => {
                    out.extend_from_slice(&u16b(value as u16));
                    out.extend_from_slice(&[0, 0]);
                }
                _ => out.extend_from_slice(&u32b(value)),
            }
        }
        out.extend_from_slice(&u32b(0));
        out
    }

    #[test]
    fn reads_both_byte_orders() {
        for big in [false, true] {
            for value in 1..=8u16 {
                let block = tiff(
                    big,
                    &[(0x010f, 2, 0), (ORIENTATION_TAG, TYPE_SHORT, value.into())],
                );
                assert_eq!(
                    orientation(&block),
                    Orientation::from_exif(value),
                    "big={big} {value}"
                );
            }
        }
    }

    #[test]
    fn accepts_long_type() {
        let block = tiff(true, &[(ORIENTATION_TAG, TYPE_LONG, 6)]);
        assert_eq!(orientation(&block), Orientation::from_exif(6));
    }

    #[test]
    fn missing_or_invalid_tag_gives_none() {
        assert_eq!(orientation(&tiff(false, &[(0x0110, 2, 0)])), None);
        assert_eq!(
            orientation(&tiff(false, &[(ORIENTATION_TAG, TYPE_SHORT, 0)])),
            None
        );
        assert_eq!(
            orientation(&tiff(false, &[(ORIENTATION_TAG, TYPE_SHORT, 9)])),
            None
        );
        assert_eq!(orientation(&tiff(false, &[(ORIENTATION_TAG, 7, 6)])), None);
        assert_eq!(orientation(b"XX\x2a\0\x08\0\0\0"), None);
        assert_eq!(orientation(b""), None);
    }

    #[test]
    fn truncated_blocks_give_none_without_panicking() {
        let block = tiff(false, &[(0x010f, 2, 0), (ORIENTATION_TAG, TYPE_SHORT, 6)]);
        let full_len = block.len() - 4; // without the next-IFD pointer
        assert_eq!(orientation(&block[..full_len]), Orientation::from_exif(6));
        for len in 0..full_len - 2 {
            assert_eq!(orientation(&block[..len]), None, "length {len}");
        }
    }

    #[test]
    fn hostile_offsets_and_counts_are_harmless() {
        let mut block = b"II\x2a\0\xff\xff\xff\xff".to_vec();
        assert_eq!(orientation(&block), None);
        block = b"MM\0\x2a\0\0\0\x08\xff\xff".to_vec();
        assert_eq!(orientation(&block), None);
    }
}
