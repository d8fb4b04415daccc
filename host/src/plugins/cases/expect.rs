//! What a case expects, and whether an answer is it: each answer is turned into its kind
//! (`criteria`, `write`, `corrupt`, `error`, …) and a TOML value, and compared with the case's
//! `expect` table.

use std::collections::BTreeMap;

use toml::Value;

use super::Answer;
use crate::plugins::{Decision, MatchOutcome, PluginError, Rejection, SyncState};

/// A text expectation: exact, `{ contains = "…" }` or `{ matches = "regex" }`.
#[derive(Debug)]
enum Text {
    Exact(String),
    Contains(String),
    Matches(regex::Regex),
}

impl Text {
    fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(Text::Exact(s.clone())),
            Value::Table(t) if t.len() == 1 => match t.iter().next() {
                Some((k, Value::String(s))) if k == "contains" => Ok(Text::Contains(s.clone())),
                Some((k, Value::String(s))) if k == "matches" => regex::Regex::new(s)
                    .map(Text::Matches)
                    .map_err(|e| format!("{s:?} is not a regular expression: {e}")),
                _ => Err(
                    "a text expectation is a string, { contains = \"…\" } or { matches = \"…\" }"
                        .into(),
                ),
            },
            _ => Err(
                "a text expectation is a string, { contains = \"…\" } or { matches = \"…\" }"
                    .into(),
            ),
        }
    }

    fn holds(&self, text: &str) -> bool {
        match self {
            Text::Exact(s) => s == text,
            Text::Contains(s) => text.contains(s.as_str()),
            Text::Matches(re) => re.is_match(text),
        }
    }
}

/// What a case expects: the kind of answer (`criteria`, `write`, `corrupt`, `error`, …) and the
/// value given for it.
#[derive(Debug)]
pub(super) struct Expect {
    kind: String,
    value: Value,
}

/// Answer kinds whose value is a text expectation.
const TEXT_KINDS: &[&str] = &[
    "no-criteria",
    "digest",
    "invalid-setting",
    "internal",
    "error",
    "unsupported-format",
    "corrupt",
    "too-large",
    "cannot-fit",
];
/// All answer kinds.
const KINDS: &[&str] = &[
    "criteria",
    "names",
    "need-output",
    "write",
    "skip",
    "rendition",
];

impl Expect {
    pub(super) fn parse(expect: &BTreeMap<String, Value>) -> Result<Self, String> {
        let mut entries = expect.iter();
        let (Some((kind, value)), None) = (entries.next(), entries.next()) else {
            return Err(format!(
                "give exactly one `expect` key (there are {})",
                expect.len()
            ));
        };
        if TEXT_KINDS.contains(&kind.as_str()) {
            Text::parse(value).map_err(|e| format!("expect.{kind}: {e}"))?;
        } else if !KINDS.contains(&kind.as_str()) {
            return Err(format!(
                "expect.{kind} is not an answer; use one of {}, {}",
                KINDS.join(", "),
                TEXT_KINDS.join(", ")
            ));
        }
        Ok(Self {
            kind: kind.clone(),
            value: value.clone(),
        })
    }

    /// `Ok` when `answer` is the expected one, else what was answered instead.
    pub(super) fn check(&self, answer: &Answer) -> Result<(), String> {
        let (kind, got) = describe(answer)?;
        if kind != self.kind {
            return Err(format!("expected {}, got {kind} {got}", self.kind));
        }
        if TEXT_KINDS.contains(&kind) {
            let text = got.as_str().unwrap_or_default();
            let wanted = Text::parse(&self.value)?;
            return if wanted.holds(text) {
                Ok(())
            } else {
                Err(format!("expected {kind} {}, got {got}", self.value))
            };
        }
        let fits = match kind {
            // Only the keys the case gives are compared.
            "skip" | "rendition" => subset(&self.value, &got)?,
            _ => self.value == got,
        };
        if fits {
            Ok(())
        } else {
            Err(format!("expected {kind} {}, got {kind} {got}", self.value))
        }
    }
}

/// Whether every key of the table `wanted` holds in `got` (text expectations allowed).
fn subset(wanted: &Value, got: &Value) -> Result<bool, String> {
    let (Value::Table(wanted), Value::Table(got)) = (wanted, got) else {
        return Err("this expectation is a table".into());
    };
    for (key, want) in wanted {
        let have = got
            .get(key)
            .ok_or_else(|| format!("the answer has no {key}"))?;
        let holds = match (want, have) {
            (Value::String(_) | Value::Table(_), Value::String(text)) => {
                Text::parse(want)?.holds(text)
            }
            _ => want == have,
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The answer's kind and its value as TOML, for comparing and showing.
fn describe(answer: &Answer) -> Result<(&'static str, Value), String> {
    let s = |text: &str| Value::String(text.to_owned());
    let state = |st: &Option<SyncState>| match st {
        None => s("none"),
        Some(st) => state_table(st),
    };
    let error = |e: &PluginError| match e {
        PluginError::Reported { reason, .. } => match reason.strip_prefix("invalid setting: ") {
            Some(rest) => ("invalid-setting", s(rest)),
            None => ("internal", s(reason)),
        },
        other => ("error", s(&other.to_string())),
    };
    Ok(match answer {
        Answer::Match(Ok(MatchOutcome::Criteria(criteria))) => (
            "criteria",
            Value::Array(
                criteria
                    .iter()
                    .map(|c| table(&[("attribute", s(&c.attribute)), ("value", s(&c.value))]))
                    .collect(),
            ),
        ),
        Answer::Match(Ok(MatchOutcome::NoCriteria(reason))) => ("no-criteria", s(reason)),
        Answer::Names(Ok(names)) => ("names", Value::Array(names.iter().map(|n| s(n)).collect())),
        Answer::Digest(Ok(digest)) => ("digest", s(digest)),
        Answer::Decide(Ok(Decision::NeedOutput)) => ("need-output", Value::Boolean(true)),
        Answer::Decide(Ok(Decision::Write(st))) => ("write", state_table(st)),
        Answer::Decide(Ok(Decision::Skip(skip))) => (
            "skip",
            table(&[("state", state(&skip.state)), ("reason", s(&skip.reason))]),
        ),
        Answer::Transform(Ok(Ok(r))) => (
            "rendition",
            table(&[
                ("width", Value::Integer(r.width.into())),
                ("height", Value::Integer(r.height.into())),
                ("bytes", Value::Integer(r.jpeg.len() as i64)),
                ("quality", Value::Integer(r.quality.into())),
            ]),
        ),
        Answer::Transform(Ok(Err(rejection))) => match rejection {
            Rejection::UnsupportedFormat(r) => ("unsupported-format", s(r)),
            Rejection::Corrupt(r) => ("corrupt", s(r)),
            Rejection::TooLarge(r) => ("too-large", s(r)),
            Rejection::CannotFit(r) => ("cannot-fit", s(r)),
            Rejection::InvalidSetting(r) => ("invalid-setting", s(r)),
        },
        Answer::Match(Err(e))
        | Answer::Names(Err(e))
        | Answer::Digest(Err(e))
        | Answer::Decide(Err(e))
        | Answer::Transform(Err(e)) => error(e),
        Answer::Unsupported => return Err("the call does not belong to the plugin's role".into()),
    })
}

fn table(pairs: &[(&str, Value)]) -> Value {
    Value::Table(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn state_table(st: &SyncState) -> Value {
    let s = |text: &str| Value::String(text.to_owned());
    table(&[
        ("source-digest", s(&st.source_digest)),
        ("written-digest", s(&st.written_digest)),
    ])
}
