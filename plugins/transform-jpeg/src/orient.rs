//! Exif orientation (values 1 to 8) and turning stored pixels upright.
//!
//! The value says how the stored image must be transformed for display. Values 5 to 8 swap
//! width and height.

use crate::pixels::RgbImage;

/// How a stored image must be transformed to be upright, named after the Exif values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// 1: already upright.
    Normal,
    /// 2: mirror left-right.
    FlipHorizontal,
    /// 3: turn half round.
    Rotate180,
    /// 4: mirror top-bottom.
    FlipVertical,
    /// 5: mirror along the top-left to bottom-right diagonal.
    Transpose,
    /// 6: turn a quarter clockwise.
    Rotate90,
    /// 7: mirror along the top-right to bottom-left diagonal.
    Transverse,
    /// 8: turn a quarter anticlockwise.
    Rotate270,
}

impl Orientation {
    /// The orientation for an Exif value, `None` outside 1..=8.
    pub fn from_exif(value: u16) -> Option<Self> {
        Some(match value {
            1 => Self::Normal,
            2 => Self::FlipHorizontal,
            3 => Self::Rotate180,
            4 => Self::FlipVertical,
            5 => Self::Transpose,
            6 => Self::Rotate90,
            7 => Self::Transverse,
            8 => Self::Rotate270,
            _ => return None,
        })
    }

    /// The orientation that the `image` crate reports for PNG, WebP and TIFF.
    pub fn from_image(orientation: image::metadata::Orientation) -> Self {
        use image::metadata::Orientation as O;
        match orientation {
            O::NoTransforms => Self::Normal,
            O::FlipHorizontal => Self::FlipHorizontal,
            O::Rotate180 => Self::Rotate180,
            O::FlipVertical => Self::FlipVertical,
            O::Rotate90FlipH => Self::Transpose,
            O::Rotate90 => Self::Rotate90,
            O::Rotate270FlipH => Self::Transverse,
            O::Rotate270 => Self::Rotate270,
        }
    }

    /// Whether the upright image has width and height swapped.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Self::Transpose | Self::Rotate90 | Self::Transverse | Self::Rotate270
        )
    }

    /// The source pixel for upright pixel `(x, y)` of a stored image of size `w` × `h`.
    fn source(self, x: usize, y: usize, w: usize, h: usize) -> (usize, usize) {
        match self {
            Self::Normal => (x, y),
            Self::FlipHorizontal => (w - 1 - x, y),
            Self::Rotate180 => (w - 1 - x, h - 1 - y),
            Self::FlipVertical => (x, h - 1 - y),
            Self::Transpose => (y, x),
            Self::Rotate90 => (y, h - 1 - x),
            Self::Transverse => (w - 1 - y, h - 1 - x),
            Self::Rotate270 => (w - 1 - y, x),
        }
    }
}

/// Turns `image` upright according to `orientation`.
pub fn apply(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::Normal {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let (out_w, out_h) = if orientation.swaps_axes() {
        (h, w)
    } else {
        (w, h)
    };
    let mut data = Vec::with_capacity(image.data.len());
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = orientation.source(x, y, w, h);
            let at = (sy * w + sx) * 3;
            data.extend_from_slice(image.data.get(at..at + 3).unwrap_or(&[0, 0, 0]));
        }
    }
    let (width, height) = if orientation.swaps_axes() {
        (image.height, image.width)
    } else {
        (image.width, image.height)
    };
    RgbImage {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-wide, 3-high image whose pixel values are their letters:
    /// ```text
    /// a b
    /// c d
    /// e f
    /// ```
    fn letters() -> RgbImage {
        let data = b"abcdef".iter().flat_map(|&v| [v, v, v]).collect();
        RgbImage {
            width: 2,
            height: 3,
            data,
        }
    }

    fn rows(image: &RgbImage) -> Vec<String> {
        image
            .data
            .chunks(image.width as usize * 3)
            .map(|row| row.chunks(3).map(|px| char::from(px[0])).collect())
            .collect()
    }

    #[test]
    fn all_eight_orientations() {
        let expected: [(u16, &[&str]); 8] = [
            (1, &["ab", "cd", "ef"]),
            (2, &["ba", "dc", "fe"]),
            (3, &["fe", "dc", "ba"]),
            (4, &["ef", "cd", "ab"]),
            (5, &["ace", "bdf"]),
            (6, &["eca", "fdb"]),
            (7, &["fdb", "eca"]),
            (8, &["bdf", "ace"]),
        ];
        for (value, want) in expected {
            let orientation = Orientation::from_exif(value).unwrap_or(Orientation::Normal);
            let upright = apply(letters(), orientation);
            assert_eq!(rows(&upright), want, "orientation {value}");
            assert_eq!(upright.data.len(), 18);
            assert_eq!(upright.width as usize, want[0].len());
        }
    }

    #[test]
    fn only_five_to_eight_swap_axes() {
        for value in 1..=8 {
            let o = Orientation::from_exif(value).unwrap_or(Orientation::Normal);
            assert_eq!(o.swaps_axes(), value >= 5, "{value}");
        }
        assert_eq!(Orientation::from_exif(0), None);
        assert_eq!(Orientation::from_exif(9), None);
    }
}
