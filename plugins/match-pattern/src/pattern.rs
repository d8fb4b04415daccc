//! One file-name pattern: literal text and `{attribute}` placeholders, parsed and validated.
//!
//! This module knows the pattern syntax only; how a pattern is compared with a file name lives in
//! `matching`.

use crate::text::quote;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text that must appear in the file name (compared case-insensitively, separators alike).
    Literal(Vec<char>),
    /// A placeholder; the number indexes [`Pattern::attributes`], so that two placeholders for the
    /// same attribute share one slot and must capture the same text.
    Placeholder(usize),
}

/// A validated pattern such as `{givenName}_{sn}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as the administrator wrote it (trimmed), for messages and reasons.
    source: String,
    /// Literals and placeholders in order; two placeholders are never adjacent.
    segments: Vec<Segment>,
    /// The distinct attributes, spelled as at their first placeholder (compared ignoring case).
    attributes: Vec<String>,
}

impl Pattern {
    /// Parses and validates one pattern; the error is a sentence about `text` (without the key).
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut pattern = Pattern {
            source: text.to_owned(),
            segments: Vec::new(),
            attributes: Vec::new(),
        };
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let name = placeholder_name(&mut chars, text)?;
                    pattern.push_placeholder(std::mem::take(&mut literal), &name)?;
                }
                '}' => {
                    return Err(format!(
                        "the pattern {} has a }} without a matching {{",
                        quote(text)
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pattern.segments.push(Segment::Literal(literal));
        }
        if pattern.attributes.is_empty() {
            return Err(format!(
                "the pattern {} has no {{attribute}} placeholder, so it can never identify an entry",
                quote(text)
            ));
        }
        Ok(pattern)
    }

    /// Appends the literal collected so far (if any) and a placeholder for `name`.
    fn push_placeholder(&mut self, literal: Vec<char>, name: &str) -> Result<(), String> {
        if literal.is_empty() {
            if let Some(Segment::Placeholder(previous)) = self.segments.last() {
                let previous = self.attributes.get(*previous).map_or("", String::as_str);
                return Err(format!(
                    "the pattern {} has the placeholders {{{previous}}} and {{{name}}} with no text \
                     between them, so where one value ends and the next begins is undecidable",
                    quote(&self.source)
                ));
            }
        } else {
            self.segments.push(Segment::Literal(literal));
        }
        let slot = match self
            .attributes
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot,
            None => {
                self.attributes.push(name.to_owned());
                self.attributes.len() - 1
            }
        };
        self.segments.push(Segment::Placeholder(slot));
        Ok(())
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Literals and placeholders in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The distinct attribute names, in order of first appearance.
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    /// The file stem this pattern gives when each attribute has the value `value_of` returns
    /// (indexed like [`Pattern::attributes`]); `None` when one of them has no value.
    pub fn render(&self, value_of: impl Fn(usize) -> Option<String>) -> Option<String> {
        let values: Option<Vec<String>> = (0..self.attributes.len()).map(value_of).collect();
        let values = values?;
        let mut name = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => name.extend(text.iter()),
                Segment::Placeholder(slot) => name.push_str(values.get(*slot)?),
            }
        }
        Some(name)
    }
}

/// Reads a placeholder's name after its `{` up to and including the closing `}`, and validates it.
fn placeholder_name(chars: &mut std::str::Chars<'_>, pattern: &str) -> Result<String, String> {
    let mut name = String::new();
    loop {
        match chars.next() {
            Some('}') => break,
            Some('{') => {
                return Err(format!(
                    "the pattern {} has a {{ inside a placeholder",
                    quote(pattern)
                ));
            }
            Some(c) => name.push(c),
            None => {
                return Err(format!(
                    "the pattern {} has a {{ without a matching }}",
                    quote(pattern)
                ));
            }
        }
    }
    if is_attribute_name(&name) {
        Ok(name)
    } else {
        Err(format!(
            "the pattern {} has the placeholder {{{}}}, which is not an LDAP attribute name (a letter \
             followed by letters, digits and hyphens, or a numeric OID such as 2.5.4.3)",
            quote(pattern),
            crate::text::escape(&name)
        ))
    }
}

/// Whether `name` is an LDAP attribute description without options (RFC 4512 `descr` or
/// `numericoid`): a letter followed by letters, digits and hyphens, or dotted decimal numbers.
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        }
        Some(first) if first.is_ascii_digit() => is_numeric_oid(name),
        _ => false,
    }
}

/// Whether `name` is a numeric OID: at least two dot-separated numbers without leading zeros.
fn is_numeric_oid(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (*part == "0" || !part.starts_with('0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(text: &str) -> Segment {
        Segment::Literal(text.chars().collect())
    }

    #[test]
    fn parses_literals_and_placeholders() {
        let pattern = Pattern::parse("photo-{givenName}_{sn}.x").unwrap();
        assert_eq!(pattern.attributes(), ["givenName", "sn"]);
        assert_eq!(
            pattern.segments(),
            [
                literal("photo-"),
                Segment::Placeholder(0),
                literal("_"),
                Segment::Placeholder(1),
                literal(".x")
            ]
        );
    }

    #[test]
    fn repeated_attributes_share_a_slot_ignoring_case() {
        let pattern = Pattern::parse("{sn}-{SN}").unwrap();
        assert_eq!(pattern.attributes(), ["sn"]);
        assert_eq!(
            pattern.segments(),
            [
                Segment::Placeholder(0),
                literal("-"),
                Segment::Placeholder(0)
            ]
        );
    }

    #[test]
    fn rejects_malformed_patterns() {
        for bad in [
            "{a}{b}",
            "{a",
            "a}",
            "{a{b}}",
            "{}",
            "{1a}",
            "{given name}",
            "{a_b}",
            "{01.2}",
            "{1}",
            "abc",
            "",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn recognises_attribute_names() {
        for good in ["cn", "employeeID", "x-custom-1", "2.5.4.3", "0.9.2342"] {
            assert!(is_attribute_name(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a.b",
            "1.",
            ".1",
            "1..2",
            "2.05",
            "é",
            "cn;binary",
        ] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn renders_values_into_the_literal_text_as_written() {
        let pattern = Pattern::parse("ID-{employeeID}_{sn}").unwrap();
        let values = ["42".to_owned(), "Smith".to_owned()];
        assert_eq!(
            pattern.render(|slot| values.get(slot).cloned()).as_deref(),
            Some("ID-42_Smith")
        );
        assert_eq!(
            pattern.render(|slot| (slot == 0).then(|| "42".to_owned())),
            None
        );
    }
}
