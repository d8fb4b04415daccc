//! photosync matcher plugin: file-name patterns with `{attribute}` placeholders.
//!
//! A photo named `12345.jpg` and the pattern `{employeeID}` give the criterion
//! `employeeID = 12345`; the host finds the one entry that satisfies it. The README states the
//! contract, the settings and the matching rules.
//!
//! # Layout
//! - `settings`: parses and validates the settings on every call.
//! - `pattern`: the pattern syntax, its validation and rendering an entry's values into a name.
//! - `matching`: comparing one pattern with one file stem (case, separators, backtracking).
//! - `matcher`: both directions in plain Rust: photo to criteria, entry to photo names.
//! - `text`: showing untrusted text in messages.
//! - this file: the WIT bindings and the conversions between WIT and plain types, nothing else.

#![cfg_attr(test, allow(clippy::unwrap_used))]

wit_bindgen::generate!({ path: "../../wit", world: "matcher-plugin" });

pub mod matcher;
pub mod matching;
pub mod pattern;
pub mod settings;
pub mod text;

#[cfg(test)]
mod tests;

use exports::photosync::plugin::matcher::{Criterion, Guest, MatchOutcome, PhotoInfo};
use photosync::plugin::log::{Level, log};
use photosync::plugin::types::{Attribute, PluginError, Setting};

use crate::settings::{Config, SettingError};

/// The exported matcher.
#[derive(Debug)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct MatchPattern;

impl Guest for MatchPattern {
    fn match_photo(settings: Vec<Setting>, photo: PhotoInfo) -> Result<MatchOutcome, PluginError> {
        let config = parse_settings(&settings)?;
        let producer = plain_attributes(photo.attributes);
        Ok(
            match matcher::match_photo(&config, &photo.file_name, &producer) {
                matcher::Outcome::Criteria { criteria, by } => {
                    log(
                        Level::Debug,
                        &format!("The photo {} matched {by}.", text::quote(&photo.file_name)),
                    );
                    let criteria = criteria
                        .into_iter()
                        .map(|criterion| Criterion {
                            attribute: criterion.attribute,
                            value: criterion.value,
                        })
                        .collect();
                    MatchOutcome::Criteria(criteria)
                }
                matcher::Outcome::NoCriteria(reason) => MatchOutcome::NoCriteria(reason),
            },
        )
    }

    fn photo_names(
        settings: Vec<Setting>,
        entry: Vec<Attribute>,
    ) -> Result<Vec<String>, PluginError> {
        let config = parse_settings(&settings)?;
        Ok(matcher::photo_names(&config, &plain_attributes(entry)))
    }
}

/// Validates the settings, turning a problem into `invalid-setting`.
fn parse_settings(settings: &[Setting]) -> Result<Config, PluginError> {
    Config::parse(
        settings
            .iter()
            .map(|setting| (setting.key.as_str(), setting.value.as_str())),
    )
    .map_err(|SettingError(reason)| PluginError::InvalidSetting(reason))
}

/// Converts WIT attributes to the plain type the core uses.
fn plain_attributes(attributes: Vec<Attribute>) -> Vec<matcher::Attribute> {
    attributes
        .into_iter()
        .map(|attribute| matcher::Attribute {
            name: attribute.name,
            values: attribute.values,
        })
        .collect()
}

// Only the component exports the WIT functions: their symbol names (`photosync:plugin/...`) do not
// link into a native library, which the unit tests build.
#[cfg(target_arch = "wasm32")]
export!(MatchPattern);
