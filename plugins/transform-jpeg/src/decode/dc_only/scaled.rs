//! A JPEG at 2/8 to 7/8 of its size: each block's top-left N×N coefficients (N = 2..7) turned
//! into as many samples by an inverse DCT of that size (T.81 A.3.3 with the cosines taken at
//! the centres of the larger samples), as a DCT-scaled decode does. A progressive frame has
//! every scan decoded first, keeping just those coefficients (`jpeg-decoder` is slow on
//! refinement scans); a sequential frame's scan is decoded block by block, only as far into
//! each block as those coefficients go, the rest skipped. Chroma upsampling and colour
//! conversion are the DC-only path's.

use super::header::{self, Header};
use super::progressive::{self, Keep};
use super::scan::{self, block_grid};

/// The zigzag order (T.81 Figure A.6): the row-major index of each zigzag position.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The samples of every component, `samples` (2 or 4) a block side, and each plane's width.
pub(super) struct Samples {
    pub(super) planes: Vec<Vec<u8>>,
    pub(super) stride: Vec<usize>,
}

/// Decodes the frame `header` (read from `data`) introduces at `samples` (2 to 7) per block
/// side, with the last Exif block in the file.
pub(super) fn decode<'a>(
    data: &'a [u8],
    header: &Header<'a>,
    samples: usize,
) -> Option<(Samples, Option<&'a [u8]>)> {
    match samples {
        2 => decode_at::<2>(data, header),
        3 => decode_at::<3>(data, header),
        4 => decode_at::<4>(data, header),
        5 => decode_at::<5>(data, header),
        6 => decode_at::<6>(data, header),
        7 => decode_at::<7>(data, header),
        // Full size is `jpeg-decoder`'s (faster there, see the README); the tests check this
        // transform against it.
        #[cfg(test)]
        8 => decode_at::<8>(data, header),
        _ => None,
    }
}

/// The frame at `N` samples per block side, progressive or sequential.
fn decode_at<'a, const N: usize>(
    data: &'a [u8],
    header: &Header<'a>,
) -> Option<(Samples, Option<&'a [u8]>)> {
    match &header.progressive {
        Some(_) => Some((progressive_at::<N>(data, header)?, header.exif)),
        None => sequential_at::<N>(data, header),
    }
}

/// Empty planes for every component's blocks at `N` samples a block side.
fn planes<const N: usize>(header: &Header) -> Samples {
    let grid = block_grid(header);
    Samples {
        planes: grid.iter().map(|&(w, h)| vec![0; w * h * N * N]).collect(),
        stride: grid.iter().map(|&(w, _)| w * N).collect(),
    }
}

impl Samples {
    /// Puts a block's samples in place: the block at column `x`, row `y` of `component`.
    #[inline(always)]
    fn put<const N: usize>(
        &mut self,
        component: usize,
        (x, y): (usize, usize),
        block: &[[u8; N]; N],
    ) -> Option<()> {
        let width = *self.stride.get(component)?;
        let plane = self.planes.get_mut(component)?;
        for (row, line) in block.iter().enumerate() {
            let at = (y * N + row) * width + x * N;
            plane.get_mut(at..at + N)?.copy_from_slice(line);
        }
        Some(())
    }
}

fn progressive_at<const N: usize>(data: &[u8], header: &Header) -> Option<Samples> {
    let idcts = Idct::<N>::per_component(header);
    let last = idcts.first()?.last() as usize;
    let coefficients = progressive::decode(data, header, Keep::Upto(last))?;
    let mut out = planes::<N>(header);
    for (component, (idct, plane)) in idcts.iter().zip(&coefficients.dc).enumerate() {
        let across = *coefficients.stride.get(component)?;
        for (y, row) in plane.chunks_exact((last + 1) * across.max(1)).enumerate() {
            for (x, block) in row.chunks_exact(last + 1).enumerate() {
                let samples = idct.samples(idct.dequantise_zigzag(block));
                out.put(component, (x, y), &samples)?;
            }
        }
    }
    Some(out)
}

