//! Comparing one pattern with one file stem: a deterministic backtracking search.
//!
//! Literal text matches case-insensitively (character by character) and any separator matches any
//! other. Each placeholder captures non-empty text; when a literal could end a placeholder at
//! several places, the placeholder takes the longest text that still lets the rest of the pattern
//! match, so later placeholders receive the last segments (`{givenName}_{sn}` splits
//! `mary_ann_smith` into `mary_ann` and `smith`).

use std::collections::HashSet;

use crate::pattern::{Pattern, Segment};

/// How many search steps one pattern may take before the search gives up. A file name of
/// [`crate::matcher::MAX_STEM_CHARS`] characters needs far fewer unless it is built to be ambiguous.
const STEP_LIMIT: usize = 200_000;

/// The file name without directory part and extension: the text patterns are compared with.
///
/// Only `/` ends a directory part: a `\` is an ordinary character of the name (the host passes
/// names without directories, and a backslash in a name must reach the criteria verbatim). The extension is the last `.` and what follows it, and
/// is only dropped when something precedes it, so `.profile` keeps its name.
pub fn file_stem(file_name: &str) -> &str {
    let name = file_name.rsplit('/').next().unwrap_or(file_name);
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.get(..dot).unwrap_or(name),
        _ => name,
    }
}

/// The result of comparing one pattern with one stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The pattern matches; one value per [`Pattern::attributes`] entry, in the same order.
    Found(Vec<String>),
    /// The pattern does not match.
    NotFound,
    /// The stem can be split in too many ways to decide within [`STEP_LIMIT`] steps.
    GaveUp,
}

/// What the search needs besides the pattern and the stem.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Characters that match one another in literal text.
    pub separators: &'a [char],
    /// Per pattern attribute: whether its value must be ASCII digits only.
    pub digits_only: &'a [bool],
}

/// Compares `pattern` with `stem` under `rules`.
pub fn match_pattern(pattern: &Pattern, stem: &str, rules: Rules<'_>) -> Match {
    let stem: Vec<char> = stem.chars().collect();
    let mut search = Search {
        segments: pattern.segments(),
        stem: &stem,
        rules,
        repeated: repeated_slots(pattern),
        captures: vec![None; pattern.attributes().len()],
        failed: HashSet::new(),
        steps: 0,
    };
    match search.segment(0, 0) {
        Err(GaveUp) => Match::GaveUp,
        Ok(false) => Match::NotFound,
        Ok(true) => {
            let values: Option<Vec<String>> = search
                .captures
                .iter()
                .map(|span| {
                    span.and_then(|(start, end)| stem.get(start..end))
                        .map(|text| text.iter().collect())
                })
                .collect();
            values.map_or(Match::NotFound, Match::Found)
        }
    }
}

/// The slots of attributes with more than one placeholder: their captures constrain later ones.
fn repeated_slots(pattern: &Pattern) -> Vec<usize> {
    (0..pattern.attributes().len())
        .filter(|slot| {
            let uses = pattern
                .segments()
                .iter()
                .filter(|s| **s == Segment::Placeholder(*slot))
                .count();
            uses > 1
        })
        .collect()
}

/// The search ran out of steps.
#[derive(Debug)]
struct GaveUp;

/// A captured span of the stem, as character indices `start..end`.
type Span = (usize, usize);

/// The state of one backtracking search.
struct Search<'a> {
    segments: &'a [Segment],
    stem: &'a [char],
    rules: Rules<'a>,
    /// Slots whose captures are part of the memo key (see [`repeated_slots`]).
    repeated: Vec<usize>,
    /// Per slot, the span captured so far.
    captures: Vec<Option<Span>>,
    /// States `(segment, position, captures of repeated slots)` known not to lead to a match.
    failed: HashSet<(usize, usize, Vec<Option<Span>>)>,
    steps: usize,
}

