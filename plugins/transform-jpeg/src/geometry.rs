//! Pure size arithmetic: which part of the upright source goes where in the rendition, how
//! small the source may be decoded, and how a rendition shrinks when its bytes do not fit.
//!
//! Sizes here are in full-resolution upright pixels; the resizer maps them onto the (possibly
//! DCT-downscaled) decoded image.

/// How the photo is brought to the rendition's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Centre-crop to the box's aspect ratio, then scale to exactly the box (upscaling if the
    /// source is smaller).
    Crop,
    /// Scale to fit inside the box (upscaling if the source is smaller) and pad to exactly the
    /// box, centred.
    Pad,
    /// Scale down to fit inside the box; never upscales, so the output may be smaller.
    Contain,
}

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

/// A rectangle in source pixels; fractional so that centring loses nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// Where the source goes in the rendition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The part of the source that is used.
    pub source: Rect,
    /// The size that part is scaled to.
    pub scaled: Size,
    /// The size of the rendition.
    pub canvas: Size,
    /// Where the scaled part sits in the rendition (non-zero only for `pad`).
    pub offset: (u32, u32),
}

/// Plans how a `source`-sized upright image fills a `bound` box.
pub fn plan(source: Size, bound: Size, fit: Fit) -> Plan {
    let (sw, sh) = (
        f64::from(source.width.max(1)),
        f64::from(source.height.max(1)),
    );
    let (bw, bh) = (
        f64::from(bound.width.max(1)),
        f64::from(bound.height.max(1)),
    );
    let whole = Rect {
        left: 0.0,
        top: 0.0,
        width: sw,
        height: sh,
    };
    match fit {
        Fit::Crop => {
            let source = if sw * bh > sh * bw {
                let width = sh * bw / bh;
                Rect {
                    left: (sw - width) / 2.0,
                    width,
                    ..whole
                }
            } else {
                let height = sw * bh / bw;
                Rect {
                    top: (sh - height) / 2.0,
                    height,
                    ..whole
                }
            };
            Plan {
                source,
                scaled: bound,
                canvas: bound,
                offset: (0, 0),
            }
        }
        Fit::Pad => {
            let scaled = scale_to(sw, sh, (bw / sw).min(bh / sh), bound);
            let offset = (
                (bound.width - scaled.width) / 2,
                (bound.height - scaled.height) / 2,
            );
            Plan {
                source: whole,
                scaled,
                canvas: bound,
                offset,
            }
        }
        Fit::Contain => {
            let scaled = scale_to(sw, sh, (bw / sw).min(bh / sh).min(1.0), bound);
            Plan {
                source: whole,
                scaled,
                canvas: scaled,
                offset: (0, 0),
            }
        }
    }
}

/// `(sw, sh) * factor`, rounded, at least 1 and at most `bound`.
fn scale_to(sw: f64, sh: f64, factor: f64, bound: Size) -> Size {
    let side = |len: f64, max: u32| {
        let rounded = (len * factor).round();
        if rounded >= f64::from(max) {
            max
        } else {
            (rounded as u32).max(1)
        }
    };
    Size::new(side(sw, bound.width), side(sh, bound.height))
}

/// The smallest size the whole upright source must be decoded at so that `plan` never has to
/// upscale the decoded pixels (beyond what it would upscale the original ones).
pub fn needed_source_size(source: Size, bound: Size, fit: Fit) -> Size {
    let (sw, sh) = (
        f64::from(source.width.max(1)),
        f64::from(source.height.max(1)),
    );
    let (x, y) = (f64::from(bound.width) / sw, f64::from(bound.height) / sh);
    let factor = match fit {
        Fit::Crop => x.max(y),
        Fit::Pad | Fit::Contain => x.min(y),
    };
    // The epsilon keeps exact ratios (96 / 3000 * 3000) from rounding up to the next pixel.
    let side = |len: f64, max: u32| {
        let needed = (len * factor - 1e-6).ceil();
        if needed >= f64::from(max) {
            max
        } else {
            (needed as u32).max(1)
        }
    };
    Size::new(side(sw, source.width), side(sh, source.height))
}