fn sequential_at<'a, const N: usize>(
    data: &'a [u8],
    header: &Header<'a>,
) -> Option<(Samples, Option<&'a [u8]>)> {
    let idcts = Idct::<N>::per_component(header);
    let last = idcts.first()?.last();
    let mut out = planes::<N>(header);
    // In natural order; only the first N rows are read, and zeroed before each block.
    let mut coefficients = [0i16; 64];
    let end = scan::walk(data, header, |bits, block, position, dc| {
        let idct = idcts.get(block.component)?;
        coefficients.get_mut(..8 * N)?.fill(0);
        let mut flat = true;
        bits.ac_prefix(block.ac, last, |k, value| {
            coefficients[ZIGZAG[k & 63]] = value;
            flat = false;
        })?;
        let samples = if flat {
            idct.flat(dc)
        } else {
            coefficients[0] = dc;
            idct.samples(idct.dequantise_natural(&coefficients))
        };
        out.put(block.component, position, &samples)
    })?;
    let exif = header::trailer(data, end, header.exif)?;
    Some((out, exif))
}

/// Rows of `N` coefficients or samples, one vector register each.
type Rows<const N: usize> = [[f32; N]; N];

/// The inverse DCT to `N` × `N` samples from the top-left `N` × `N` coefficients of one
/// component's blocks, dequantised by its table: the one-dimensional transform down the
/// columns on whole rows at once, then, transposed, along the rows. Written on fixed-size
/// arrays, which the compiler keeps in vector registers (SIMD128 in the sandbox).
struct Idct<const N: usize> {
    /// `position[v][u]`: the zigzag position of the coefficient at row v, column u.
    position: [[usize; N]; N],
    /// `quant[v][u]`: its quantiser.
    quant: Rows<N>,
    /// `weight[n][k]`: what coefficient k adds to sample n, C(k)/2 · cos((2n+1)kπ/2N). The
    /// 8-point transform's cosines at the centres of N samples spanning the block: sample n
    /// covers 8/N of the block's pixels, centred at (2n+1)·8/2N − 1/2.
    weight: Rows<N>,
}

impl<const N: usize> Idct<N> {
    fn new(quant: &[u16; 64]) -> Self {
        let mut position = [[0; N]; N];
        let mut quantisers = [[0.0; N]; N];
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            let (v, u) = (natural / 8, natural % 8);
            if v < N && u < N {
                position[v][u] = k;
                quantisers[v][u] = f32::from(quant[k]);
            }
        }
        let mut weight = [[0.0; N]; N];
        for (n, row) in weight.iter_mut().enumerate() {
            for (k, w) in row.iter_mut().enumerate() {
                let c = if k == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * n + 1) * k) as f64 * std::f64::consts::PI / (2 * N) as f64;
                *w = (c / 2.0 * angle.cos()) as f32;
            }
        }
        Self {
            position,
            quant: quantisers,
            weight,
        }
    }

    /// One per component of `header`, with its quantisation table.
    fn per_component(header: &Header) -> Vec<Self> {
        (header.components.iter())
            .map(|c| Self::new(&c.quant))
            .collect()
    }

    /// The last zigzag position among the coefficients used.
    fn last(&self) -> u32 {
        let last = self.position.iter().flatten().max().copied().unwrap_or(0);
        u32::try_from(last).unwrap_or(0)
    }

    /// The dequantised coefficients of a block held in zigzag order.
    #[inline(always)]
    fn dequantise_zigzag(&self, block: &[i16]) -> Rows<N> {
        let mut rows = [[0.0; N]; N];
        for ((row, positions), quant) in rows.iter_mut().zip(&self.position).zip(&self.quant) {
            for ((value, &k), &q) in row.iter_mut().zip(positions).zip(quant) {
                *value = f32::from(block.get(k).copied().unwrap_or(0)) * q;
            }
        }
        rows
    }

    /// The dequantised coefficients of a block held in natural order, 8 to a row.
    #[inline(always)]
    fn dequantise_natural(&self, block: &[i16; 64]) -> Rows<N> {
        let mut rows = [[0.0; N]; N];
        for v in 0..N {
            for u in 0..N {
                rows[v][u] = f32::from(block[(8 * v + u) & 63]) * self.quant[v][u];
            }
        }
        rows
    }

    /// The samples of a block whose only coefficient is `dc` (quantised): its mean everywhere.
    #[inline(always)]
    fn flat(&self, dc: i16) -> [[u8; N]; N] {
        let mean = f32::from(dc) * self.quant[0][0] / 8.0;
        [[to_sample(mean); N]; N]
    }

    /// The N-point inverse DCT down each column of `rows`, a whole row at a time. Sample
    /// N−1−n sees each coefficient k with the weight of sample n times (−1)^k, so each pair
    /// of samples is the sum and the difference of an even and an odd part (the middle
    /// sample of an odd N has only the even part).
    #[inline(always)]
    fn inverse(&self, rows: Rows<N>) -> Rows<N> {
        let zero = [0.0; N];
        let mut out = [zero; N];
        for n in 0..N.div_ceil(2) {
            let weights = &self.weight[n];
            let (mut even, mut odd) = (zero, zero);
            for k in (0..N).step_by(2) {
                even = add(even, rows[k], weights[k]);
            }
            for k in (1..N).step_by(2) {
                odd = add(odd, rows[k], weights[k]);
            }
            out[n] = add(even, odd, 1.0);
            out[N - 1 - n] = add(even, odd, -1.0);
        }
        out
    }

    /// The samples of dequantised coefficients.
    #[inline(always)]
    fn samples(&self, coefficients: Rows<N>) -> [[u8; N]; N] {
        let columns = transpose(self.inverse(coefficients));
        let values = transpose(self.inverse(columns));
        let mut samples = [[0; N]; N];
        for y in 0..N {
            for x in 0..N {
                samples[y][x] = to_sample(values[y][x]);
            }
        }
        samples
    }
}

