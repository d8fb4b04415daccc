//! The `policy` setting and the decision each policy makes, in plain Rust.
//!
//! The decision table is in the README; each function below implements one column of it. No
//! decision answers "need the output" when the output digest is known.

use std::fmt;

use crate::digest::short;

/// A setting is unknown or unusable; the message names the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError(pub String);

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a rendition is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Write when the source photo changed since photosync last wrote it; leave manual changes alone.
    #[default]
    SourceChanged,
    /// Make the directory hold the rendition of the current source, undoing manual changes.
    Converge,
    /// Write only when the attribute has no value; never replace a photo.
    OnlyIfEmpty,
}

/// The values of the `policy` setting, in the order the README lists them.
const POLICIES: [(&str, Policy); 3] = [
    ("source-changed", Policy::SourceChanged),
    ("converge", Policy::Converge),
    ("only-if-empty", Policy::OnlyIfEmpty),
];

impl Policy {
    /// Reads the settings: `policy` is the only key, optional, at most once.
    pub fn from_settings<'a>(
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Policy, SettingError> {
        let mut policy = None;
        for (key, value) in settings {
            if key != "policy" {
                return Err(SettingError(format!(
                    "the setting \"{}\" is unknown; this plugin understands only \"policy\"",
                    key.escape_debug()
                )));
            }
            if policy.is_some() {
                return Err(SettingError(
                    "the setting \"policy\" is given more than once".to_owned(),
                ));
            }
            let Some((_, parsed)) = POLICIES.iter().find(|(name, _)| *name == value.trim()) else {
                let names: Vec<&str> = POLICIES.iter().map(|(name, _)| *name).collect();
                return Err(SettingError(format!(
                    "the setting \"policy\" is \"{}\"; it must be one of {}",
                    value.escape_debug(),
                    names.join(", ")
                )));
            };
            policy = Some(*parsed);
        }
        Ok(policy.unwrap_or_default())
    }
}

/// What photosync remembers about the last write of one attribute of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Digest of the source photo last written.
    pub source: String,
    /// Digest of the rendition last written.
    pub written: String,
}

/// What a decision is based on (the WIT `dedup-input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The attribute, e.g. `thumbnailPhoto`, named in reasons.
    pub attribute: String,
    /// Digest of the uploaded source photo.
    pub source: String,
    /// Digest of the rendition, when the host already transformed.
    pub output: Option<String>,
    /// The stored state, when photosync wrote this attribute before.
    pub state: Option<State>,
    /// Digests of the attribute's current values.
    pub current: Vec<String>,
}

/// What to do (the WIT `decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write the rendition, then store the state.
    Write(State),
    /// Do not write; store `state` and report `reason`.
    Skip {
        state: Option<State>,
        reason: String,
    },
    /// Transform first, then ask again with the output digest.
    NeedOutput,
}

/// Decides under `policy`.
pub fn decide(policy: Policy, input: &Input) -> Decision {
    match policy {
        Policy::SourceChanged => source_changed(input),
        Policy::Converge => converge(input),
        Policy::OnlyIfEmpty => only_if_empty(input),
    }
}

/// `source-changed`: an unchanged source is never written again, whatever the directory holds.
fn source_changed(input: &Input) -> Decision {
    if let Some(state) = unchanged_state(input) {
        return Decision::Skip {
            state: Some(state.clone()),
            reason: format!(
                "the source photo (md5 {}) is unchanged since photosync last wrote it to {}; the \
                 directory's value is left alone even if someone changed it",
                short(&input.source),
                input.attribute
            ),
        };
    }
    write_unless_held(input)
}

/// `converge`: skip only when the source is unchanged and the directory still holds what was
/// written; otherwise make the directory hold the current rendition.
fn converge(input: &Input) -> Decision {
    if let Some(state) = unchanged_state(input)
        && holds_only(&input.current, &state.written)
    {
        return Decision::Skip {
            state: Some(state.clone()),
            reason: format!(
                "the source photo (md5 {}) is unchanged and {} still holds the rendition photosync \
                 wrote (md5 {})",
                short(&input.source),
                input.attribute,
                short(&state.written)
            ),
        };
    }
    write_unless_held(input)
}

/// `only-if-empty`: never replace a value, write whenever there is none.
fn only_if_empty(input: &Input) -> Decision {
    if !input.current.is_empty() {
        return Decision::Skip {
            state: input.state.clone(),
            reason: format!(
                "the entry already has a photo in {} and the policy only-if-empty never replaces one",
                input.attribute
            ),
        };
    }
    match &input.output {
        None => Decision::NeedOutput,
        Some(output) => Decision::Write(new_state(input, output)),
    }
}

/// The stored state when it was written from the same source photo as the current one.
fn unchanged_state(input: &Input) -> Option<&State> {
    input
        .state
        .as_ref()
        .filter(|state| state.source == input.source)
}

/// Asks for the output when it is unknown; skips when the directory holds exactly the rendition
/// (remembering the new state), writes otherwise.
fn write_unless_held(input: &Input) -> Decision {
    let Some(output) = &input.output else {
        return Decision::NeedOutput;
    };
    let state = new_state(input, output);
    if holds_only(&input.current, output) {
        Decision::Skip {
            state: Some(state),
            reason: format!(
                "{} already holds this rendition (md5 {}), so nothing is written",
                input.attribute,
                short(output)
            ),
        }
    } else {
        Decision::Write(state)
    }
}

/// The state to store after writing `output` for the current source.
fn new_state(input: &Input, output: &str) -> State {
    State {
        source: input.source.clone(),
        written: output.to_owned(),
    }
}

/// Whether the attribute holds exactly one value, with digest `digest`.
fn holds_only(current: &[String], digest: &str) -> bool {
    matches!(current, [only] if only == digest)
}
