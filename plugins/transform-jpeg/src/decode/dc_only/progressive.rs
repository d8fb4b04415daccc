//! Progressive JPEGs (T.81 G.1) at 1/8 scale. A progressive file sends each component's DC
//! coefficients in scans of their own, before the AC scans that refine the picture: the first
//! DC scan holds the coefficients' high bits (DPCM-coded, shifted right by its `low` bit
//! position), and refinement scans add one bit each (G.1.2.1). Those scans are decoded; the
//! AC scans are skipped to the next marker without decoding a bit, or, when all coefficients
//! are wanted, decoded too: a band's first scan (G.1.2.2) and its refinements (G.1.2.3).
//!
//! Every component must get its first DC scan, each refinement must continue where the
//! previous scan of its component stopped, and every AC scan must name defined tables;
//! anything else, damage included, gives `None`, and the general decoder takes over. Damage
//! inside an AC scan's data is not seen: those bits are never read, and the 1/8-scale picture
//! does not depend on them.

use super::band::{Band, BandEnd};
use super::bits::Bits;
use super::header::{self, Header, Scan};
use super::huffman::{AcTable, DcTable};
use super::scan::{Planes, block_grid, mcu_grid};

/// Where a component's DC coefficients stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// No DC scan yet.
    None,
    /// Known down to this bit position (0: complete).
    Down(u8),
}

/// What a decode keeps of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Its DC coefficient: the AC scans are skipped.
    Dc,
    /// Its coefficients up to zigzag position `last`, in zigzag order, the AC scans decoded
    /// too; of those after it only whether they are zero, which parsing a refinement scan
    /// needs.
    Upto(usize),
}

impl Keep {
    /// How many values a block keeps.
    fn per_block(self) -> usize {
        match self {
            Keep::Dc => 1,
            Keep::Upto(last) => last + 1,
        }
    }
}

/// Decodes the scans of the progressive frame `header` introduces: per block, its quantised
/// DC coefficient, or with [`Keep::Upto`] its first quantised coefficients (so `Planes::dc`
/// holds that many values a block).
pub(super) fn decode(data: &[u8], header: &Header, keep: Keep) -> Option<Planes> {
    let first = header.progressive.clone()?;
    let grid = block_grid(header);
    let stride: Vec<usize> = grid.iter().map(|&(width, _)| width).collect();
    let per_block = keep.per_block();
    let mut dc: Vec<Vec<i16>> = (grid.iter())
        .map(|&(width, height)| vec![0; width * height * per_block])
        .collect();
    let mut walk = Walk {
        dc_tables: header.dc_tables.clone(),
        ac_defined: header.ac_tables.each_ref().map(Option::is_some),
        ac_tables: match keep {
            Keep::Upto(_) => header.ac_tables.clone(),
            Keep::Dc => [None, None],
        },
        keep,
        restart_interval: header.restart_interval,
        progress: vec![Progress::None; header.components.len()],
        ac_known: vec![[None; 64]; header.components.len()],
        nonzero: match keep {
            Keep::Upto(_) => grid.iter().map(|&(w, h)| vec![0; w * h]).collect(),
            Keep::Dc => Vec::new(),
        },
    };
    let (mut scan, mut at) = (first, header.scan_start);
    loop {
        let end = if scan.start == 0 {
            walk.dc_scan(data, at, header, &scan, (&mut dc, &stride, per_block))?
        } else {
            let defined =
                |&(_, _, ac): &(usize, usize, usize)| walk.ac_defined.get(ac) == Some(&true);
            // An AC scan holds one component (G.1.1.1.1).
            let one = scan.components.len() == 1;
            if scan.end < scan.start
                || scan.end > 63
                || !one
                || !scan.components.iter().all(defined)
            {
                return None;
            }
            match keep {
                Keep::Dc => skip_entropy(data, at)?,
                Keep::Upto(_) => walk.ac_scan(data, at, header, &scan, (&mut dc, &stride))?,
            }
        };
        match walk.next_scan(data, end, header)? {
            Some((next, start)) => (scan, at) = (next, start),
            None => break,
        }
    }
    let complete = walk.progress.iter().all(|p| *p != Progress::None);
    complete.then_some(Planes {
        dc,
        stride,
        end: data.len(),
    })
}

