//! The marker segments of a JPEG, read straight from the bytes (T.81 Annex B), up to the start
//! of the first scan, and the few that may follow that scan up to EOI.
//!
//! Only what the DC-only path can decode is accepted: one baseline (SOF0), extended sequential
//! (SOF1) or progressive (SOF2) Huffman frame of 8-bit samples, greyscale or YCbCr with 1×1
//! chroma; a sequential frame in one scan holding every component, a progressive one starting
//! with a DC scan. Everything else, including anything malformed, gives `None`, and the caller
//! hands the file to the general decoder, which gives the verdict.

use super::huffman::{AcTable, Codes, DcTable};

/// A frame component with everything the scan needs to decode it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Component {
    id: u8,
    /// Horizontal and vertical sampling factors (blocks per MCU).
    pub(super) h: usize,
    pub(super) v: usize,
    quant_table: usize,
    /// The DC quantiser: what a DC coefficient is multiplied by.
    pub(super) dc_quant: u16,
    /// The whole quantisation table, in zigzag order (`quant[0] == dc_quant`).
    pub(super) quant: [u16; 64],
    pub(super) dc_table: usize,
    pub(super) ac_table: usize,
}

impl Component {
    /// Takes the component's quantisation table from those defined; `None` when it is not.
    fn set_quant(&mut self, defined: &[Option<[u16; 64]>; 4]) -> Option<()> {
        self.quant = (*defined.get(self.quant_table)?)?;
        self.dc_quant = self.quant[0];
        Some(())
    }
}

/// How a three-component frame's samples map to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adobe {
    /// APP14 transform 0: RGB (or CMYK) as stored.
    Untransformed,
    /// APP14 transform 1.
    YCbCr,
    /// APP14 transform 2.
    Ycck,
}

/// Everything before the entropy-coded data of a JPEG the DC-only path can decode.
#[derive(Debug)]
pub(in crate::decode) struct Header<'a> {
    pub(in crate::decode) width: u16,
    pub(in crate::decode) height: u16,
    /// 1 (greyscale) or 3 (YCbCr, luma first) components, in frame and scan order.
    pub(super) components: Vec<Component>,
    pub(super) dc_tables: [Option<DcTable>; 2],
    pub(super) ac_tables: [Option<AcTable>; 2],
    /// MCUs per restart interval, 0 for none.
    pub(super) restart_interval: u16,
    /// Where the entropy-coded data of the (first) scan starts.
    pub(super) scan_start: usize,
    /// For a progressive frame (SOF2), its first scan's header; `None` for a sequential one.
    pub(super) progressive: Option<Scan>,
    /// The last Exif block (after `Exif\0\0`) before the frame header, which is what the scale
    /// must be chosen by, as the general path does.
    pub(in crate::decode) exif_before_frame: Option<&'a [u8]>,
    /// The last Exif block before the scan.
    pub(super) exif: Option<&'a [u8]>,
}

/// A progressive scan's header (T.81 B.2.3): which components, which coefficients, which bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Scan {
    /// Indices into the frame's components, with the DC and AC tables each uses.
    pub(super) components: Vec<(usize, usize, usize)>,
    /// Spectral selection: the first and last coefficient.
    pub(super) start: u8,
    pub(super) end: u8,
    /// Successive approximation: the bit position of the previous scan of these coefficients
    /// (0 for their first) and of this one.
    pub(super) high: u8,
    pub(super) low: u8,
}

