//! The plugin's settings, parsed and validated from the host's key/value pairs on every call.
//!
//! Validation is pure: it looks at the settings only, never at a photo or an entry.

use std::fmt;

use crate::pattern::{Pattern, is_attribute_name};
use crate::text::{escape, quote};

/// The setting keys this plugin understands.
const KEYS: [&str; 4] = [
    "patterns",
    "separators",
    "producer-attributes",
    "digits-only",
];

/// Separators used when the `separators` setting is absent.
pub const DEFAULT_SEPARATORS: &str = "_-. ";

/// A setting is missing, unknown or unusable; the message names the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError(pub String);

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `patterns`: tried in order, the first that matches wins.
    pub patterns: Vec<Pattern>,
    /// `separators`: characters that match one another inside literal text.
    pub separators: Vec<char>,
    /// `producer-attributes`: producer-supplied attributes used as criteria before any pattern.
    pub producer_attributes: Vec<String>,
    /// `digits-only`: attributes whose value must consist of ASCII digits only.
    pub digits_only: Vec<String>,
}

impl Config {
    /// Parses the settings; every key must be known and appear at most once.
    pub fn parse<'a>(
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, SettingError> {
        let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        for (key, value) in settings {
            let Some(index) = KEYS.iter().position(|known| *known == key) else {
                return Err(SettingError(format!(
                    "the setting {} is unknown; this plugin understands {}",
                    quote(key),
                    KEYS.join(", ")
                )));
            };
            if let Some(slot) = values.get_mut(index)
                && slot.replace(value).is_some()
            {
                return Err(SettingError(format!(
                    "the setting \"{key}\" is given more than once"
                )));
            }
        }
        let [patterns, separators, producer, digits] = values;
        let patterns = patterns.ok_or_else(|| {
            SettingError("the setting \"patterns\" is required, e.g. \"{employeeID}\"".to_owned())
        })?;
        Ok(Config {
            patterns: parse_patterns(patterns)?,
            separators: separators.unwrap_or(DEFAULT_SEPARATORS).chars().collect(),
            producer_attributes: parse_names("producer-attributes", producer.unwrap_or(""))?,
            digits_only: parse_names("digits-only", digits.unwrap_or(""))?,
        })
    }

    /// Whether `attribute` is listed in `digits-only` (names compared ignoring case).
    pub fn is_digits_only(&self, attribute: &str) -> bool {
        self.digits_only
            .iter()
            .any(|name| name.eq_ignore_ascii_case(attribute))
    }
}

/// Splits `patterns` on `;` and line breaks; blank lines are skipped, other empty items rejected.
fn parse_patterns(value: &str) -> Result<Vec<Pattern>, SettingError> {
    let mut patterns = Vec::new();
    for line in value.lines().filter(|line| !line.trim().is_empty()) {
        for item in line.split(';').map(str::trim) {
            if item.is_empty() {
                return Err(SettingError(format!(
                    "the setting \"patterns\" has an empty pattern in the line {}; remove the extra ;",
                    quote(line.trim())
                )));
            }
            let pattern = Pattern::parse(item)
                .map_err(|why| SettingError(format!("the setting \"patterns\": {why}")))?;
            patterns.push(pattern);
        }
    }
    if patterns.is_empty() {
        return Err(SettingError(
            "the setting \"patterns\" is empty; give at least one pattern".to_owned(),
        ));
    }
    Ok(patterns)
}

/// Parses a comma-separated list of attribute names; an empty value is an empty list.
fn parse_names(key: &str, value: &str) -> Result<Vec<String>, SettingError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(str::trim)
        .map(|name| {
            if is_attribute_name(name) {
                Ok(name.to_owned())
            } else {
                Err(SettingError(format!(
                    "the setting \"{key}\" lists \"{}\", which is not an LDAP attribute name; give \
                     attribute names separated by commas, e.g. \"employeeID, mail\"",
                    escape(name)
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(settings: &[(&str, &str)]) -> Result<Config, SettingError> {
        Config::parse(settings.iter().copied())
    }

    fn error(settings: &[(&str, &str)]) -> String {
        match parse(settings) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(SettingError(message)) => message,
        }
    }

    #[test]
    fn applies_defaults() {
        let config = parse(&[("patterns", "{employeeID}")]).unwrap();
        assert_eq!(config.patterns.len(), 1);
        assert_eq!(config.separators, ['_', '-', '.', ' ']);
        assert!(config.producer_attributes.is_empty());
        assert!(config.digits_only.is_empty());
    }

    #[test]
    fn splits_patterns_on_semicolons_and_lines() {
        let config = parse(&[(
            "patterns",
            "\n  {employeeID} ; {givenName}_{sn}\r\n\n{mail}\n",
        )])
        .unwrap();
        let sources: Vec<&str> = config.patterns.iter().map(Pattern::source).collect();
        assert_eq!(sources, ["{employeeID}", "{givenName}_{sn}", "{mail}"]);
    }

    #[test]
    fn parses_lists_and_separators() {
        let config = parse(&[
            ("patterns", "{employeeID}"),
            ("separators", "_+"),
            ("producer-attributes", "employeeID, mail"),
            ("digits-only", "employeeID"),
        ])
        .unwrap();
        assert_eq!(config.separators, ['_', '+']);
        assert_eq!(config.producer_attributes, ["employeeID", "mail"]);
        assert!(config.is_digits_only("EMPLOYEEID"));
        assert!(!config.is_digits_only("mail"));
    }

    #[test]
    fn errors_name_the_key_and_the_bad_value() {
        assert!(error(&[]).contains("\"patterns\" is required"));
        assert!(error(&[("patterns", "{a}"), ("pattern", "x")]).contains("\"pattern\" is unknown"));
        assert!(error(&[("patterns", "{a}"), ("patterns", "{b}")]).contains("more than once"));
        assert!(error(&[("patterns", " \n ")]).contains("\"patterns\" is empty"));
        assert!(error(&[("patterns", "{a};;{b}")]).contains("empty pattern"));
        let message = error(&[("patterns", "{a};{given name}_{sn}")]);
        assert!(
            message.contains("\"patterns\"") && message.contains("\"{given name}_{sn}\""),
            "{message}"
        );
        assert!(error(&[("patterns", "{a}{b}")]).contains("no text between them"));
        assert!(
            error(&[("patterns", "{a}"), ("digits-only", "employee id")])
                .contains("\"digits-only\"")
        );
        assert!(
            error(&[("patterns", "{a}"), ("producer-attributes", "a,,b")])
                .contains("\"producer-attributes\"")
        );
    }
}