/// What changes between scans: tables, the restart interval, each component's progress.
struct Walk {
    dc_tables: [Option<DcTable>; 2],
    /// Which AC tables are defined: an AC scan naming another is damage.
    ac_defined: [bool; 2],
    /// The AC tables themselves, built only when the AC scans are decoded.
    ac_tables: [Option<AcTable>; 2],
    keep: Keep,
    restart_interval: u16,
    progress: Vec<Progress>,
    /// Per component and AC coefficient, the bit position it is known down to (`None`: not
    /// sent yet), when the AC scans are decoded.
    ac_known: Vec<[Option<u8>; 64]>,
    /// Per component and block, which of its coefficients are not zero (bit k for zigzag
    /// position k), when the AC scans are decoded: a refinement scan reads a bit for each.
    nonzero: Vec<Vec<u64>>,
}

impl Walk {
    /// Decodes one DC scan starting at `at` into `dc`; returns where its data ends.
    fn dc_scan(
        &mut self,
        data: &[u8],
        at: usize,
        header: &Header,
        scan: &Scan,
        (dc, stride, per_block): (&mut [Vec<i16>], &[usize], usize),
    ) -> Option<usize> {
        // A DC scan holds no AC coefficient (G.1.1.1.1).
        if scan.end != 0 {
            return None;
        }
        for &(component, ..) in &scan.components {
            let progress = self.progress.get_mut(component)?;
            *progress = match (*progress, scan.high) {
                (Progress::None, 0) => Progress::Down(scan.low),
                (Progress::Down(low), high) if high == low && high == scan.low + 1 => {
                    Progress::Down(scan.low)
                }
                _ => return None,
            };
        }
        let tables: Vec<Option<&DcTable>> = (scan.components.iter())
            .map(|&(_, table, _)| self.dc_tables.get(table).and_then(Option::as_ref))
            .collect();
        let mut bits = Bits::new(data, at);
        let mut predictors = [0i16; 3];
        let mut restarts = Restarts::new(self.restart_interval);
        for_each_block(header, scan, stride, |unit, slot, at| {
            if restarts.at(unit, &mut bits)? {
                predictors = [0; 3];
            }
            let value = dc
                .get_mut(scan.components.get(slot)?.0)?
                .get_mut(at * per_block)?;
            if scan.high == 0 {
                let predictor = predictors.get_mut(slot)?;
                *predictor = predictor.wrapping_add(bits.dc_diff((*tables.get(slot)?)?)?);
                *value = predictor.wrapping_shl(u32::from(scan.low));
            } else {
                *value |= bits.bit() << scan.low;
            }
            Some(())
        })?;
        bits.finish()
    }

    /// Decodes one AC scan starting at `at` into the coefficients `coefficients` (as many a
    /// block as `keep` says, zigzag order): a first scan of its band (G.1.2.2) or a refinement by one bit (G.1.2.3).
    /// Returns where its data ends.
    fn ac_scan(
        &mut self,
        data: &[u8],
        at: usize,
        header: &Header,
        scan: &Scan,
        (coefficients, stride): (&mut [Vec<i16>], &[usize]),
    ) -> Option<usize> {
        let [(component, _, table)] = scan.components[..] else {
            return None;
        };
        let Keep::Upto(last) = self.keep else {
            return None;
        };
        let per_block = self.keep.per_block();
        let band = usize::from(scan.start)..=usize::from(scan.end);
        for known in self.ac_known.get_mut(component)?.get_mut(band.clone())? {
            *known = match (*known, scan.high) {
                (None, 0) => Some(scan.low),
                (Some(low), high) if high == low && high == scan.low + 1 => Some(scan.low),
                _ => return None,
            };
        }
        let band = Band::new(self.ac_tables.get(table)?.as_ref()?, band, scan.low, last);
        let plane = coefficients.get_mut(component)?;
        let nonzero = self.nonzero.get_mut(component)?;
        let mut bits = Bits::new(data, at);
        let mut band_end = BandEnd::default();
        let mut restarts = Restarts::new(self.restart_interval);
        for_each_block(header, scan, stride, |unit, _, at| {
            if restarts.at(unit, &mut bits)? {
                band_end = BandEnd::default();
            }
            let block = plane.get_mut(at * per_block..(at + 1) * per_block)?;
            let nonzero = nonzero.get_mut(at)?;
            if scan.high == 0 {
                band.first_pass(&mut bits, block, nonzero, &mut band_end)
            } else {
                band.refine(&mut bits, block, nonzero, &mut band_end)
            }
        })?;
        bits.finish()
    }

