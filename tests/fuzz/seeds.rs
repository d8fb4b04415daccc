//! What every fuzz target draws its inputs from: the committed seed corpus of the target, byte
//! mutations of those seeds, and arbitrary bytes; and the proptest configuration that makes a CI
//! run short and a long run one environment variable away (`PROPTEST_CASES`).
//!
//! The host's unit tests, the transformer's tests and the harness's `tests/fuzz.rs` each include
//! this file with `#[path]`, so the three crates share one copy of the code without a crate of
//! its own. See tests/README.md, "fuzzing".

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// `tests/fuzz/corpus`, found from the including crate's manifest directory upwards.
pub fn corpus_root() -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("tests/fuzz/corpus"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no tests/fuzz/corpus above {}", start.display()))
}

/// The seeds of `target`: every file in `tests/fuzz/corpus/<target>/`, in name order.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_root().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seeds", dir.display());
    files
        .iter()
        .map(|path| {
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        })
        .collect()
}

/// `ci` cases, or `PROPTEST_CASES` when it is set: the CI run stays at a few seconds per target
/// and a longer run is `PROPTEST_CASES=100000 cargo test --release … fuzz_`. Failures are not
/// persisted next to the sources: a failing input found goes into the corpus as a seed.
pub fn config(ci: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Byte strings worth writing over or into an input: boundaries of lengths and counts (in both
/// byte orders), and whatever `dictionary` a target adds (markers, keywords).
const BOUNDARIES: &[&[u8]] = &[
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff",
    b"\x80\x00",
    b"\x00\x01",
    b"\x01\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x00",
];

/// One change to an input. Positions are `Index`es, scaled to the input's length when applied,
/// so a mutation means something whatever seed it meets.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips bit `1` of byte `0`.
    Flip(Index, u8),
    /// Overwrites a byte.
    Set(Index, u8),
    /// Overwrites bytes with a boundary value or a dictionary token.
    Overwrite(Index, Index),
    /// Inserts a boundary value or a dictionary token.
    InsertToken(Index, Index),
    /// Inserts arbitrary bytes.
    Insert(Index, Vec<u8>),
    /// Removes up to `1` bytes.
    Remove(Index, usize),
    /// Copies up to `2` bytes from `0` to `1`: repeats a segment, a chunk, a field.
    Duplicate(Index, Index, usize),
    /// Cuts the input off.
    Truncate(Index),
    /// Replaces the tail from `1` with the tail of seed `0` from `2`.
    Splice(Index, Index, Index),
}

/// Up to eight mutations (none: the input itself).
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 0..8)
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        3 => (at(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        3 => (at(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        3 => (at(), at()).prop_map(|(i, t)| Mutation::Overwrite(i, t)),
        2 => (at(), at()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        1 => (at(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (at(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => (at(), at(), 1usize..64).prop_map(|(f, t, n)| Mutation::Duplicate(f, t, n)),
        1 => at().prop_map(Mutation::Truncate),
        1 => (at(), at(), at()).prop_map(|(s, i, f)| Mutation::Splice(s, i, f)),
    ]
}

/// Applies `mutations` in turn to `data`; splices take their tails from `seeds`.
pub fn apply(
    mut data: Vec<u8>,
    seeds: &[Vec<u8>],
    mutations: &[Mutation],
    dictionary: &[&[u8]],
) -> Vec<u8> {
    let tokens: Vec<&[u8]> = BOUNDARIES.iter().chain(dictionary).copied().collect();
    for m in mutations {
        // A position in the data (`at`) or just past it (`gap`), for any length.
        let len = data.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len) };
        let gap = |i: &Index| i.index(len + 1);
        match m {
            Mutation::Flip(i, bit) if len > 0 => data[at(i)] ^= 1 << bit,
            Mutation::Set(i, v) if len > 0 => data[at(i)] = *v,
            Mutation::Overwrite(i, t) => {
                let token = t.get(&tokens);
                let start = gap(i);
                let end = (start + token.len()).min(len);
                data.splice(start..end, token.iter().copied());
            }
            Mutation::InsertToken(i, t) => {
                let start = gap(i);
                data.splice(start..start, t.get(&tokens).iter().copied());
            }
            Mutation::Insert(i, bytes) => {
                let start = gap(i);
                data.splice(start..start, bytes.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let start = gap(i);
                data.drain(start..(start + n).min(len));
            }
            Mutation::Duplicate(from, to, n) if len > 0 => {
                let start = at(from);
                let copy = data[start..(start + n).min(len)].to_vec();
                let to = gap(to);
                data.splice(to..to, copy);
            }
            Mutation::Truncate(i) => data.truncate(gap(i)),
            Mutation::Splice(other, i, from) if !seeds.is_empty() => {
                let other = other.get(seeds);
                let from = from.index(other.len() + 1);
                data.truncate(gap(i));
                data.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    data
}

/// Seeds with up to eight mutations each (none: the seed itself).
pub fn mutated(
    seeds: Vec<Vec<u8>>,
    dictionary: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    let seeds = Arc::new(seeds);
    (any::<Index>(), mutations()).prop_map(move |(seed, mutations)| {
        apply(seed.get(&seeds).clone(), &seeds, &mutations, dictionary)
    })
}

/// Arbitrary bytes, up to `max` of them.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

/// Mostly mutated seeds, sometimes arbitrary bytes of up to `max`.
pub fn inputs(
    seeds: Vec<Vec<u8>>,
    dictionary: &'static [&'static [u8]],
    max: usize,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![1 => bytes(max), 4 => mutated(seeds, dictionary)]
}
