//! The plugin's two directions in plain Rust: a photo to criteria, and an entry to photo names.
//!
//! Nothing here knows the WIT types; `lib.rs` converts them.

use std::collections::HashSet;

use crate::matching::{Match, Rules, file_stem, match_pattern};
use crate::pattern::Pattern;
use crate::settings::Config;
use crate::text::{escape, fold, quote};

/// File stems longer than this many characters are not compared with the patterns: no real photo
/// name is that long, and the limit bounds the work a hostile name can cause.
pub const MAX_STEM_CHARS: usize = 255;

/// An attribute of a directory entry or of the producer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's name, compared ignoring ASCII case.
    pub name: String,
    /// Its values as text.
    pub values: Vec<String>,
}

/// One equality test on the entry; the value is carried verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// The attribute, spelled as in the setting that produced it.
    pub attribute: String,
    /// The value, exactly as found in the file name or the producer's metadata.
    pub value: String,
}

/// The outcome of matching a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entry must satisfy all criteria (never empty); `by` says where they came from.
    Criteria {
        criteria: Vec<Criterion>,
        by: String,
    },
    /// No usable criteria; a sentence for the operator.
    NoCriteria(String),
}

/// Derives criteria from the producer's attributes or, failing that, from the file name.
pub fn match_photo(config: &Config, file_name: &str, producer: &[Attribute]) -> Outcome {
    let from_producer = producer_criteria(config, producer);
    if !from_producer.is_empty() {
        return Outcome::Criteria {
            criteria: from_producer,
            by: "the producer-supplied attributes".to_owned(),
        };
    }
    let stem = file_stem(file_name);
    let length = stem.chars().count();
    if length > MAX_STEM_CHARS {
        return Outcome::NoCriteria(format!(
            "{} is {length} characters long without its extension; names longer than {MAX_STEM_CHARS} \
             characters are not compared with the patterns",
            quote(file_name)
        ));
    }
    let mut gave_up = Vec::new();
    for pattern in &config.patterns {
        let digits_only = digits_only_slots(config, pattern);
        let rules = Rules {
            separators: &config.separators,
            digits_only: &digits_only,
        };
        match match_pattern(pattern, stem, rules) {
            Match::Found(values) => {
                let criteria = pattern
                    .attributes()
                    .iter()
                    .zip(values)
                    .map(|(attribute, value)| Criterion {
                        attribute: attribute.clone(),
                        value,
                    })
                    .collect();
                return Outcome::Criteria {
                    criteria,
                    by: format!("the pattern {}", pattern.source()),
                };
            }
            Match::NotFound => {}
            Match::GaveUp => gave_up.push(pattern),
        }
    }
    Outcome::NoCriteria(no_match_reason(config, file_name, &gave_up))
}

/// The producer attributes listed in `producer-attributes` that carry exactly one non-empty value
/// (all ASCII digits if the attribute is in `digits-only`), as criteria.
fn producer_criteria(config: &Config, producer: &[Attribute]) -> Vec<Criterion> {
    config
        .producer_attributes
        .iter()
        .filter_map(|name| {
            let mut values = producer
                .iter()
                .filter(|a| a.name.eq_ignore_ascii_case(name))
                .flat_map(|a| &a.values);
            let (Some(value), None) = (values.next(), values.next()) else {
                return None;
            };
            let usable = !value.is_empty()
                && (!config.is_digits_only(name) || value.chars().all(|c| c.is_ascii_digit()));
            usable.then(|| Criterion {
                attribute: name.clone(),
                value: value.clone(),
            })
        })
        .collect()
}

/// Per attribute of `pattern`: whether `digits-only` lists it.
fn digits_only_slots(config: &Config, pattern: &Pattern) -> Vec<bool> {
    pattern
        .attributes()
        .iter()
        .map(|name| config.is_digits_only(name))
        .collect()
}

/// The sentence explaining why no pattern matched `file_name`.
fn no_match_reason(config: &Config, file_name: &str, gave_up: &[&Pattern]) -> String {
    let list = |patterns: &mut dyn Iterator<Item = &Pattern>| {
        patterns
            .map(|pattern| escape(pattern.source()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let noun = if config.patterns.len() == 1 {
        "pattern"
    } else {
        "patterns"
    };
    let mut reason = format!(
        "{} matches none of the {noun} {}",
        quote(file_name),
        list(&mut config.patterns.iter())
    );
    if !gave_up.is_empty() {
        reason.push_str(&format!(
            " (the name can be split in too many ways to try them all for {})",
            list(&mut gave_up.iter().copied())
        ));
    }
    if !config.producer_attributes.is_empty() {
        reason.push_str(&format!(
            ", and the producer supplied none of {} with exactly one usable value",
            config.producer_attributes.join(", ")
        ));
    }
    reason
}

/// The file stems that would match an entry with `entry`'s attributes, one per pattern whose
/// attributes all have a value, in pattern order and without case-insensitive duplicates.
pub fn photo_names(config: &Config, entry: &[Attribute]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for pattern in &config.patterns {
        let digits_only = digits_only_slots(config, pattern);
        let name = pattern.render(|slot| {
            let value = first_value(entry, pattern.attributes().get(slot)?)?;
            let usable =
                digits_only.get(slot) != Some(&true) || value.chars().all(|c| c.is_ascii_digit());
            usable.then(|| value.to_owned())
        });
        if let Some(name) = name
            && seen.insert(fold(&name))
        {
            names.push(name);
        }
    }
    names
}

/// The first non-empty value of the attribute `name` (ignoring ASCII case) in `entry`.
fn first_value<'a>(entry: &'a [Attribute], name: &str) -> Option<&'a str> {
    entry
        .iter()
        .filter(|attribute| attribute.name.eq_ignore_ascii_case(name))
        .flat_map(|attribute| &attribute.values)
        .find(|value| !value.is_empty())
        .map(String::as_str)
}
