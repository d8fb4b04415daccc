//! The entropy-coded data of the one scan (T.81 F.2.2), decoded for its DC coefficients only:
//! each block's DC difference is decoded and added to its component's predictor, and its AC
//! coefficients are skipped without ever being computed, several symbols per lookup when they
//! are short.
//!
//! Restart markers (DRI) must come where the interval says and be numbered RST0..RST7 in turn,
//! as the general decoder also requires; any deviation, an invalid code, a run past the end of
//! a block or data that ends early gives `None`, and the general decoder takes over.

use super::bits::Bits;
use super::header::Header;
use super::huffman::{AcTable, DcTable};

/// The quantised DC coefficient of every block, per component.
#[derive(Debug)]
pub(super) struct Planes {
    /// Per component, row by row, `stride` blocks a row; whole MCUs, so possibly wider and
    /// taller than the image.
    pub(super) dc: Vec<Vec<i16>>,
    pub(super) stride: Vec<usize>,
    /// Where the entropy-coded data ended: the next marker is at or after this byte.
    pub(super) end: usize,
}

/// One block of an MCU: its component and tables, and where it sits in the MCU.
#[derive(Clone, Copy)]
pub(super) struct Block<'t> {
    pub(super) component: usize,
    dc: &'t DcTable,
    pub(super) ac: &'t AcTable,
    /// The component's blocks per MCU across and down, and this block's column and row in it.
    h: usize,
    v: usize,
    x: usize,
    y: usize,
}

/// MCU columns and rows of the frame (T.81 A.2).
pub(super) fn mcu_grid(header: &Header) -> (usize, usize) {
    let (h, v) = header.components.first().map_or((1, 1), |c| (c.h, c.v));
    (
        usize::from(header.width).div_ceil(8 * h),
        usize::from(header.height).div_ceil(8 * v),
    )
}

/// Each component's size in blocks, across and down: whole MCUs, so possibly wider and taller
/// than the image.
pub(super) fn block_grid(header: &Header) -> Vec<(usize, usize)> {
    let (cols, rows) = mcu_grid(header);
    (header.components.iter())
        .map(|c| (cols * c.h, rows * c.v))
        .collect()
}

/// The blocks of one MCU in scan order (T.81 A.2.3).
fn layout<'h>(header: &'h Header) -> Option<Vec<Block<'h>>> {
    let mut blocks = Vec::new();
    for (component, c) in header.components.iter().enumerate() {
        let dc = header.dc_tables.get(c.dc_table)?.as_ref()?;
        let ac = header.ac_tables.get(c.ac_table)?.as_ref()?;
        for y in 0..c.v {
            for x in 0..c.h {
                blocks.push(Block {
                    component,
                    dc,
                    ac,
                    h: c.h,
                    v: c.v,
                    x,
                    y,
                });
            }
        }
    }
    Some(blocks)
}

/// Walks the scan that starts at `header.scan_start` MCU by MCU, through its restart
/// intervals, and decodes each block's DC coefficient; `each(bits, block, (x, y), dc)` then
/// reads the block's AC coefficients, the block being at column `x` and row `y` of its
/// component's blocks. Returns where the entropy-coded data ended.
#[inline(always)]
pub(super) fn walk<F>(data: &[u8], header: &Header, mut each: F) -> Option<usize>
where
    F: FnMut(&mut Bits, Block, (usize, usize), i16) -> Option<()>,
{
    let (cols, rows) = mcu_grid(header);
    let blocks = layout(header)?;
    let mut bits = Bits::new(data, header.scan_start);
    let mut predictors = [0i16; 3];
    let interval = usize::from(header.restart_interval);
    let (mut left, mut next_restart) = (interval, 0u8);
    for row in 0..rows {
        for col in 0..cols {
            if interval > 0 {
                if left == 0 {
                    bits.restart(next_restart)?;
                    next_restart = (next_restart + 1) % 8;
                    predictors = [0; 3];
                    left = interval;
                }
                left -= 1;
            }
            for &block in &blocks {
                let predictor = predictors.get_mut(block.component)?;
                *predictor = predictor.wrapping_add(bits.dc_diff(block.dc)?);
                let at = (col * block.h + block.x, row * block.v + block.y);
                each(&mut bits, block, at, *predictor)?;
            }
        }
        if bits.overran() {
            return None;
        }
    }
    bits.finish()
}

/// Decodes the scan that starts at `header.scan_start` for its DC coefficients.
pub(super) fn decode(data: &[u8], header: &Header) -> Option<Planes> {
    let grid = block_grid(header);
    let mut dc: Vec<Vec<i16>> = grid.iter().map(|&(w, h)| vec![0; w * h]).collect();
    let stride: Vec<usize> = grid.iter().map(|&(w, _)| w).collect();
    let end = walk(data, header, |bits, block, (x, y), value| {
        let plane = dc.get_mut(block.component)?;
        *plane.get_mut(y * stride.get(block.component)? + x)? = value;
        bits.skip_ac(block.ac, 1)
    })?;
    Some(Planes { dc, stride, end })
}
