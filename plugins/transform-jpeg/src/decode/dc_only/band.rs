//! A progressive JPEG's AC scans (T.81 G.1.2.2, G.1.2.3), decoded into the blocks'
//! coefficients: a band's first scan, with end-of-band runs, and its refinement scans, which
//! send one more bit of every coefficient already non-zero and the places of newly non-zero
//! ones.
//!
//! Each block carries a mask of its non-zero coefficients, so that a refinement finds the
//! coefficients it corrects, and the zeros a run passes over, with bit operations rather than
//! by visiting all 63 positions, and reads the correction bits of a stretch at once.

use super::bits::Bits;
use super::huffman::{AcTable, extend};

/// How many blocks, after the current one, end their band at once (an end-of-band run,
/// EOBRUN, T.81 G.1.2.2).
#[derive(Debug, Default)]
pub(super) struct BandEnd {
    blocks: u32,
}

impl BandEnd {
    /// Reads an end-of-band run of `2^run` blocks plus `run` extra bits, this block included.
    fn read(&mut self, bits: &mut Bits, run: u32) {
        self.blocks = (1 << run) + bits.take(run);
    }
}

/// The coefficients one AC scan sends: `start..=end`, at bit position `low`, coded with `table`.
pub(super) struct Band<'t> {
    table: &'t AcTable,
    start: usize,
    end: usize,
    low: u8,
    /// The positions `start..=end` as a mask.
    positions: u64,
    /// The positions whose values are kept (the block's slice holds them); of the others only
    /// whether they are zero.
    kept: u64,
}

/// The positions from `k` on, as a mask (none when `k` is 64 or more).
fn onwards(k: usize) -> u64 {
    if k >= 64 { 0 } else { u64::MAX << k }
}

/// The positions `from..=to` as a mask; none when `from > to`.
fn span(from: usize, to: usize) -> u64 {
    if from > to {
        return 0;
    }
    onwards(from) & !onwards(to + 1)
}

impl<'t> Band<'t> {
    /// The band `band` at bit position `low`, keeping values up to zigzag position `last`.
    pub(super) fn new(
        table: &'t AcTable,
        band: std::ops::RangeInclusive<usize>,
        low: u8,
        last: usize,
    ) -> Self {
        let (start, end) = (*band.start(), *band.end());
        Self {
            table,
            start,
            end,
            low,
            positions: span(start, end),
            kept: span(0, last),
        }
    }

    /// A block's coefficients in the band sent for the first time (T.81 G.1.2.2), shifted left
    /// by `low`.
    pub(super) fn first_pass(
        &self,
        bits: &mut Bits,
        block: &mut [i16],
        nonzero: &mut u64,
        band_end: &mut BandEnd,
    ) -> Option<()> {
        if band_end.blocks > 0 {
            band_end.blocks -= 1;
            return Some(());
        }
        let (mut k, end) = (self.start, self.end);
        while k <= end {
            let symbol = bits.ac_symbol(self.table)?;
            let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
            if size == 0 {
                if run < 15 {
                    band_end.read(bits, run as u32);
                    band_end.blocks -= 1;
                    break;
                }
                k += 16;
                continue;
            }
            k += run;
            if k > end {
                return None;
            }
            let value = extend(bits.take(size), size).wrapping_shl(u32::from(self.low));
            if let Some(kept) = block.get_mut(k) {
                *kept = value;
            }
            if value != 0 {
                *nonzero |= 1 << k;
            }
            k += 1;
        }
        Some(())
    }

    /// One more bit of a block's coefficients in the band (T.81 G.1.2.3): a correction bit for
    /// each coefficient already non-zero, and newly non-zero coefficients of ±`2^low`.
    pub(super) fn refine(
        &self,
        bits: &mut Bits,
        block: &mut [i16],
        nonzero: &mut u64,
        band_end: &mut BandEnd,
    ) -> Option<()> {
        let plus = 1i16.wrapping_shl(u32::from(self.low));
        let minus = (-1i16).wrapping_shl(u32::from(self.low));
        let (mut k, end) = (self.start, self.end);
        if band_end.blocks == 0 {
            while k <= end {
                let symbol = bits.ac_symbol(self.table)?;
                let (run, size) = (symbol >> 4, symbol & 15);
                let value = match size {
                    0 if run < 15 => {
                        band_end.read(bits, u32::from(run));
                        break;
                    }
                    0 => 0,
                    1 if bits.take(1) == 1 => plus,
                    1 => minus,
                    _ => return None,
                };
                // Past `run` zero coefficients (correcting the non-zero ones on the way) to the
                // place of the new one: the run's zero after them, or past the band's end.
                let mut zeros = !*nonzero & self.positions & onwards(k);
                for _ in 0..run {
                    zeros &= zeros.wrapping_sub(1);
                }
                let place = (zeros.trailing_zeros() as usize).min(end + 1);
                self.correct(bits, block, *nonzero & span(k, place.wrapping_sub(1)), plus)?;
                if value != 0 {
                    if place > 63 {
                        return None;
                    }
                    if let Some(kept) = block.get_mut(place) {
                        *kept = value;
                    }
                    *nonzero |= 1 << place;
                }
                k = place + 1;
            }
        }
        if band_end.blocks > 0 {
            self.correct(bits, block, *nonzero & span(k, end), plus)?;
            band_end.blocks -= 1;
        }
        Some(())
    }

    /// Reads a correction bit for each coefficient in `which` (non-zero ones), lowest position
    /// first, and adds `plus` to the magnitude of those kept whose bit is 1 and whose bit
    /// `low` is not yet set; the bits of the others are only skipped.
    #[inline(always)]
    fn correct(&self, bits: &mut Bits, block: &mut [i16], which: u64, plus: i16) -> Option<()> {
        let skipped = (which & !self.kept).count_ones();
        let mut which = which & self.kept;
        while which != 0 {
            let n = which.count_ones().min(16);
            let mut received = bits.take(n) << (32 - n);
            for _ in 0..n {
                let k = which.trailing_zeros() as usize;
                which &= which - 1;
                let c = block.get_mut(k)?;
                if received & (1 << 31) != 0 && *c & plus == 0 {
                    *c = if *c >= 0 {
                        c.wrapping_add(plus)
                    } else {
                        c.wrapping_sub(plus)
                    };
                }
                received <<= 1;
            }
        }
        bits.skip(skipped);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_masks_of_positions() {
        assert_eq!(span(3, 5), 0b11_1000);
        assert_eq!(span(5, 3), 0);
        assert_eq!(span(0, 63), u64::MAX);
        assert_eq!(onwards(64), 0);
    }
}
