//! Chroma upsampling and YCbCr to RGB for the fast paths, as `jpeg-decoder` does them: each
//! output position takes the nearer and the farther chroma sample around it 3:1, across and
//! down (the triangle filter libjpeg calls "fancy upsampling"), and the JFIF formula (full
//! range) turns the result into RGB in fixed point.
//!
//! Row by row: the two chroma rows are blended into one, that row is widened to the luma
//! width, and the conversion then runs over plain slices of equal length, which the compiler
//! vectorises.

/// A plane of 8-bit samples, `stride` to a row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plane<'a> {
    pub(super) samples: &'a [u8],
    pub(super) stride: usize,
}

impl<'a> Plane<'a> {
    fn row(self, y: usize) -> Option<&'a [u8]> {
        self.samples.get(y * self.stride..(y + 1) * self.stride)
    }

    fn rows(self) -> usize {
        self.samples.len() / self.stride.max(1)
    }
}

/// Fixed-point JFIF coefficients, × 2^16: Cr→R, Cb→G, Cr→G, Cb→B.
const CR_R: i32 = 91_881; // 1.402
const CB_G: i32 = 22_554; // 0.344136
const CR_G: i32 = 46_802; // 0.714136
const CB_B: i32 = 116_130; // 1.772

/// Upsamples the chroma planes to the luma grid (`factors` = luma blocks per chroma block
/// across and down, 1 or 2) and converts to RGB, `width` × `height` pixels. Chroma is kept at
/// 16× precision between the two steps.
pub(super) fn ycbcr_to_rgb(
    luma: Plane,
    [cb, cr]: [Plane; 2],
    (width, height): (usize, usize),
    (h, v): (usize, usize),
) -> Option<Vec<u8>> {
    let chroma_rows = taps(height, v, cb.rows());
    let mut rgb = vec![0u8; width * height * 3];
    let mut blended = vec![0i16; cb.stride];
    let mut wide = [vec![0i16; width], vec![0i16; width]];
    for (y, (&(near, far), out)) in chroma_rows
        .iter()
        .zip(rgb.chunks_exact_mut(width * 3))
        .enumerate()
    {
        for (plane, wide) in [cb, cr].into_iter().zip(&mut wide) {
            blend(plane.row(near)?, plane.row(far)?, &mut blended);
            widen(&blended, h, wide)?;
        }
        convert(luma.row(y)?.get(..width)?, &wide, out);
    }
    Some(rgb)
}

/// For each of `len` output rows, the nearer and the farther of the `input` chroma rows
/// around it: for a factor of 1 both are the same row.
fn taps(len: usize, factor: usize, input: usize) -> Vec<(usize, usize)> {
    let last = input.saturating_sub(1);
    (0..len)
        .map(|i| {
            if factor == 1 {
                return (i.min(last), i.min(last));
            }
            let near = (i / 2).min(last);
            let far = if i % 2 == 0 {
                near.saturating_sub(1)
            } else {
                (near + 1).min(last)
            };
            (near, far)
        })
        .collect()
}

/// Down: 3 × the nearer row + the farther.
fn blend(near: &[u8], far: &[u8], out: &mut [i16]) {
    for ((out, &near), &far) in out.iter_mut().zip(near).zip(far) {
        *out = 3 * i16::from(near) + i16::from(far);
    }
}

/// Across, to `out.len()` samples: for a factor of 1, 4 × each sample; for 2, each sample
/// becomes two, 3 × it plus its left and then its right neighbour (itself at the edges).
fn widen(row: &[i16], factor: usize, out: &mut [i16]) -> Option<()> {
    if factor == 1 {
        for (out, &sample) in out.iter_mut().zip(row) {
            *out = 4 * sample;
        }
        return Some(());
    }
    let (&first, &last) = (row.first()?, row.last()?);
    let inner = out.get_mut(2..).unwrap_or_default();
    for (pair, window) in inner.chunks_mut(2).zip(row.windows(3)) {
        let centre = 3 * window[1];
        for (out, neighbour) in pair.iter_mut().zip([window[0], window[2]]) {
            *out = centre + neighbour;
        }
    }
    // The first sample's halves, then the last's (the only one's, when there is one).
    let end = 2 * row.len() - 1;
    let second = *row.get(1).unwrap_or(&first);
    let before_last = *row.get(row.len().wrapping_sub(2)).unwrap_or(&last);
    let edges = [
        (0, first, first),
        (1, first, second),
        (end - 1, last, before_last),
        (end, last, last),
    ];
    for (at, centre, neighbour) in edges {
        if let Some(out) = out.get_mut(at) {
            *out = 3 * centre + neighbour;
        }
    }
    Some(())
}

/// One row of luma and widened chroma (16×, offset by 16 × 128) to RGB.
fn convert(luma: &[u8], [cb, cr]: &[Vec<i16>; 2], out: &mut [u8]) {
    let channel = |value: i32| (value >> 20).clamp(0, 255) as u8;
    for (((&l, &cb), &cr), pixel) in luma.iter().zip(cb).zip(cr).zip(out.chunks_exact_mut(3)) {
        let (cb, cr) = (i32::from(cb) - 16 * 128, i32::from(cr) - 16 * 128);
        let y = (i32::from(l) << 20) + (1 << 19);
        pixel[0] = channel(y + CR_R * cr);
        pixel[1] = channel(y - CB_G * cb - CR_G * cr);
        pixel[2] = channel(y + CB_B * cb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_weights_each_neighbour_three_to_one() {
        let mut out = [0; 6];
        widen(&[10, 20, 30], 2, &mut out).unwrap_or_default();
        assert_eq!(out, [40, 50, 70, 90, 110, 120]);
        let mut odd = [0; 5];
        widen(&[10, 20, 30], 2, &mut odd).unwrap_or_default();
        assert_eq!(odd, [40, 50, 70, 90, 110]);
        let mut short = [0; 5];
        widen(&[10, 20, 30, 40], 2, &mut short).unwrap_or_default();
        assert_eq!(short, [40, 50, 70, 90, 110]);
        let mut one = [0; 2];
        widen(&[10], 2, &mut one).unwrap_or_default();
        assert_eq!(one, [40, 40]);
        let mut single = [0; 1];
        widen(&[10], 2, &mut single).unwrap_or_default();
        assert_eq!(single, [40]);
        let mut plain = [0; 3];
        widen(&[1, 2, 3], 1, &mut plain).unwrap_or_default();
        assert_eq!(plain, [4, 8, 12]);
    }

    #[test]
    fn rows_pair_with_their_neighbours() {
        assert_eq!(taps(4, 2, 2), [(0, 0), (0, 1), (1, 0), (1, 1)]);
        assert_eq!(taps(3, 1, 2), [(0, 0), (1, 1), (1, 1)]);
    }
}
