//! Huffman tables for the DC-only decoder, built from a DHT segment's code-length counts and
//! symbols (T.81 Annex C) into lookup tables indexed by the next [`LUT_BITS`] bits of the scan.
//!
//! A DC entry holds the decoded difference itself when the code and its extra bits fit in the
//! lookup; an AC entry holds only how many bits to skip and how far the coefficient index moves,
//! because at 1/8 scale no AC value is ever needed. Codes longer than the lookup, and symbols a
//! baseline scan must not contain, go through [`Codes::decode`] (T.81 F.2.2.3).

/// Bits of lookahead the tables are indexed by.
pub(super) const LUT_BITS: u32 = 10;
const LUT_SIZE: usize = 1 << LUT_BITS;

/// DC entry flag: the value is a size category whose extra bits still have to be read.
pub(super) const DC_RAW: u32 = 1 << 8;
/// AC advance for end-of-block: takes the coefficient index far past 64, which ends the block
/// and cannot be reached by runs (at most 63 + 16).
pub(super) const EOB_ADVANCE: u32 = 128;
/// Largest DC difference category for 8-bit samples (T.81 Table F.1).
const MAX_DC_SIZE: u8 = 11;
/// Largest AC coefficient category for 8-bit samples (T.81 Table F.2).
pub(super) const MAX_AC_SIZE: u8 = 10;

/// A canonical Huffman code, for decoding bit by bit.
#[derive(Debug, Clone)]
pub(super) struct Codes {
    /// Per code length (index 1 to 16): the largest code, or -1 when there is none.
    max_code: [i32; 17],
    /// Per code length: what to add to a code to get its symbol's index in `symbols`.
    offset: [i32; 17],
    /// Per code length: how many codes have it.
    counts: [u8; 17],
    symbols: Vec<u8>,
}

impl Codes {
    /// Assigns the codes (T.81 C.2); `None` when `counts` overfill the code space or do not
    /// match the number of `symbols`.
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Self> {
        let total: usize = counts.iter().map(|&n| usize::from(n)).sum();
        if total == 0 || total > 256 || total != symbols.len() {
            return None;
        }
        let mut max_code = [-1; 17];
        let mut offset = [0; 17];
        let mut per_length = [0; 17];
        per_length[1..].copy_from_slice(counts);
        let (mut code, mut index) = (0i32, 0i32);
        for (len, &count) in (1..=16).zip(counts) {
            let count = i32::from(count);
            if count > 0 {
                if code + count > 1 << len {
                    return None;
                }
                offset[len] = index - code;
                code += count;
                index += count;
                max_code[len] = code - 1;
            }
            code <<= 1;
        }
        Some(Self {
            max_code,
            offset,
            counts: per_length,
            symbols: symbols.to_vec(),
        })
    }

    /// The symbol whose code starts `bits` (the next 16 bits of the scan, first bit highest)
    /// and the code's length, or `None` when no code matches.
    pub(super) fn decode(&self, bits: u32) -> Option<(u8, u32)> {
        (1..=16u32).find_map(|len| {
            let code = i32::try_from(bits >> (16 - len)).ok()?;
            let at = usize::try_from(len).ok()?;
            if code > *self.max_code.get(at)? {
                return None;
            }
            let index = usize::try_from(code + self.offset.get(at)?).ok()?;
            Some((*self.symbols.get(index)?, len))
        })
    }

    /// Every `(code, length, symbol)` whose code fits in the lookup.
    fn short_codes(&self) -> impl Iterator<Item = (u32, u32, u8)> + '_ {
        (1..=LUT_BITS).flat_map(move |len| {
            let at = len as usize;
            let first = self.max_code[at] + 1 - i32::from(self.counts[at]);
            (first..=self.max_code[at]).filter_map(move |code| {
                let symbol = *self
                    .symbols
                    .get(usize::try_from(code + self.offset[at]).ok()?)?;
                Some((u32::try_from(code).ok()?, len, symbol))
            })
        })
    }
}

/// Calls `fill(index, code_length, symbol)` for every lookup index that starts with a short code.
fn for_each_index(codes: &Codes, mut fill: impl FnMut(usize, u32, u8)) {
    for (code, len, symbol) in codes.short_codes() {
        let first = (code << (LUT_BITS - len)) as usize;
        for index in first..first + (1 << (LUT_BITS - len)) {
            fill(index, len, symbol);
        }
    }
}

/// The value whose `size` extra bits follow a code of `len` bits at the start of the lookup
/// index `index` (`len + size` ≤ [`LUT_BITS`]).
fn value_after_code(index: usize, len: u32, size: u32) -> i16 {
    let extra = (index as u32 >> (LUT_BITS - len - size)) & ((1 << size) - 1);
    extend(extra, size)
}