/// A sample from the inverse DCT's output: level-shifted by 128, rounded, clamped.
#[inline(always)]
fn to_sample(value: f32) -> u8 {
    (value + 128.5).clamp(0.0, 255.0) as u8
}

#[inline(always)]
fn transpose<const N: usize>(rows: Rows<N>) -> Rows<N> {
    let mut out = [[0.0; N]; N];
    for y in 0..N {
        for x in 0..N {
            out[x][y] = rows[y][x];
        }
    }
    out
}

/// `a + k·b`, lane by lane.
#[inline(always)]
fn add<const N: usize>(a: [f32; N], b: [f32; N], k: f32) -> [f32; N] {
    let mut out = a;
    for i in 0..N {
        out[i] += k * b[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Idct, ZIGZAG};

    /// The samples straight from the definition (T.81 A.3.3, in f64), each sample `n` of `N`
    /// taken at the centre of the pixels it covers.
    fn defined<const N: usize>(coefficients: &[i16; 64], quant: &[u16; 64]) -> [[f64; N]; N] {
        let c = |k: usize| {
            if k == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let mut out = [[0.0; N]; N];
        for (y, row) in out.iter_mut().enumerate() {
            for (x, sample) in row.iter_mut().enumerate() {
                let centre = |n: usize| (2 * n + 1) as f64 * 8.0 / (2 * N) as f64 - 0.5;
                let (cx, cy) = (centre(x), centre(y));
                let mut sum = 0.0;
                for v in 0..N {
                    for u in 0..N {
                        let zigzag = ZIGZAG.iter().position(|&p| p == 8 * v + u).unwrap_or(0);
                        let value = f64::from(coefficients[8 * v + u]) * f64::from(quant[zigzag]);
                        let cos = |i: f64, k: usize| {
                            ((2.0 * i + 1.0) * k as f64 * std::f64::consts::PI / 16.0).cos()
                        };
                        sum += c(u) * c(v) / 4.0 * value * cos(cx, u) * cos(cy, v);
                    }
                }
                *sample = (sum + 128.0).clamp(0.0, 255.0);
            }
        }
        out
    }

    fn agrees<const N: usize>(seed: u32) {
        let mut state = seed;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let quant: [u16; 64] = std::array::from_fn(|_| (next() % 40 + 1) as u16);
        let idct = Idct::<N>::new(&quant);
        for _ in 0..50 {
            let mut coefficients = [0i16; 64];
            for v in 0..N {
                for u in 0..N {
                    let range = if u + v == 0 { 60 } else { 12 };
                    coefficients[8 * v + u] = (next() % (2 * range + 1)) as i16 - range as i16;
                }
            }
            let samples = idct.samples(idct.dequantise_natural(&coefficients));
            let expected = defined::<N>(&coefficients, &quant);
            for (got, want) in samples.iter().flatten().zip(expected.iter().flatten()) {
                assert!(
                    (f64::from(*got) - want).abs() <= 0.51,
                    "{N}-point: {got} against {want:.2}"
                );
            }
        }
    }

    #[test]
    fn every_size_of_inverse_dct_samples_the_definition_at_the_sample_centres() {
        agrees::<2>(1);
        agrees::<3>(2);
        agrees::<4>(3);
        agrees::<5>(4);
        agrees::<6>(5);
        agrees::<7>(6);
        agrees::<8>(7);
    }
}
