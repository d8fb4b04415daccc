//! A deduper that answers at once: the smallest possible plugin call, for the overhead benchmark.

wit_bindgen::generate!({ path: "../../../wit", world: "deduper-plugin" });

use exports::photosync::plugin::deduper::{Decision, DedupInput, Guest, SkipReason};
use photosync::plugin::types::{PluginError, Setting};

struct Noop;

impl Guest for Noop {
    fn digest(_data: Vec<u8>) -> String {
        "0".into()
    }

    fn decide(_settings: Vec<Setting>, input: DedupInput) -> Result<Decision, PluginError> {
        Ok(Decision::Skip(SkipReason {
            state: input.state,
            reason: String::new(),
        }))
    }
}

export!(Noop);
