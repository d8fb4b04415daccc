//! Fuzz targets for the BER reader and the RFC 4533 values the watcher decodes with it: any
//! bytes, mutations of the seeds in `tests/fuzz/corpus/ber/`, and long-form lengths of every
//! size give a value or a `BerError`, never a panic, and every value read lies inside the
//! input. Longer run: `PROPTEST_CASES=20000 cargo test --release -p photosync fuzz_`.

use crate::fuzz_seeds as seeds;

use proptest::prelude::*;

use super::{BerError, Tlv, bad, only, read, read_all};
use crate::watcher::sync_values::{sync_done, sync_info, sync_state};

/// Cases per target in CI; each is a few microseconds.
const CI_CASES: u32 = 3000;

/// Tags and length forms of the values the watcher reads.
const BER: &[&[u8]] = &[
    b"\x30",
    b"\x31",
    b"\x04",
    b"\x0a\x01\x01",
    b"\x01\x01\xff",
    b"\x80",
    b"\xa1",
    b"\xa3",
    b"\x1f",
    b"\x81\xff",
    b"\x82\xff\xff",
    b"\x84\xff\xff\xff\xff",
    b"\x84\x7f\xff\xff\xff",
    b"\x88\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xff",
];

/// Where `part` starts in `whole`, when it lies entirely inside it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// One TLV read from `input` is its header (2 to 6 bytes, the tag first), then its value, then
/// the rest; all three lie inside `input` and cover it.
fn assert_read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let result = read(input, "fuzz");
    if let Ok((tlv, rest)) = result {
        let start = offset_in(input, tlv.value).expect("the value lies inside the input");
        assert!((2..=6).contains(&start), "a {start}-byte header");
        assert_eq!(tlv.tag, input[0]);
        assert_ne!(tlv.tag & 0x1f, 0x1f);
        let end = start + tlv.value.len();
        assert_eq!(
            offset_in(input, rest),
            Some(end),
            "the rest follows the value"
        );
        assert_eq!(end + rest.len(), input.len());
        if input[1] < 0x80 {
            assert_eq!((start, tlv.value.len()), (2, usize::from(input[1])));
        }
    }
    result
}

/// Reads `input` as a tree: every TLV, and the TLVs inside constructed ones, `depth` levels down.
fn walk(input: &[u8], depth: usize) {
    let Ok(tlvs) = read_all(input, "fuzz") else {
        return;
    };
    let covered: usize = tlvs.iter().map(|t| t.value.len()).sum();
    assert!(covered <= input.len());
    for tlv in tlvs {
        assert!(offset_in(input, tlv.value).is_some());
        if tlv.tag & 0x20 != 0 && depth > 0 {
            walk(tlv.value, depth - 1);
        }
    }
}

/// Everything the watcher decodes from one value.
fn decode_all(input: &[u8]) {
    let _ = assert_read(input);
    walk(input, 8);
    if let Ok(value) = only(input, 0x30, "fuzz") {
        assert_eq!(offset_in(input, value), Some(input.len() - value.len()));
    }
    let _ = sync_state(input);
    let _ = sync_info(input);
    let _ = sync_done(input);
}

proptest! {
    #![proptest_config(seeds::config(CI_CASES))]

    #[test]
    fn fuzz_ber_any_bytes(input in seeds::bytes(256)) {
        decode_all(&input);
    }

    #[test]
    fn fuzz_ber_mutated(input in seeds::mutated(seeds::corpus("ber"), BER)) {
        decode_all(&input);
    }

    /// Long-form lengths of 0 to 127 bytes, whatever their value (up to 2^32 - 1 and beyond),
    /// before a short value: only a length that is at most four bytes and fits the data reads.
    #[test]
    fn fuzz_ber_long_lengths(
        tag in any::<u8>(),
        length in proptest::collection::vec(any::<u8>(), 0..=127),
        value in seeds::bytes(64),
    ) {
        let mut input = vec![tag, 0x80 | length.len() as u8];
        input.extend(&length);
        input.extend(&value);
        let declared = length.iter().try_fold(0u64, |acc, &b| acc.checked_mul(256).map(|a| a | u64::from(b)));
        let expected = if tag & 0x1f == 0x1f {
            Err(bad("fuzz", "unexpected high tag number"))
        } else if length.is_empty() {
            Err(bad("fuzz", "indefinite length"))
        } else if length.len() > 4 {
            Err(bad("fuzz", "bad length"))
        } else if declared.is_some_and(|n| n <= value.len() as u64) {
            Ok(declared.map(|n| &value[..n as usize]))
        } else {
            Err(bad("fuzz", "length beyond the data"))
        };
        let got = assert_read(&input).map(|(tlv, _)| Some(tlv.value));
        prop_assert_eq!(got, expected);
    }
}
