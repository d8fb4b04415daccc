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

/// One block of an MCU: its component, tables and position relative to the MCU's first block.
#[derive(Clone, Copy)]
struct Block<'t> {
    component: usize,
    dc: &'t DcTable,
    ac: &'t AcTable,
    /// Index steps in the component's plane: per MCU row, per MCU column, and this block's offset.
    row_step: usize,
    col_step: usize,
    offset: usize,
}

/// MCU columns and rows of the frame (T.81 A.2).
pub(super) fn mcu_grid(header: &Header) -> (usize, usize) {
    let (h, v) = header.components.first().map_or((1, 1), |c| (c.h, c.v));
    (
        usize::from(header.width).div_ceil(8 * h),
        usize::from(header.height).div_ceil(8 * v),
    )
}

/// The planes are filled MCU by MCU; these are the blocks of one MCU in scan order (T.81
/// A.2.3), and each plane's width in blocks.
fn layout<'h>(header: &'h Header, cols: usize) -> Option<(Vec<Block<'h>>, Vec<usize>)> {
    let mut blocks = Vec::new();
    let mut strides = Vec::new();
    for (component, c) in header.components.iter().enumerate() {
        let stride = cols * c.h;
        strides.push(stride);
        let dc = header.dc_tables.get(c.dc_table)?.as_ref()?;
        let ac = header.ac_tables.get(c.ac_table)?.as_ref()?;
        for y in 0..c.v {
            for x in 0..c.h {
                blocks.push(Block {
                    component,
                    dc,
                    ac,
                    row_step: stride * c.v,
                    col_step: c.h,
                    offset: y * stride + x,
                });
            }
        }
    }
    Some((blocks, strides))
}

/// Decodes the scan that starts at `header.scan_start`.
pub(super) fn decode(data: &[u8], header: &Header) -> Option<Planes> {
    let (cols, rows) = mcu_grid(header);
    let (blocks, stride) = layout(header, cols)?;
    let mut dc: Vec<Vec<i16>> = (header.components.iter().zip(&stride))
        .map(|(c, &width)| vec![0; width * rows * c.v])
        .collect();
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
            for block in &blocks {
                let predictor = predictors.get_mut(block.component)?;
                *predictor = predictor.wrapping_add(bits.dc_diff(block.dc)?);
                let at = row * block.row_step + col * block.col_step + block.offset;
                *dc.get_mut(block.component)?.get_mut(at)? = *predictor;
                bits.skip_ac(block.ac)?;
            }
        }
        if bits.overran() {
            return None;
        }
    }
    let end = bits.finish()?;
    Some(Planes { dc, stride, end })
}