impl Search<'_> {
    /// Whether the segments from `index` on match the stem from `pos` to its end.
    fn segment(&mut self, index: usize, pos: usize) -> Result<bool, GaveUp> {
        self.steps += 1;
        if self.steps > STEP_LIMIT {
            return Err(GaveUp);
        }
        let Some(segment) = self.segments.get(index) else {
            return Ok(pos == self.stem.len());
        };
        let key = (
            index,
            pos,
            self.repeated
                .iter()
                .map(|slot| self.captures.get(*slot).copied().flatten())
                .collect(),
        );
        if self.failed.contains(&key) {
            return Ok(false);
        }
        let found = match segment {
            Segment::Literal(text) => {
                self.literal_at(text, pos) && self.segment(index + 1, pos + text.len())?
            }
            Segment::Placeholder(slot) => self.placeholder(index, *slot, pos)?,
        };
        if !found {
            self.failed.insert(key);
        }
        Ok(found)
    }

    /// Tries the placeholder at `index`, longest capture first, together with the literal after it.
    fn placeholder(&mut self, index: usize, slot: usize, pos: usize) -> Result<bool, GaveUp> {
        let (ends, after): (Vec<usize>, usize) = match self.segments.get(index + 1) {
            None => (vec![self.stem.len()], 0),
            Some(Segment::Literal(text)) => {
                let last = self.stem.len().saturating_sub(text.len());
                (
                    (pos + 1..=last)
                        .rev()
                        .filter(|end| self.literal_at(text, *end))
                        .collect(),
                    text.len(),
                )
            }
            // Parsing never puts two placeholders side by side.
            Some(Segment::Placeholder(_)) => return Ok(false),
        };
        for end in ends {
            let Some(fresh) = self.capture(slot, pos, end) else {
                continue;
            };
            if self.segment(index + 2, end + after)? {
                return Ok(true);
            }
            if fresh && let Some(capture) = self.captures.get_mut(slot) {
                *capture = None;
            }
        }
        Ok(false)
    }

    /// Captures `start..end` for `slot`: `Some(true)` when newly captured, `Some(false)` when it
    /// equals the slot's earlier capture, `None` when it is empty, breaks `digits-only` or differs.
    fn capture(&mut self, slot: usize, start: usize, end: usize) -> Option<bool> {
        let text = self.stem.get(start..end).filter(|text| !text.is_empty())?;
        if self.rules.digits_only.get(slot) == Some(&true) && !text.iter().all(char::is_ascii_digit)
        {
            return None;
        }
        match self.captures.get(slot).copied()? {
            Some((earlier_start, earlier_end)) => {
                (self.stem.get(earlier_start..earlier_end)? == text).then_some(false)
            }
            None => {
                *self.captures.get_mut(slot)? = Some((start, end));
                Some(true)
            }
        }
    }

    /// Whether `text` matches the stem at `pos`.
    fn literal_at(&self, text: &[char], pos: usize) -> bool {
        let Some(window) = self.stem.get(pos..pos.saturating_add(text.len())) else {
            return false;
        };
        window
            .iter()
            .zip(text)
            .all(|(have, want)| self.chars_match(*have, *want))
    }

    /// Whether one stem character matches one literal character.
    fn chars_match(&self, have: char, want: char) -> bool {
        let separators = self.rules.separators;
        have == want
            || (separators.contains(&have) && separators.contains(&want))
            || have.to_lowercase().eq(want.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEPARATORS: [char; 4] = ['_', '-', '.', ' '];

    fn run(pattern: &str, stem: &str, digits_only: &[bool]) -> Match {
        let pattern = Pattern::parse(pattern).unwrap();
        match_pattern(
            &pattern,
            stem,
            Rules {
                separators: &SEPARATORS,
                digits_only,
            },
        )
    }

    fn found(values: &[&str]) -> Match {
        Match::Found(values.iter().map(|v| (*v).to_owned()).collect())
    }

    #[test]
    fn stems_drop_directories_and_the_last_extension() {
        assert_eq!(file_stem("12345.jpg"), "12345");
        assert_eq!(file_stem("a/b/john.smith.jpeg"), "john.smith");
        assert_eq!(file_stem("back\\slash.jpg"), "back\\slash");
        assert_eq!(file_stem("noextension"), "noextension");
        assert_eq!(file_stem(".hidden"), ".hidden");
        assert_eq!(file_stem("dir/.hidden.jpg"), ".hidden");
        assert_eq!(file_stem("trailing."), "trailing");
        assert_eq!(file_stem("dir/"), "");
        assert_eq!(file_stem(""), "");
    }

    #[test]
    fn earlier_placeholders_take_the_longest_text() {
        assert_eq!(
            run("{givenName}_{sn}", "mary_ann_smith", &[]),
            found(&["mary_ann", "smith"])
        );
        assert_eq!(
            run("{a}_{b}_{c}", "w_x_y_z", &[]),
            found(&["w_x", "y", "z"])
        );
    }

    #[test]
    fn backtracks_past_captures_that_break_a_rule() {
        assert_eq!(
            run("{employeeID}_{sn}", "123_smith_jr", &[true, false]),
            found(&["123", "smith_jr"])
        );
        assert_eq!(
            run("{sn}_{givenName}_{sn}", "a_b_c_a", &[]),
            found(&["a", "b_c"])
        );
        assert_eq!(
            run("{sn}_{givenName}_{sn}", "a_b_c_b", &[]),
            Match::NotFound
        );
    }

    #[test]
    fn literals_must_match_at_both_ends() {
        assert_eq!(run("id-{employeeID}-x", "ID_42.X", &[]), found(&["42"]));
        assert_eq!(run("id-{employeeID}", "xid-42", &[]), Match::NotFound);
        assert_eq!(run("{employeeID}-x", "42-xy", &[]), Match::NotFound);
        assert_eq!(run("{givenName}_{sn}", "_smith", &[]), Match::NotFound);
        assert_eq!(run("{givenName}_{sn}", "john_", &[]), Match::NotFound);
    }

    #[test]
    fn gives_up_on_hostile_ambiguity_instead_of_hanging() {
        let stem = "_".repeat(255);
        let repeated = "{a}_{b}_{a}_{c}_{a}_{d}_{a}";
        assert_eq!(run(repeated, &stem, &[]), run(repeated, &stem, &[]));
        assert_eq!(run("{a}_{b}_{a}_{c}_{a}x", &stem, &[]), Match::GaveUp);
        let longest = "_".repeat(245);
        assert_eq!(
            run("{a}_{b}_{c}_{d}_{e}_{f}", &stem, &[]),
            found(&[&longest, "_", "_", "_", "_", "_"])
        );
    }
}