    /// Reads the segments after a scan's data (at `at`): tables and restart intervals are
    /// applied; the next scan's header and where its data starts are returned, or `None` at
    /// the end of the image. Fails on anything the general decoder might read differently.
    fn next_scan(
        &mut self,
        data: &[u8],
        mut at: usize,
        header: &Header,
    ) -> Option<Option<(Scan, usize)>> {
        let mut first = true;
        loop {
            let (marker, after) = header::next_marker(data, at)?;
            if marker == 0xD9 {
                return Some(None);
            }
            if (0xD0..=0xD7).contains(&marker) && first {
                // Some encoders end a scan with a restart marker; anywhere else it is damage.
                (at, first) = (after, false);
                continue;
            }
            first = false;
            let (payload, next) = header::segment(data, after)?;
            match marker {
                0xDA => return Some(Some((Scan::parse(payload, &header.components)?, next))),
                0xC4 => {
                    let (mut dc, mut ac) = ([None, None], [None, None]);
                    header::huffman_tables(payload, &mut dc, &mut ac)?;
                    for (table, codes) in self.dc_tables.iter_mut().zip(dc) {
                        if let Some(codes) = codes {
                            *table = Some(DcTable::new(codes));
                        }
                    }
                    for ((defined, table), codes) in
                        self.ac_defined.iter_mut().zip(&mut self.ac_tables).zip(ac)
                    {
                        *defined |= codes.is_some();
                        if let (Some(codes), Keep::Upto(_)) = (codes, self.keep) {
                            *table = Some(AcTable::new(codes));
                        }
                    }
                }
                0xDD => self.restart_interval = u16::from_be_bytes(payload.try_into().ok()?),
                // Application data other than JFIF, Exif and Adobe's, and comments.
                0xE2..=0xED | 0xEF | 0xFE => {}
                _ => return None,
            }
            at = next;
        }
    }
}

/// The restart markers of a scan: one is due before every `interval`th unit (MCU, or block
/// in a scan of one component), numbered RST0..RST7 in turn.
struct Restarts {
    interval: usize,
    next: u8,
    unit: usize,
}

impl Restarts {
    fn new(interval: u16) -> Self {
        Self {
            interval: usize::from(interval),
            next: 0,
            unit: 0,
        }
    }

    /// Moves past the restart marker due before `unit`, if one is: whether there was one;
    /// `None` when it is not where it must be.
    fn at(&mut self, unit: usize, bits: &mut Bits) -> Option<bool> {
        if unit == self.unit || self.interval == 0 || !unit.is_multiple_of(self.interval) {
            self.unit = unit;
            return Some(false);
        }
        self.unit = unit;
        bits.restart(self.next)?;
        self.next = (self.next + 1) % 8;
        Some(true)
    }
}

/// Calls `visit(unit, slot, index)` for each block of `scan` in the order its data holds them:
/// `unit` counts MCUs (the restart interval's unit), `slot` is the block's component within
/// the scan, `index` its place in the component's plane. An interleaved scan goes MCU by MCU
/// (T.81 A.2.3); a scan of one component goes block by block over just that component's
/// blocks, without the MCU padding (A.2.2).
fn for_each_block(
    header: &Header,
    scan: &Scan,
    stride: &[usize],
    mut visit: impl FnMut(usize, usize, usize) -> Option<()>,
) -> Option<()> {
    let (cols, rows) = mcu_grid(header);
    if let [(component, ..)] = scan.components[..] {
        let c = header.components.get(component)?;
        let (h_max, v_max) = header
            .components
            .iter()
            .fold((1, 1), |(h, v), c| (c.h.max(h), c.v.max(v)));
        let width = (usize::from(header.width) * c.h).div_ceil(h_max);
        let height = (usize::from(header.height) * c.v).div_ceil(v_max);
        let (across, down) = (width.div_ceil(8), height.div_ceil(8));
        let row = *stride.get(component)?;
        for y in 0..down {
            for x in 0..across {
                visit(y * across + x, 0, y * row + x)?;
            }
        }
        return Some(());
    }
    for mcu_row in 0..rows {
        for mcu_col in 0..cols {
            let unit = mcu_row * cols + mcu_col;
            for (slot, &(component, ..)) in scan.components.iter().enumerate() {
                let c = header.components.get(component)?;
                let row = *stride.get(component)?;
                for y in 0..c.v {
                    for x in 0..c.h {
                        visit(unit, slot, (mcu_row * c.v + y) * row + mcu_col * c.h + x)?;
                    }
                }
            }
        }
    }
    Some(())
}

/// Where the entropy-coded data starting at `at` ends: the first marker that is neither a
/// stuffed `FF 00` nor a restart marker.
fn skip_entropy(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at += data.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *data.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => at += 2,
            0xFF => at += 1,
            _ => return Some(at),
        }
    }
}