impl Scan {
    /// Reads a scan header against the frame's `components`.
    pub(super) fn parse(payload: &[u8], components: &[Component]) -> Option<Self> {
        let (&count, rest) = payload.split_first()?;
        let count = usize::from(count);
        if !(1..=components.len()).contains(&count) || rest.len() != 2 * count + 3 {
            return None;
        }
        let mut chosen: Vec<(usize, usize, usize)> = Vec::with_capacity(count);
        for spec in rest.chunks_exact(2).take(count) {
            let [id, tables] = *spec else { return None };
            let index = components.iter().position(|c| c.id == id)?;
            // In frame order, each once (T.81 B.2.3).
            if chosen.last().is_some_and(|&(last, ..)| last >= index) {
                return None;
            }
            let (dc, ac) = (tables >> 4, tables & 15);
            if dc > 3 || ac > 3 {
                return None;
            }
            chosen.push((index, usize::from(dc), usize::from(ac)));
        }
        let [start, end, approximation] = *rest.get(2 * count..)? else {
            return None;
        };
        // Point transforms within the 8-bit precision (G.1.1.1.1).
        if approximation >> 4 > 13 || approximation & 15 >= 8 {
            return None;
        }
        Some(Self {
            components: chosen,
            start,
            end,
            high: approximation >> 4,
            low: approximation & 15,
        })
    }
}

/// Parses a DHT segment's tables into `dc` and `ac` (T.81 B.2.4.2).
pub(super) fn huffman_tables(
    mut payload: &[u8],
    dc: &mut [Option<Codes>; 2],
    ac: &mut [Option<Codes>; 2],
) -> Option<()> {
    while !payload.is_empty() {
        let spec = *payload.first()?;
        let counts: &[u8; 16] = payload.get(1..17)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&n| usize::from(n)).sum();
        let symbols = payload.get(17..17 + total)?;
        let codes = Codes::new(counts, symbols)?;
        let index = usize::from(spec & 15);
        match spec >> 4 {
            0 => *dc.get_mut(index)? = Some(codes),
            1 => *ac.get_mut(index)? = Some(codes),
            _ => return None,
        }
        payload = payload.get(17 + total..)?;
    }
    Some(())
}

/// The header as it is being read.
#[derive(Debug, Default)]
struct Reader<'a> {
    frame: Option<(u16, u16, Vec<Component>)>,
    progressive: bool,
    quant: [Option<[u16; 64]>; 4],
    /// Huffman codes as defined so far; the lookups are built once, for the scan.
    dc_codes: [Option<Codes>; 2],
    ac_codes: [Option<Codes>; 2],
    restart_interval: u16,
    jfif: bool,
    adobe: Option<Adobe>,
    exif_before_frame: Option<&'a [u8]>,
    exif: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// Reads the markers up to the first scan; `None` unless the DC-only path can decode it.
    pub(in crate::decode) fn parse(data: &'a [u8]) -> Option<Self> {
        if data.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut reader = Reader::default();
        let mut at = 2;
        loop {
            let (marker, after) = next_marker(data, at)?;
            let (payload, next) = segment(data, after)?;
            match marker {
                0xC0..=0xC2 if reader.frame.is_none() => {
                    reader.exif_before_frame = reader.exif;
                    reader.frame = Some(frame(payload)?);
                    reader.progressive = marker == 0xC2;
                }
                0xC4 => huffman_tables(payload, &mut reader.dc_codes, &mut reader.ac_codes)?,
                0xDB => reader.quant_tables(payload)?,
                0xDD => reader.restart_interval = u16::from_be_bytes(payload.try_into().ok()?),
                0xE0..=0xEF => reader.app(marker, payload)?,
                0xFE => {}
                0xDA => return reader.finish(payload, next),
                _ => return None,
            }
            at = next;
        }
    }
}

impl<'a> Reader<'a> {
    fn quant_tables(&mut self, mut payload: &[u8]) -> Option<()> {
        while let Some((&spec, rest)) = payload.split_first() {
            let (precision, index) = (spec >> 4, usize::from(spec & 15));
            let len = match precision {
                0 => 64,
                1 => 128,
                _ => return None,
            };
            let values = rest.get(..len)?;
            let value = |i: usize| match precision {
                0 => values.get(i).map(|&v| u16::from(v)),
                _ => Some(u16::from_be_bytes([
                    *values.get(2 * i)?,
                    *values.get(2 * i + 1)?,
                ])),
            };
            if (0..64).any(|i| value(i) == Some(0)) {
                return None;
            }
            let mut table = [0; 64];
            for (i, entry) in table.iter_mut().enumerate() {
                *entry = value(i)?;
            }
            *self.quant.get_mut(index)? = Some(table);
            payload = rest.get(len..)?;
        }
        Some(())
    }