/// A DC table. Entry: bits to consume in bits 0-7; then either the difference (bits 16-31,
/// as `i16`) or, with [`DC_RAW`], the size category whose extra bits follow. 0 = slow path.
#[derive(Debug, Clone)]
pub(super) struct DcTable {
    pub(super) lut: Box<[u32; LUT_SIZE]>,
    pub(super) codes: Codes,
}

impl DcTable {
    pub(super) fn new(codes: Codes) -> Self {
        let mut lut = Box::new([0; LUT_SIZE]);
        for_each_index(&codes, |index, len, size| {
            let Some(raw) = dc_entry(size, len) else {
                return;
            };
            let size = u32::from(size);
            lut[index] = if len + size <= LUT_BITS {
                let diff = value_after_code(index, len, size);
                (len + size) | u32::from(diff as u16) << 16
            } else {
                raw
            };
        });
        Self { lut, codes }
    }
}

/// The raw DC entry for a code of `len` bits and difference category `size`, or `None` when
/// the category is out of range.
pub(super) fn dc_entry(size: u8, len: u32) -> Option<u32> {
    (size <= MAX_DC_SIZE).then_some(len | DC_RAW | u32::from(size) << 16)
}

/// An AC table, with two lookups.
///
/// `lut`, one symbol: bits to skip (code and value) in bits 0-7, how far the coefficient index
/// moves in bits 8-15 ([`EOB_ADVANCE`] for end-of-block); 0 = slow path.
///
/// `runs`, indexed by the next [`RUN_BITS`] bits: as many whole symbols as those bits hold, up
/// to an end-of-block. Bits to skip in bits 0-3, how far the index moves in bits 4-10 (one
/// more with an end-of-block; [`RUN_NONE`] when not even one symbol fits), [`RUN_EOB`] when the
/// last one ends the block.
/// Skipping two or three symbols per lookup shortens the chain of dependent lookups that bounds
/// the decoding speed.
#[derive(Debug, Clone)]
pub(super) struct AcTable {
    pub(super) lut: Box<[u16; LUT_SIZE]>,
    /// The plain symbol lookup, for the AC scans of a progressive frame, whose values are
    /// needed and whose symbols include end-of-band runs: code length in bits 0-7, the
    /// run/size symbol in bits 8-15; 0 = slow path.
    pub(super) symbols: Box<[u16; LUT_SIZE]>,
    /// A coefficient whole, where code and value fit in the lookup: bits to consume in bits
    /// 0-7, the run of zeros before it in bits 8-11, its value in bits 16-31 (as `i16`);
    /// 0 = any other symbol (end-of-block, sixteen zeros, a longer code or value).
    pub(super) values: Box<[u32; LUT_SIZE]>,
    pub(super) runs: Box<[u16; RUN_SIZE]>,
    pub(super) codes: Codes,
}

/// Bits of lookahead the multi-symbol lookup is indexed by.
pub(super) const RUN_BITS: u32 = 12;
const RUN_SIZE: usize = 1 << RUN_BITS;
/// A `runs` advance that no block can take, for entries without a whole symbol.
pub(super) const RUN_NONE: u16 = 127;
/// The `runs` flag for "the last symbol is an end-of-block".
pub(super) const RUN_EOB: u16 = 1 << 11;

impl AcTable {
    pub(super) fn new(codes: Codes) -> Self {
        let mut lut = Box::new([0; LUT_SIZE]);
        let mut symbols = Box::new([0; LUT_SIZE]);
        let mut values = Box::new([0; LUT_SIZE]);
        for_each_index(&codes, |index, len, symbol| {
            lut[index] = ac_entry(symbol, len).unwrap_or(0);
            symbols[index] = len as u16 | u16::from(symbol) << 8;
            let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
            if size > 0 && size <= u32::from(MAX_AC_SIZE) && len + size <= LUT_BITS {
                let value = value_after_code(index, len, size);
                values[index] = (len + size) | run << 8 | u32::from(value as u16) << 16;
            }
        });
        let mut runs = Box::new([RUN_NONE << 4; RUN_SIZE]);
        for (index, entry) in runs.iter_mut().enumerate() {
            *entry = run_entry(&lut, index as u32);
        }
        Self {
            lut,
            symbols,
            values,
            runs,
            codes,
        }
    }
}

/// The `runs` entry for the bits `index`: whole symbols from the start while they fit in
/// [`RUN_BITS`] and take the coefficient index no further than one block (64).
fn run_entry(lut: &[u16; LUT_SIZE], index: u32) -> u16 {
    let (mut used, mut advance) = (0, 0);
    while used < RUN_BITS {
        // The next LUT_BITS bits from `used`, zeros past the known ones: a symbol that fits in
        // the known bits is found whatever the zeros are, as codes are prefix-free.
        let window = ((index << used) & (RUN_SIZE as u32 - 1)) >> (RUN_BITS - LUT_BITS);
        let entry = lut[window as usize];
        let (bits, step) = (u32::from(entry & 0xFF), u32::from(entry >> 8));
        if entry == 0 || used + bits > RUN_BITS {
            break;
        }
        if step == EOB_ADVANCE {
            // Counted as one more position: after coefficient 63 no end-of-block can follow,
            // so those bits must belong to the next block.
            return (used + bits) as u16 | (advance as u16 + 1) << 4 | RUN_EOB;
        }
        if advance + step > 64 {
            break;
        }
        used += bits;
        advance += step;
    }
    if used == 0 {
        return RUN_NONE << 4;
    }
    used as u16 | (advance as u16) << 4
}

