//! `--since`: a time or an age, as `rollback` and `report` take it.

/// Parses `--since`: an RFC 3339 time (`2026-11-21T09:00:00Z`) or an age (`90m`, `2h`, `7d`).
/// Returns seconds since 1970.
pub fn parse_since(text: &str) -> Result<u64, String> {
    let now = crate::timestamps::unix_now();
    let bad = || {
        format!(
            "{text:?} is neither a time like 2026-11-21T09:00:00Z nor an age like 90m, 2h or 7d"
        )
    };
    if let Some((n, unit)) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        && !n.is_empty()
        && matches!(unit, "s" | "m" | "h" | "d")
    {
        let n: u64 = n.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => n * 86_400,
        };
        return Ok(now.saturating_sub(secs));
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    u64::try_from(t.unix_timestamp()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_and_ages() {
        assert_eq!(parse_since("2026-11-21T00:00:00Z"), Ok(1_795_219_200));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let two_hours = parse_since("2h").expect("an age");
        assert!((now - 7200).abs_diff(two_hours) <= 2);
        assert!(
            parse_since("yesterday")
                .expect_err("not a time")
                .contains("neither")
        );
        assert!(parse_since("5w").is_err());
    }
}