    fn app(&mut self, marker: u8, payload: &'a [u8]) -> Option<()> {
        match marker {
            0xE0 if payload.starts_with(b"AVI1\0") => return None, // Motion JPEG: implied tables
            0xE0 => self.jfif |= payload.starts_with(b"JFIF\0"),
            0xE1 => {
                if let Some(exif) = payload.strip_prefix(b"Exif\0\0") {
                    self.exif = Some(exif);
                }
            }
            0xEE if payload.len() >= 12 && payload.starts_with(b"Adobe\0") => {
                self.adobe = Some(match payload.get(11)? {
                    0 => Adobe::Untransformed,
                    1 => Adobe::YCbCr,
                    2 => Adobe::Ycck,
                    _ => return None,
                });
            }
            _ => {}
        }
        Some(())
    }

    /// Checks the scan header against the frame and the tables, and completes the header.
    fn finish(mut self, payload: &[u8], scan_start: usize) -> Option<Header<'a>> {
        if self.progressive {
            return self.finish_progressive(payload, scan_start);
        }
        let (width, height, mut components) = self.frame.take()?;
        let (&count, rest) = payload.split_first()?;
        let count = usize::from(count);
        if count != components.len() || rest.len() != 2 * count + 3 {
            return None;
        }
        for (component, spec) in components.iter_mut().zip(rest.chunks_exact(2)) {
            let [id, tables] = *spec else { return None };
            component.dc_table = usize::from(tables >> 4);
            component.ac_table = usize::from(tables & 15);
            component.set_quant(&self.quant)?;
            let dc_defined = self.dc_codes.get(component.dc_table)?.is_some();
            let ac_defined = self.ac_codes.get(component.ac_table)?.is_some();
            if id != component.id || !dc_defined || !ac_defined {
                return None;
            }
        }
        // Spectral selection 0..=63, no successive approximation: a sequential scan.
        if rest.get(2 * count..)? != [0, 63, 0] || !self.is_ycbcr(&components) {
            return None;
        }
        Some(self.header((width, height, components), scan_start, None))
    }

    /// A progressive frame: every component quantised, and a first scan of DC coefficients
    /// (T.81 G.1.1.1.1: a component's DC comes before any of its AC).
    fn finish_progressive(mut self, payload: &[u8], scan_start: usize) -> Option<Header<'a>> {
        let (width, height, mut components) = self.frame.take()?;
        for component in &mut components {
            component.set_quant(&self.quant)?;
        }
        let scan = Scan::parse(payload, &components)?;
        if (scan.start, scan.end, scan.high) != (0, 0, 0) || !self.is_ycbcr(&components) {
            return None;
        }
        Some(self.header((width, height, components), scan_start, Some(scan)))
    }

    /// The header of `frame`, whose first scan's data starts at `scan_start`, with the tables
    /// read so far.
    fn header(
        self,
        (width, height, components): (u16, u16, Vec<Component>),
        scan_start: usize,
        progressive: Option<Scan>,
    ) -> Header<'a> {
        Header {
            width,
            height,
            components,
            dc_tables: self.dc_codes.map(|codes| codes.map(DcTable::new)),
            ac_tables: self.ac_codes.map(|codes| codes.map(AcTable::new)),
            restart_interval: self.restart_interval,
            scan_start,
            progressive,
            exif_before_frame: self.exif_before_frame,
            exif: self.exif,
        }
    }

    /// Whether a three-component frame is YCbCr, by the rules the general decoder applies
    /// (component identifiers, then JFIF, then the Adobe marker). Greyscale always passes.
    fn is_ycbcr(&self, components: &[Component]) -> bool {
        let ids: Vec<u8> = components.iter().map(|c| c.id).collect();
        match ids[..] {
            [_] | [1, 2, 3] => true,
            // RGB, and the big-gamut variants of YCbCr and RGB.
            [82, 71, 66] | [1, 34, 35] | [114, 103, 98] => false,
            _ => self.jfif || matches!(self.adobe, None | Some(Adobe::YCbCr)),
        }
    }
}

