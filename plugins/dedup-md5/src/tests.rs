//! The decision table of every policy, row by row, with and without the output digest.

use crate::policy::{Decision, Input, Policy, SettingError, State, decide};

/// Digest of the uploaded source photo.
const SOURCE: &str = "11111111aaaaaaaaaaaaaaaaaaaaaaaa";
/// Digest of a source photo written earlier.
const OLD_SOURCE: &str = "22222222bbbbbbbbbbbbbbbbbbbbbbbb";
/// Digest of the rendition of `SOURCE`.
const OUTPUT: &str = "33333333cccccccccccccccccccccccc";
/// Digest of the rendition written earlier.
const WRITTEN: &str = "44444444dddddddddddddddddddddddd";
/// Digest of a value someone else put into the directory.
const FOREIGN: &str = "55555555eeeeeeeeeeeeeeeeeeeeeeee";

/// The expected answer for one row.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Write and store (SOURCE, OUTPUT).
    Write,
    /// Skip, keep the old state, and the reason contains the text.
    SkipOld(&'static str),
    /// Skip, store (SOURCE, OUTPUT), and the reason contains the text.
    SkipNew(&'static str),
    NeedOutput,
}

/// One row: stored state's (source, written), output digest, current digests, expected answer.
type Row = (
    Option<(&'static str, &'static str)>,
    Option<&'static str>,
    &'static [&'static str],
    Expect,
);

fn state(source: &str, written: &str) -> State {
    State {
        source: source.to_owned(),
        written: written.to_owned(),
    }
}

fn check(policy: Policy, rows: &[Row]) {
    for (index, (stored, output, current, expect)) in rows.iter().enumerate() {
        let input = Input {
            attribute: "thumbnailPhoto".to_owned(),
            source: SOURCE.to_owned(),
            output: output.map(str::to_owned),
            state: stored.map(|(source, written)| state(source, written)),
            current: current.iter().map(|digest| (*digest).to_owned()).collect(),
        };
        let decision = decide(policy, &input);
        let row = format!("{policy:?} row {index}: {input:?} gave {decision:?}");
        match (*expect, decision) {
            (Expect::Write, Decision::Write(written)) => {
                assert_eq!(written, state(SOURCE, OUTPUT), "{row}")
            }
            (Expect::SkipOld(text), Decision::Skip { state, reason }) => {
                assert_eq!(state, input.state, "{row}");
                assert!(
                    reason.contains(text) && reason.contains("thumbnailPhoto"),
                    "{row}"
                );
            }
            (
                Expect::SkipNew(text),
                Decision::Skip {
                    state: stored,
                    reason,
                },
            ) => {
                assert_eq!(stored, Some(state(SOURCE, OUTPUT)), "{row}");
                assert!(reason.contains(text), "{row}");
            }
            (Expect::NeedOutput, Decision::NeedOutput) => assert!(output.is_none(), "{row}"),
            _ => panic!("{row}, expected {expect:?}"),
        }
    }
}

const UNCHANGED: &str = "is unchanged since photosync last wrote it";
const HELD: &str = "already holds this rendition (md5 33333333)";

