//! Showing untrusted text (file names, patterns) inside messages for an operator.
//!
//! File names may contain anything: control characters, NUL, bidirectional overrides. Messages
//! show them escaped and shortened so a log line stays one readable line.

/// How many characters of a file name or value a message shows before cutting it short.
const SHOWN_CHARS: usize = 120;

/// `text` with control and other invisible characters escaped (NUL as `\0`, newline as `\n`,
/// others as `\u{…}`), cut after [`SHOWN_CHARS`] characters with a trailing `…`.
pub fn escape(text: &str) -> String {
    let mut shown = String::new();
    for (index, c) in text.chars().enumerate() {
        if index == SHOWN_CHARS {
            shown.push('…');
            break;
        }
        shown.extend(c.escape_debug());
    }
    shown
}

/// [`escape`] in double quotes.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// Lower-cases `text` character by character, for case-insensitive comparisons.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_and_invisible_characters() {
        assert_eq!(quote("a\0b\n\u{7}"), r#""a\0b\n\u{7}""#);
        assert_eq!(escape("evil\u{202e}gpj.exe"), r"evil\u{202e}gpj.exe");
        assert_eq!(escape(r#"q"uote\"#), r#"q\"uote\\"#);
    }

    #[test]
    fn keeps_printable_unicode() {
        assert_eq!(escape("Zoë_Ünal 李雷"), "Zoë_Ünal 李雷");
    }

    #[test]
    fn shortens_long_text() {
        let shown = escape(&"x".repeat(500));
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn folds_case_per_character() {
        assert_eq!(fold("ÜNAL-Zoë"), "ünal-zoë");
    }
}