/// A frame header (T.81 B.2.2): size and components, if the DC-only path can decode it.
fn frame(payload: &[u8]) -> Option<(u16, u16, Vec<Component>)> {
    let [8, h1, h0, w1, w0, count, ref specs @ ..] = *payload else {
        return None;
    };
    let (height, width) = (u16::from_be_bytes([h1, h0]), u16::from_be_bytes([w1, w0]));
    if height == 0 || width == 0 || !matches!(count, 1 | 3) || specs.len() != 3 * usize::from(count)
    {
        return None;
    }
    let mut components = Vec::with_capacity(3);
    for spec in specs.chunks_exact(3) {
        let [id, sampling, quant_table] = *spec else {
            return None;
        };
        let (h, v) = (usize::from(sampling >> 4), usize::from(sampling & 15));
        let duplicate = components.iter().any(|c: &Component| c.id == id);
        if duplicate || !(1..=4).contains(&h) || !(1..=4).contains(&v) || quant_table > 3 {
            return None;
        }
        components.push(Component {
            id,
            h,
            v,
            quant_table: usize::from(quant_table),
            dc_quant: 0,
            quant: [0; 64],
            dc_table: 0,
            ac_table: 0,
        });
    }
    // A lone component is one block per MCU whatever it declares; with three, luma may be
    // subsampled up to 2×2 against 1×1 chroma.
    match &mut components[..] {
        [grey] => (grey.h, grey.v) = (1, 1),
        [luma, cb, cr] if luma.h <= 2 && luma.v <= 2 && [cb.h, cb.v, cr.h, cr.v] == [1; 4] => {}
        _ => return None,
    }
    Some((width, height, components))
}

/// Walks from the end of the scan to EOI, over the segments that may follow a scan, and returns
/// the last Exif block seen (`exif` if none). `None` for anything the general decoder might
/// treat differently: tables, frame or scan headers, JFIF or Adobe markers, or no EOI.
pub(super) fn trailer<'a>(
    data: &'a [u8],
    at: usize,
    exif: Option<&'a [u8]>,
) -> Option<Option<&'a [u8]>> {
    let mut reader = Reader {
        exif,
        ..Reader::default()
    };
    let (mut at, mut first) = (at, true);
    loop {
        let (marker, after) = next_marker(data, at)?;
        match marker {
            0xD9 => return Some(reader.exif),
            // Some encoders end the scan with a restart marker.
            0xD0..=0xD7 if first => at = after,
            0xE1..=0xED | 0xEF | 0xFE => {
                let (payload, next) = segment(data, after)?;
                reader.app(marker, payload)?;
                at = next;
            }
            _ => return None,
        }
        first = false;
    }
}

/// The next marker at or after `at`, skipping stray bytes and fill bytes as lenient decoders
/// do, and where its segment starts.
pub(super) fn next_marker(data: &[u8], mut at: usize) -> Option<(u8, usize)> {
    loop {
        at += data.get(at..)?.iter().position(|&b| b == 0xFF)?;
        while *data.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *data.get(at)?;
        at += 1;
        if marker != 0 {
            return Some((marker, at));
        }
    }
}

/// A segment's payload (after its length field) and where the next marker may start.
pub(super) fn segment(data: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]));
    let end = at.checked_add(len)?;
    Some((data.get(at.checked_add(2)?..end)?, end))
}
