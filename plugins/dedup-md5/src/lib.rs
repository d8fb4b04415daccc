//! photosync deduper plugin: MD5 digests and the `source-changed`, `converge` and `only-if-empty`
//! policies.
//!
//! The README states the contract, the setting and each policy's decision table.
//!
//! # Layout
//! - `digest`: MD5 as lower-case hex, and the short form shown in reasons.
//! - `policy`: the `policy` setting and the decisions, in plain Rust.
//! - this file: the WIT bindings and the conversions between WIT and plain types, nothing else.

#![cfg_attr(test, allow(clippy::unwrap_used))]

wit_bindgen::generate!({ path: "../../wit", world: "deduper-plugin" });

pub mod digest;
pub mod policy;

#[cfg(test)]
mod tests;

use exports::photosync::plugin::deduper::{Decision, DedupInput, Guest, SkipReason, SyncState};
use photosync::plugin::types::{PluginError, Setting};

use crate::policy::{Policy, SettingError, State};

/// The exported deduper.
#[derive(Debug)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct DedupMd5;

impl Guest for DedupMd5 {
    fn digest(data: Vec<u8>) -> String {
        digest::md5_hex(&data)
    }

    fn decide(settings: Vec<Setting>, input: DedupInput) -> Result<Decision, PluginError> {
        let policy =
            Policy::from_settings(settings.iter().map(|s| (s.key.as_str(), s.value.as_str())))
                .map_err(|SettingError(reason)| PluginError::InvalidSetting(reason))?;
        let input = policy::Input {
            attribute: input.attribute,
            source: input.source_digest,
            output: input.output_digest,
            state: input.state.map(|state| State {
                source: state.source_digest,
                written: state.written_digest,
            }),
            current: input.current_digests,
        };
        Ok(match policy::decide(policy, &input) {
            policy::Decision::Write(state) => Decision::Write(sync_state(state)),
            policy::Decision::Skip { state, reason } => Decision::Skip(SkipReason {
                state: state.map(sync_state),
                reason,
            }),
            policy::Decision::NeedOutput => Decision::NeedOutput,
        })
    }
}

/// Converts the plain state to the WIT record.
fn sync_state(state: State) -> SyncState {
    SyncState {
        source_digest: state.source,
        written_digest: state.written,
    }
}

// Only the component exports the WIT functions: their symbol names (`photosync:plugin/...`) do not
// link into a native library, which the unit tests build.
#[cfg(target_arch = "wasm32")]
export!(DedupMd5);
