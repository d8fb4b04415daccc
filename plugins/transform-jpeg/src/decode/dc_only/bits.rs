//! The bit reader of the entropy-coded data, and what the fast paths read with it: a DC
//! difference, a block's AC coefficients skipped, and the AC symbols and raw bits of a
//! progressive AC scan.

use super::huffman::{
    AcTable, DC_RAW, DcTable, EOB_ADVANCE, LUT_BITS, MAX_AC_SIZE, RUN_BITS, RUN_EOB, ac_entry,
    dc_entry, extend,
};

/// Most bits one DC difference takes: a 16-bit code and 11 extra bits.
const MAX_DC_BITS: u32 = 27;

/// A bit reader over entropy-coded bytes: `FF 00` stands for `FF`, any other `FF xx` is a
/// marker, where reading stops and zero bits are supplied instead (T.81 F.2.2.5).
///
/// `Copy`, and passed by value to the one function that is not inlined, so that the compiler
/// keeps it in registers through the decoding loop.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// Bits not yet consumed, first bit highest; `count` of them are valid.
    buf: u64,
    count: u32,
    /// How many of the valid bits (the lowest) are zeros supplied past a marker or the end of
    /// the data. Consuming any of them means the scan ran out of data.
    padding: u32,
    /// Reading has reached a marker (`pos` is at its first `FF`) or the end of the data.
    stopped: bool,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            buf: 0,
            count: 0,
            padding: 0,
            stopped: false,
        }
    }

    /// The next `n` bits (1 to 32), without consuming them.
    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        (self.buf >> (64 - n)) as u32
    }

    /// Consumes `n` bits; callers have made sure `n <= count` with `refill`.
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// Tops the buffer up to at least 56 bits: eight bytes at once when none of them is `FF`.
    ///
    /// The fast case ORs the next eight bytes in right after the valid bits and counts only
    /// the whole bytes that fit; the bits of a byte that fits in part are ORed in again, as
    /// the same bits, by the next refill.
    #[inline(always)]
    fn refill(&mut self) {
        if !self.stopped
            && let Some(&chunk) = self.data.get(self.pos..).and_then(|d| d.first_chunk::<8>())
        {
            let word = u64::from_be_bytes(chunk);
            // A byte of `word` is FF exactly when the same byte of `!word` is zero.
            let inverted = !word;
            let has_ff = inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted;
            if has_ff & 0x8080_8080_8080_8080 == 0 {
                self.buf |= word >> self.count;
                self.pos += ((63 - self.count) / 8) as usize;
                self.count |= 56;
                return;
            }
        }
        *self = self.refill_slowly();
    }

    /// Byte by byte, unstuffing `FF 00` and stopping at a marker or the end of the data.
    #[cold]
    #[inline(never)]
    fn refill_slowly(mut self) -> Self {
        while self.count <= 56 {
            match self.next_byte() {
                Some(byte) => self.buf |= u64::from(byte) << (56 - self.count),
                None => self.padding = self.padding.saturating_add(8),
            }
            self.count += 8;
        }
        self
    }

    fn next_byte(&mut self) -> Option<u8> {
        if self.stopped {
            return None;
        }
        let byte = self.data.get(self.pos).copied();
        match (byte, self.data.get(self.pos + 1)) {
            (Some(0xFF), Some(0x00)) => {
                self.pos += 2;
                byte
            }
            (Some(0xFF), _) | (None, _) => {
                self.stopped = true;
                None
            }
            (Some(_), _) => {
                self.pos += 1;
                byte
            }
        }
    }

    /// Decodes one DC difference (T.81 F.2.2.1).
    #[inline(always)]
    pub(super) fn dc_diff(&mut self, table: &DcTable) -> Option<i16> {
        if self.count < MAX_DC_BITS {
            self.refill();
        }
        let mut entry = table.lut[self.peek(LUT_BITS) as usize];
        if entry == 0 {
            let (size, len) = table.codes.decode(self.peek(16))?;
            entry = dc_entry(size, len)?;
        }
        self.consume(entry & 0xFF);
        if entry & DC_RAW == 0 {
            return Some((entry >> 16) as u16 as i16);
        }
        let size = entry >> 16;
        if size == 0 {
            return Some(0);
        }
        let bits = self.peek(size);
        self.consume(size);
        Some(extend(bits, size))
    }

    /// One raw bit: a DC refinement bit of a progressive scan (T.81 G.1.2.1).
    #[inline(always)]
    pub(super) fn bit(&mut self) -> i16 {
        if self.count == 0 {
            self.refill();
        }
        let bit = self.peek(1) as i16;
        self.consume(1);
        bit
    }

    /// One AC symbol (run/size, T.81 F.1.2.2 and G.1.2.2), for a progressive AC scan.
    #[inline(always)]
    pub(super) fn ac_symbol(&mut self, table: &AcTable) -> Option<u8> {
        if self.count < 32 {
            self.refill();
        }
        let entry = table.symbols[self.peek(LUT_BITS) as usize];
        if entry != 0 {
            self.consume(u32::from(entry & 0xFF));
            return Some((entry >> 8) as u8);
        }
        let (symbol, len) = table.codes.decode(self.peek(16))?;
        self.consume(len);
        Some(symbol)
    }

    /// The next `n` raw bits (0 to 16) as a number.
    #[inline(always)]
    pub(super) fn take(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.refill();
        }
        let bits = self.peek(n);
        self.consume(n);
        bits
    }

    /// Skips `n` raw bits (any number).
    #[inline(always)]
    pub(super) fn skip(&mut self, n: u32) {
        let mut left = n;
        while left > 0 {
            let step = left.min(32);
            if self.count < step {
                self.refill();
            }
            self.consume(step);
            left -= step;
        }
    }

    /// Decodes a block's AC coefficients (T.81 F.2.2.2) while their zigzag positions are at
    /// most `last`, handing each one that is not zero to `store(position, value)`, then skips
    /// the rest of the block. Most coefficients take one lookup, code and value together.
    #[inline(always)]
    pub(super) fn ac_prefix(
        &mut self,
        table: &AcTable,
        last: u32,
        mut store: impl FnMut(usize, i16),
    ) -> Option<()> {
        let mut k = 1;
        while k <= last {
            if self.count < 32 {
                self.refill();
            }
            let whole = table.values[self.peek(LUT_BITS) as usize];
            if whole != 0 {
                self.consume(whole & 0xFF);
                k += (whole >> 8) & 15;
                store(k as usize, (whole >> 16) as u16 as i16);
                k += 1;
                continue;
            }
            let symbol = self.ac_symbol(table)?;
            let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
            match (run, size) {
                (0, 0) => return Some(()),
                (15, 0) => k += 16,
                (_, 0) => return None,
                (_, size) if size > u32::from(MAX_AC_SIZE) => return None,
                (run, size) => {
                    k += run;
                    // At least 16 bits are left after a symbol's code.
                    store(k as usize, extend(self.take(size), size));
                    k += 1;
                }
            }
        }
        self.skip_ac(table, k)
    }

    /// Skips a block's AC coefficients (T.81 F.2.2.2) from position `k` up to its end-of-block
    /// or coefficient 63: several short symbols at a time while they stay inside the block,
    /// else one by one.
    #[inline(always)]
    pub(super) fn skip_ac(&mut self, table: &AcTable, mut k: u32) -> Option<()> {
        if k >= 64 {
            return (k == 64).then_some(());
        }
        loop {
            // At least 56 bits after this; one pass takes at most 26 (a 16-bit code and 10).
            self.refill();
            let run = u32::from(table.runs[self.peek(RUN_BITS) as usize]);
            let advance = (run >> 4) & 127;
            if k + advance <= 64 {
                self.consume(run & 15);
                k += advance;
                if run & u32::from(RUN_EOB) != 0 || k == 64 {
                    return Some(());
                }
                continue;
            }
            let mut entry = u32::from(table.lut[self.peek(LUT_BITS) as usize]);
            if entry == 0 {
                let (symbol, len) = table.codes.decode(self.peek(16))?;
                entry = u32::from(ac_entry(symbol, len)?);
            }
            self.consume(entry & 0xFF);
            k += entry >> 8;
            if k >= 64 {
                // Exactly 64 after coefficient 63; past EOB_ADVANCE after an end-of-block;
                // anything else is a run past the end of the block.
                return (k == 64 || k > EOB_ADVANCE).then_some(());
            }
        }
    }

    /// Whether more bits were consumed than the data held.
    pub(super) fn overran(&self) -> bool {
        self.count < self.padding
    }

    /// Moves past the restart marker RSTn that must end the interval (T.81 F.2.1.3, B.2.1).
    pub(super) fn restart(&mut self, n: u8) -> Option<()> {
        // Only the padding of the interval's last byte may be left over.
        if self.overran() || self.count - self.padding >= 8 {
            return None;
        }
        // Exactly `FF Dn`: fill bytes before it are legal (T.81 B.1.1.2), but the general
        // decoder loses its place on them, and a file it rejects is left to it.
        if self.data.get(self.pos..self.pos + 2)? != [0xFF, 0xD0 + n] {
            return None;
        }
        *self = Self::new(self.data, self.pos + 2);
        Some(())
    }

    /// Where the marker search goes on after the scan, if the data sufficed.
    pub(super) fn finish(self) -> Option<usize> {
        (!self.overran()).then_some(self.pos)
    }
}