/// The AC entry for a code of `len` bits with run/size `symbol` (T.81 F.1.2.2), or `None` for
/// symbols a baseline scan cannot hold.
pub(super) fn ac_entry(symbol: u8, len: u32) -> Option<u16> {
    let (run, size) = (symbol >> 4, symbol & 15);
    let (skip, advance) = match (run, size) {
        (0, 0) => (len, EOB_ADVANCE),
        (15, 0) => (len, 16),
        (_, 0) => return None,
        (_, s) if s > MAX_AC_SIZE => return None,
        (r, s) => (len + u32::from(s), u32::from(r) + 1),
    };
    u16::try_from(skip | advance << 8).ok()
}

/// The signed value of `size` extra bits `bits` (T.81 F.2.2.1, EXTEND).
pub(super) fn extend(bits: u32, size: u32) -> i16 {
    if size == 0 {
        return 0;
    }
    let value = if bits < 1 << (size - 1) {
        bits as i32 - (1 << size) + 1
    } else {
        bits as i32
    };
    value as i16
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_assigned_canonically() {
        // Two codes of length 2 (00, 01), one of length 3 (100).
        let mut counts = [0; 16];
        counts[1] = 2;
        counts[2] = 1;
        let codes = Codes::new(&counts, &[5, 6, 7]).unwrap();
        assert_eq!(codes.decode(0b0000 << 12), Some((5, 2)));
        assert_eq!(codes.decode(0b0100 << 12), Some((6, 2)));
        assert_eq!(codes.decode(0b1000 << 12), Some((7, 3)));
        assert_eq!(codes.decode(0b1100 << 12), None);
        let short: Vec<_> = codes.short_codes().collect();
        assert_eq!(short, [(0, 2, 5), (1, 2, 6), (4, 3, 7)]);
    }

    #[test]
    fn overfull_or_mismatched_counts_are_refused() {
        let mut counts = [0; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(Codes::new(&counts, &[1, 2, 3]).is_none());
        counts[0] = 1;
        assert!(Codes::new(&counts, &[1, 2]).is_none());
        assert!(Codes::new(&[0; 16], &[]).is_none());
    }

    #[test]
    fn lookups_combine_code_and_value() {
        let mut counts = [0; 16];
        counts[1] = 2; // 00 -> category 0, 01 -> category 3
        let dc = DcTable::new(Codes::new(&counts, &[0, 3]).unwrap());
        assert_eq!(dc.lut[0], 2);
        // 01 then 010: category 3, bits 010 -> -5.
        assert_eq!(dc.lut[0b01_010 << 5], 5 | u32::from(-5i16 as u16) << 16);
        assert_eq!(dc.lut[0b01_110 << 5], 5 | 6 << 16);
        let ac = AcTable::new(Codes::new(&counts, &[0x00, 0x23]).unwrap());
        assert_eq!(ac.lut[0], 2 | (EOB_ADVANCE as u16) << 8);
        assert_eq!(ac.lut[0b01 << 8], 5 | 3 << 8);
        assert_eq!(ac_entry(0x10, 4), None);
        assert_eq!(ac_entry(0x0B, 4), None);
        assert_eq!(ac_entry(0xF0, 4), Some(4 | 16 << 8));
        // Two run/size 2/3 symbols (5 bits each: 01 010, 01 110), then end-of-block (00).
        assert_eq!(ac.runs[0b0101_0011_1000], 12 | 7 << 4 | RUN_EOB);
        // Two, and a third (01 ...) that does not fit.
        assert_eq!(ac.runs[0b0101_0011_1001], 10 | 6 << 4);
        assert_eq!(ac.runs[0], 2 | 1 << 4 | RUN_EOB);
        // Whole coefficients: run 2 and -5 (01 010), run 2 and 6 (01 110); not end-of-block.
        assert_eq!(
            ac.values[0b01_010 << 5],
            5 | 2 << 8 | u32::from(-5i16 as u16) << 16
        );
        assert_eq!(ac.values[0b01_110 << 5], 5 | 2 << 8 | 6 << 16);
        assert_eq!(ac.values[0], 0);
    }

    #[test]
    fn extend_follows_the_standard() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0, 11), -2047);
        assert_eq!(extend(2047, 11), 2047);
        assert_eq!(extend(0, 0), 0);
    }
}
