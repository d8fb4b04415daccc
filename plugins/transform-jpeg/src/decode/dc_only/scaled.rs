//! A progressive JPEG at 1/4 or 1/2 scale: every scan decoded into the blocks' coefficients,
//! then each block's top-left 2×2 or 4×4 coefficients turned into as many samples by an inverse
//! DCT of that size (T.81 A.3.3 with the cosines taken at the centres of the larger samples), as
//! a DCT-scaled decode does. Chroma upsampling and colour conversion are the DC-only path's.

use super::header::Header;
use super::progressive::{self, Keep};

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

/// Decodes the progressive frame `header` introduces at `samples` (2 or 4) per block side.
pub(super) fn decode(data: &[u8], header: &Header, samples: usize) -> Option<Samples> {
    match samples {
        2 => decode_at::<2>(data, header),
        4 => decode_at::<4>(data, header),
        _ => None,
    }
}

fn decode_at<const N: usize>(data: &[u8], header: &Header) -> Option<Samples> {
    let planes = progressive::decode(data, header, Keep::All)?;
    let idct = Idct::<N>::new();
    let mut out = Samples {
        planes: Vec::new(),
        stride: Vec::new(),
    };
    for ((component, coefficients), &blocks_across) in
        header.components.iter().zip(&planes.dc).zip(&planes.stride)
    {
        let width = blocks_across * N;
        let mut plane = vec![0u8; coefficients.len() / 64 * N * N];
        let band_rows = coefficients.chunks_exact(64 * blocks_across.max(1));
        for (band, rows) in band_rows.zip(plane.chunks_exact_mut(width * N)) {
            for (col, block) in band.chunks_exact(64).enumerate() {
                let samples = idct.block(block, &component.quant);
                for (y, line) in samples.iter().enumerate() {
                    rows[y * width + col * N..][..N].copy_from_slice(line);
                }
            }
        }
        out.planes.push(plane);
        out.stride.push(width);
    }
    Some(out)
}

/// The inverse DCT to `N` × `N` samples from the top-left `N` × `N` coefficients.
struct Idct<const N: usize> {
    /// `basis[x][u]`: C(u)/2 · cos((2x + 1)uπ / 2N), C(0) = 1/√2.
    basis: [[f32; N]; N],
    /// `position[v][u]`: the zigzag position of the coefficient at row v, column u.
    position: [[usize; N]; N],
}

impl<const N: usize> Idct<N> {
    fn new() -> Self {
        let mut basis = [[0.0; N]; N];
        for (x, row) in basis.iter_mut().enumerate() {
            for (u, value) in row.iter_mut().enumerate() {
                let c = if u == 0 {
                    std::f32::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * x + 1) * u) as f32 * std::f32::consts::PI / (2 * N) as f32;
                *value = c / 2.0 * angle.cos();
            }
        }
        let mut position = [[0; N]; N];
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            let (v, u) = (natural / 8, natural % 8);
            if v < N && u < N {
                position[v][u] = k;
            }
        }
        Self { basis, position }
    }

    /// The samples of the quantised `block` (zigzag order), dequantised by `quant`.
    #[inline]
    fn block(&self, block: &[i16], quant: &[u16; 64]) -> [[u8; N]; N] {
        let mut coefficients = [[0f32; N]; N];
        for (row, positions) in coefficients.iter_mut().zip(&self.position) {
            for (value, &k) in row.iter_mut().zip(positions) {
                let (q, c) = (quant.get(k).copied(), block.get(k).copied());
                *value = f32::from(c.unwrap_or(0)) * f32::from(q.unwrap_or(0));
            }
        }
        // Along the rows, then down the columns.
        let mut rows = [[0f32; N]; N];
        for (out, row) in rows.iter_mut().zip(&coefficients) {
            for (value, basis) in out.iter_mut().zip(&self.basis) {
                *value = (0..N).map(|u| basis[u] * row[u]).sum();
            }
        }
        let mut samples = [[0u8; N]; N];
        for (out, basis) in samples.iter_mut().zip(&self.basis) {
            for (x, sample) in out.iter_mut().enumerate() {
                let value: f32 = (0..N).map(|v| basis[v] * rows[v][x]).sum();
                *sample = (value + 128.5).clamp(0.0, 255.0) as u8;
            }
        }
        samples
    }
}
