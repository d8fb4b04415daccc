//! A JPEG at 1/4 or 1/2 scale: each block's top-left 2×2 or 4×4 coefficients turned into as
//! many samples by an inverse DCT of that size (T.81 A.3.3 with the cosines taken at the
//! centres of the larger samples), as a DCT-scaled decode does. A progressive frame has every
//! scan decoded first, keeping just those coefficients (`jpeg-decoder` is slow on refinement
//! scans); a sequential frame's scan is decoded block by block, only as far into each block as
//! those coefficients go, the rest skipped. Chroma upsampling and colour conversion are the
//! DC-only path's.

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

/// Decodes the frame `header` (read from `data`) introduces at `samples` (2 or 4) per block
/// side, with the last Exif block in the file.
pub(super) fn decode<'a>(
    data: &'a [u8],
    header: &Header<'a>,
    samples: usize,
) -> Option<(Samples, Option<&'a [u8]>)> {
    match (samples, &header.progressive) {
        (2, Some(_)) => Some((progressive_at::<2>(data, header)?, header.exif)),
        (4, Some(_)) => Some((progressive_at::<4>(data, header)?, header.exif)),
        (2, None) => sequential_at::<2>(data, header),
        (4, None) => sequential_at::<4>(data, header),
        _ => None,
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

/// The inverse DCT to `N` × `N` samples (N = 2 or 4) from the top-left `N` × `N` coefficients
/// of one component's blocks, dequantised by its table: the one-dimensional transform down the
/// columns on whole rows at once, then, transposed, along the rows. Written on fixed-size
/// arrays, which the compiler keeps in vector registers (SIMD128 in the sandbox).
struct Idct<const N: usize> {
    /// `position[v][u]`: the zigzag position of the coefficient at row v, column u.
    position: [[usize; N]; N],
    /// `quant[v][u]`: its quantiser.
    quant: Rows<N>,
}

/// C(0)/2 = cos(π/4)/2, and cos(π/8)/2 and cos(3π/8)/2: the weights of the 4-point inverse DCT.
const K0: f32 = 0.353_553_39;
const K1: f32 = 0.461_939_77;
const K3: f32 = 0.191_341_72;

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
        Self {
            position,
            quant: quantisers,
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

    /// The samples of dequantised coefficients.
    #[inline(always)]
    fn samples(&self, coefficients: Rows<N>) -> [[u8; N]; N] {
        let columns = transpose(inverse(coefficients));
        let values = transpose(inverse(columns));
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

/// The N-point inverse DCT (N = 2 or 4) down each column of `rows`, a whole row at a time.
#[inline(always)]
fn inverse<const N: usize>(rows: Rows<N>) -> Rows<N> {
    let zero = [0.0; N];
    let mut out = [zero; N];
    match (&rows[..], &mut out[..]) {
        ([r0, r1], [x0, x1]) => {
            *x0 = add(add(zero, *r0, K0), *r1, K0);
            *x1 = add(add(zero, *r0, K0), *r1, -K0);
        }
        ([r0, r1, r2, r3], [x0, x1, x2, x3]) => {
            let sum = add(add(zero, *r0, K0), *r2, K0);
            let difference = add(add(zero, *r0, K0), *r2, -K0);
            let odd = add(add(zero, *r1, K1), *r3, K3);
            let other = add(add(zero, *r1, K3), *r3, -K1);
            *x0 = add(sum, odd, 1.0);
            *x1 = add(difference, other, 1.0);
            *x2 = add(difference, other, -1.0);
            *x3 = add(sum, odd, -1.0);
        }
        _ => {}
    }
    out
}
