//! A photosync deduper with one simple policy: write when the uploaded photo changed since
//! photosync last wrote it, and never write what the directory already holds.
//!
//! `digest` is SHA-256; `decide` follows the rules in README.md. The host keeps the state this
//! plugin returns, per entry and attribute, and passes it back on the next decision.

wit_bindgen::generate!({ path: "wit", world: "deduper-plugin" });

use exports::photosync::plugin::deduper::{Decision, DedupInput, Guest, SkipReason, SyncState};
use photosync::plugin::log::{Level, log};
use photosync::plugin::types::{PluginError, Setting};
use sha2::{Digest as _, Sha256};

/// How many hex characters of a digest a reason shows.
const SHORT: usize = 8;

struct Plugin;

impl Guest for Plugin {
    fn digest(data: Vec<u8>) -> String {
        Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn decide(settings: Vec<Setting>, input: DedupInput) -> Result<Decision, PluginError> {
        let undo_manual_changes = parse_settings(&settings)?;
        let attribute = &input.attribute;
        let current = &input.current_digests;
        // 1. The same photo as last time: nothing to do, unless someone changed the directory's
        //    value by hand and `undo-manual-changes` asks for it to be put back.
        if let Some(state) = &input.state
            && state.source_digest == input.source_digest
            && (!undo_manual_changes || holds_only(current, &state.written_digest))
        {
            return Ok(skip(
                input.state.clone(),
                format!(
                    "the source photo (sha256 {}) is unchanged since photosync last wrote it to {attribute}",
                    short(&input.source_digest)
                ),
            ));
        }
        // 2. The remaining rules compare the rendition: ask the host to transform first.
        let Some(output) = &input.output_digest else {
            return Ok(Decision::NeedOutput);
        };
        let new_state = SyncState {
            source_digest: input.source_digest.clone(),
            written_digest: output.clone(),
        };
        // 3. The directory already holds this very rendition.
        if holds_only(current, output) {
            return Ok(skip(
                Some(new_state),
                format!("{attribute} already holds this rendition (sha256 {}), so nothing is written", short(output)),
            ));
        }
        // 4. Otherwise write it.
        log(Level::Debug, &format!("{attribute}: writing the rendition sha256 {}.", short(output)));
        Ok(Decision::Write(new_state))
    }
}

export!(Plugin);

/// Reads the settings: `undo-manual-changes`, `true` or `false` (the default).
fn parse_settings(settings: &[Setting]) -> Result<bool, PluginError> {
    let mut undo = false;
    for Setting { key, value } in settings {
        match (key.as_str(), value.trim()) {
            ("undo-manual-changes", "true") => undo = true,
            ("undo-manual-changes", "false") => undo = false,
            ("undo-manual-changes", _) => {
                return Err(PluginError::InvalidSetting(format!(
                    "the setting `undo-manual-changes` must be true or false, not {value:?}"
                )));
            }
            (other, _) => {
                return Err(PluginError::InvalidSetting(format!(
                    "the setting {other:?} is unknown; this plugin understands undo-manual-changes"
                )));
            }
        }
    }
    Ok(undo)
}

/// Whether the attribute holds exactly one value, with digest `digest`.
fn holds_only(current: &[String], digest: &str) -> bool {
    matches!(current, [only] if only == digest)
}

fn skip(state: Option<SyncState>, reason: String) -> Decision {
    Decision::Skip(SkipReason { state, reason })
}

fn short(digest: &str) -> &str {
    digest.get(..SHORT).unwrap_or(digest)
}
