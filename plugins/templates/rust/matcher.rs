//! A photosync matcher: a photo named after an employee number (`12345.jpg`) belongs to the
//! directory entry whose `employeeID` holds that number.
//!
//! `match_photo` turns a photo's metadata into criteria (the host searches the directory for
//! them and requires exactly one entry); `photo_names` goes the other way, from an entry to the
//! photo names that would match it. The settings are checked on every call: see README.md.

wit_bindgen::generate!({ path: "wit", world: "matcher-plugin" });

use exports::photosync::plugin::matcher::{Criterion, Guest, MatchOutcome, PhotoInfo};
use photosync::plugin::log::{Level, log};
use photosync::plugin::types::{Attribute, PluginError, Setting};

/// The longest number taken for an employee number; no real one is longer.
const MAX_DIGITS: usize = 20;

/// How many characters of an untrusted name a message shows.
const SHOWN_CHARS: usize = 100;

/// The settings, validated.
struct Config {
    /// The directory attribute that holds the number (setting `attribute`).
    attribute: String,
    /// The fewest digits a number must have (setting `min-digits`), so that `1.jpg` or
    /// `2024.jpg` need not be someone.
    min_digits: usize,
}

impl Config {
    /// Reads the settings; an unknown key or a bad value is `invalid-setting`, naming the key.
    fn parse(settings: &[Setting]) -> Result<Self, PluginError> {
        let mut config = Config {
            attribute: "employeeID".into(),
            min_digits: 4,
        };
        for Setting { key, value } in settings {
            match key.as_str() {
                "attribute" if is_attribute_name(value) => config.attribute = value.clone(),
                "attribute" => {
                    return Err(invalid(format!(
                        "the setting `attribute` = {value:?} is not an attribute name such as employeeID"
                    )));
                }
                "min-digits" => {
                    config.min_digits = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_DIGITS).contains(n))
                        .ok_or_else(|| {
                            invalid(format!(
                                "the setting `min-digits` = {value:?} is not a whole number from 1 to {MAX_DIGITS}"
                            ))
                        })?;
                }
                other => {
                    return Err(invalid(format!(
                        "the setting {other:?} is unknown; this plugin understands attribute and min-digits"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// Whether `text` looks like an employee number: only digits, and neither too few nor too many.
    fn is_number(&self, text: &str) -> bool {
        (self.min_digits..=MAX_DIGITS).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_digit())
    }
}

struct Plugin;

impl Guest for Plugin {
    fn match_photo(settings: Vec<Setting>, photo: PhotoInfo) -> Result<MatchOutcome, PluginError> {
        let config = Config::parse(&settings)?;
        let stem = stem(&photo.file_name);
        if !config.is_number(stem) {
            return Ok(MatchOutcome::NoCriteria(format!(
                "{} is not named after an employee number: the name before the extension must be {} to {MAX_DIGITS} digits (setting min-digits)",
                shown(&photo.file_name),
                config.min_digits
            )));
        }
        log(
            Level::Debug,
            &format!("The photo {} is named after {} {stem}.", shown(&photo.file_name), config.attribute),
        );
        // The value is passed as it is: escaping it for an LDAP filter is the host's job.
        Ok(MatchOutcome::Criteria(vec![Criterion {
            attribute: config.attribute,
            value: stem.to_owned(),
        }]))
    }

    fn photo_names(settings: Vec<Setting>, entry: Vec<Attribute>) -> Result<Vec<String>, PluginError> {
        let config = Config::parse(&settings)?;
        let mut names: Vec<String> = Vec::new();
        // Attribute names are compared ignoring case, as the directory does.
        for attribute in entry.iter().filter(|a| a.name.eq_ignore_ascii_case(&config.attribute)) {
            for value in &attribute.values {
                if config.is_number(value) && !names.contains(value) {
                    names.push(value.clone());
                }
            }
        }
        Ok(names)
    }
}

export!(Plugin);

/// The file name without its extension: `12345.jpg` → `12345`; `.jpg` stays `.jpg`.
fn stem(file_name: &str) -> &str {
    match file_name.rfind('.') {
        Some(dot) if dot > 0 => &file_name[..dot],
        _ => file_name,
    }
}

/// Whether `name` can be an LDAP attribute name (a letter, then letters, digits and hyphens).
fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Untrusted text for a message: quoted, with control characters escaped, cut short.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

fn invalid(reason: String) -> PluginError {
    PluginError::InvalidSetting(reason)
}