#[test]
fn source_changed_table() {
    check(
        Policy::SourceChanged,
        &[
            // Same source as last time: skip, whatever the directory holds now.
            (
                Some((SOURCE, WRITTEN)),
                None,
                &[WRITTEN],
                Expect::SkipOld(UNCHANGED),
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[WRITTEN],
                Expect::SkipOld(UNCHANGED),
            ),
            (
                Some((SOURCE, WRITTEN)),
                None,
                &[FOREIGN],
                Expect::SkipOld("left alone even if someone changed it"),
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[],
                Expect::SkipOld(UNCHANGED),
            ),
            // New or changed source, output unknown: ask for it.
            (None, None, &[], Expect::NeedOutput),
            (
                Some((OLD_SOURCE, WRITTEN)),
                None,
                &[WRITTEN],
                Expect::NeedOutput,
            ),
            // The directory already holds exactly the rendition.
            (None, Some(OUTPUT), &[OUTPUT], Expect::SkipNew(HELD)),
            (
                Some((OLD_SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[OUTPUT],
                Expect::SkipNew(HELD),
            ),
            // Otherwise write.
            (None, Some(OUTPUT), &[], Expect::Write),
            (
                Some((OLD_SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[WRITTEN],
                Expect::Write,
            ),
            (None, Some(OUTPUT), &[OUTPUT, FOREIGN], Expect::Write),
        ],
    );
}

#[test]
fn converge_table() {
    let unchanged =
        "is unchanged and thumbnailPhoto still holds the rendition photosync wrote (md5 44444444)";
    check(
        Policy::Converge,
        &[
            // Same source and the directory still holds what was written: skip without transforming.
            (
                Some((SOURCE, WRITTEN)),
                None,
                &[WRITTEN],
                Expect::SkipOld(unchanged),
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[WRITTEN],
                Expect::SkipOld(unchanged),
            ),
            // Someone changed or removed the value: undo it.
            (
                Some((SOURCE, WRITTEN)),
                None,
                &[FOREIGN],
                Expect::NeedOutput,
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[FOREIGN],
                Expect::Write,
            ),
            (Some((SOURCE, WRITTEN)), None, &[], Expect::NeedOutput),
            (Some((SOURCE, WRITTEN)), Some(OUTPUT), &[], Expect::Write),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[WRITTEN, FOREIGN],
                Expect::Write,
            ),
            // New or changed source.
            (None, None, &[], Expect::NeedOutput),
            (
                Some((OLD_SOURCE, WRITTEN)),
                None,
                &[WRITTEN],
                Expect::NeedOutput,
            ),
            (None, Some(OUTPUT), &[OUTPUT], Expect::SkipNew(HELD)),
            (
                Some((OLD_SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[OUTPUT],
                Expect::SkipNew(HELD),
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[OUTPUT],
                Expect::SkipNew(HELD),
            ),
            (None, Some(OUTPUT), &[FOREIGN], Expect::Write),
            (
                Some((OLD_SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[WRITTEN],
                Expect::Write,
            ),
        ],
    );
}

#[test]
fn only_if_empty_table() {
    let has_one =
        "already has a photo in thumbnailPhoto and the policy only-if-empty never replaces one";
    check(
        Policy::OnlyIfEmpty,
        &[
            // Any value at all: skip, keeping whatever state there was.
            (None, None, &[FOREIGN], Expect::SkipOld(has_one)),
            (None, Some(OUTPUT), &[OUTPUT], Expect::SkipOld(has_one)),
            (
                Some((OLD_SOURCE, WRITTEN)),
                None,
                &[WRITTEN],
                Expect::SkipOld(has_one),
            ),
            (
                Some((SOURCE, WRITTEN)),
                Some(OUTPUT),
                &[FOREIGN, WRITTEN],
                Expect::SkipOld(has_one),
            ),
            // No value: write, transforming first when needed.
            (None, None, &[], Expect::NeedOutput),
            (Some((SOURCE, WRITTEN)), None, &[], Expect::NeedOutput),
            (None, Some(OUTPUT), &[], Expect::Write),
            (Some((SOURCE, WRITTEN)), Some(OUTPUT), &[], Expect::Write),
        ],
    );
}

#[test]
fn never_asks_for_the_output_when_it_is_known() {
    let states = [
        None,
        Some(state(SOURCE, WRITTEN)),
        Some(state(OLD_SOURCE, WRITTEN)),
        Some(state(SOURCE, OUTPUT)),
    ];
    let currents: [&[&str]; 5] = [&[], &[OUTPUT], &[WRITTEN], &[FOREIGN], &[OUTPUT, WRITTEN]];
    for policy in [Policy::SourceChanged, Policy::Converge, Policy::OnlyIfEmpty] {
        for stored in &states {
            for current in currents {
                let input = Input {
                    attribute: "jpegPhoto".to_owned(),
                    source: SOURCE.to_owned(),
                    output: Some(OUTPUT.to_owned()),
                    state: stored.clone(),
                    current: current.iter().map(|digest| (*digest).to_owned()).collect(),
                };
                assert_ne!(
                    decide(policy, &input),
                    Decision::NeedOutput,
                    "{policy:?} {input:?}"
                );
            }
        }
    }
}

fn settings(pairs: &[(&str, &str)]) -> Result<Policy, SettingError> {
    Policy::from_settings(pairs.iter().copied())
}

#[test]
fn policy_setting() {
    assert_eq!(settings(&[]), Ok(Policy::SourceChanged));
    assert_eq!(
        settings(&[("policy", "source-changed")]),
        Ok(Policy::SourceChanged)
    );
    assert_eq!(settings(&[("policy", " converge ")]), Ok(Policy::Converge));
    assert_eq!(
        settings(&[("policy", "only-if-empty")]),
        Ok(Policy::OnlyIfEmpty)
    );
}

#[test]
fn invalid_settings_name_the_key() {
    let message = |pairs: &[(&str, &str)]| settings(pairs).unwrap_err().0;
    assert!(message(&[("polcy", "converge")]).contains("\"polcy\" is unknown"));
    let bad = message(&[("policy", "always")]);
    assert!(
        bad.contains("\"policy\" is \"always\"") && bad.contains("only-if-empty"),
        "{bad}"
    );
    assert!(message(&[("policy", "converge"), ("policy", "converge")]).contains("more than once"));
    assert!(message(&[("policy", "")]).contains("\"policy\" is \"\""));
}