/// The next smaller rendition box when `current` does not fit the byte limit: both sides times
/// `factor` (keeping the aspect ratio), or `None` once a side would drop below `min_size` or
/// nothing would change.
pub fn shrink(current: Size, factor: f64, min_size: u32) -> Option<Size> {
    let side = |len: u32| (f64::from(len) * factor).round() as u32;
    let next = Size::new(side(current.width), side(current.height));
    let smaller = next.width < current.width && next.height < current.height;
    (smaller && next.width.min(next.height) >= min_size.max(1)).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(left: f64, top: f64, width: f64, height: f64) -> Rect {
        Rect {
            left,
            top,
            width,
            height,
        }
    }

    #[test]
    fn crop_takes_the_centre_at_the_box_aspect() {
        let p = plan(Size::new(4000, 3000), Size::new(96, 96), Fit::Crop);
        assert_eq!(p.source, rect(500.0, 0.0, 3000.0, 3000.0));
        assert_eq!(
            (p.scaled, p.canvas, p.offset),
            (Size::new(96, 96), Size::new(96, 96), (0, 0))
        );

        let p = plan(Size::new(3000, 4000), Size::new(100, 50), Fit::Crop);
        assert_eq!(p.source, rect(0.0, 1250.0, 3000.0, 1500.0));
        assert_eq!(p.canvas, Size::new(100, 50));
    }

    #[test]
    fn crop_upscales_small_sources_to_the_box() {
        let p = plan(Size::new(40, 30), Size::new(96, 96), Fit::Crop);
        assert_eq!(p.source, rect(5.0, 0.0, 30.0, 30.0));
        assert_eq!(p.scaled, Size::new(96, 96));
    }

    #[test]
    fn pad_fits_inside_and_centres() {
        let p = plan(Size::new(4000, 3000), Size::new(96, 96), Fit::Pad);
        assert_eq!(p.source, rect(0.0, 0.0, 4000.0, 3000.0));
        assert_eq!(
            (p.scaled, p.canvas, p.offset),
            (Size::new(96, 72), Size::new(96, 96), (0, 12))
        );

        let p = plan(Size::new(10, 40), Size::new(64, 64), Fit::Pad);
        assert_eq!((p.scaled, p.offset), (Size::new(16, 64), (24, 0)));
    }

    #[test]
    fn contain_never_upscales() {
        let p = plan(Size::new(4000, 3000), Size::new(96, 96), Fit::Contain);
        assert_eq!((p.scaled, p.canvas), (Size::new(96, 72), Size::new(96, 72)));
        let p = plan(Size::new(40, 30), Size::new(96, 96), Fit::Contain);
        assert_eq!(p.canvas, Size::new(40, 30));
        let p = plan(Size::new(10000, 1), Size::new(96, 96), Fit::Contain);
        assert_eq!(p.canvas, Size::new(96, 1));
    }

    #[test]
    fn needed_size_covers_the_plan() {
        let s = Size::new(4000, 3000);
        assert_eq!(
            needed_source_size(s, Size::new(96, 96), Fit::Crop),
            Size::new(128, 96)
        );
        assert_eq!(
            needed_source_size(s, Size::new(96, 96), Fit::Pad),
            Size::new(96, 72)
        );
        assert_eq!(
            needed_source_size(s, Size::new(96, 96), Fit::Contain),
            Size::new(96, 72)
        );
        // Never more than the source: upscaling is the resizer's job.
        assert_eq!(
            needed_source_size(Size::new(40, 30), Size::new(96, 96), Fit::Crop),
            Size::new(40, 30)
        );
    }

    #[test]
    fn shrink_keeps_aspect_and_stops_at_min_size() {
        assert_eq!(
            shrink(Size::new(100, 50), 0.85, 16),
            Some(Size::new(85, 43))
        );
        assert_eq!(shrink(Size::new(20, 20), 0.85, 16), Some(Size::new(17, 17)));
        assert_eq!(shrink(Size::new(18, 18), 0.85, 16), None);
        assert_eq!(
            shrink(Size::new(2, 2), 0.85, 1),
            None,
            "no progress below 3 px"
        );
    }
}
