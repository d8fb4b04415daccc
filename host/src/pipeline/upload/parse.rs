//! Stage 1, parse: the payload to a checked photo-upload event. Pure: no I/O.

use crate::events::{PhotoRef, PhotoUpload};
use crate::pipeline::frame::Stop;
use crate::text::clip;

/// Parses and checks an event: an id, a plain file name, and a well-formed digest where one is
/// declared.
pub(crate) fn parse(payload: &[u8]) -> Result<PhotoUpload, Stop> {
    let event: PhotoUpload = serde_json::from_slice(payload).map_err(|e| {
        Stop::rejected(format!(
            "the event is not a valid photo-upload event ({e}); see docs/events.md"
        ))
    })?;
    check(&event)?;
    Ok(event)
}

/// Checks a photo-upload event however it arrived.
pub(crate) fn check(event: &PhotoUpload) -> Result<(), Stop> {
    if event.id.trim().is_empty() {
        return Err(Stop::rejected("the event has an empty id"));
    }
    let name = &event.file_name;
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0')
        || name == "."
        || name == ".."
    {
        return Err(Stop::rejected(format!(
            "the file name {:?} is not a plain file name (1-255 bytes, no '/', no NUL)",
            clip(name, 80)
        )));
    }
    if let Some(digest) = &event.photo_digest {
        if !matches!(event.photo, PhotoRef::Object(_)) {
            return Err(Stop::rejected(
                "the event has a photo_digest but an inline photo; photo_digest belongs to photos in the bucket",
            ));
        }
        let hash = digest.strip_prefix("SHA-256=").unwrap_or("");
        if hash.len() != 44
            || !hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        {
            return Err(Stop::rejected(format!(
                "the photo_digest {:?} is not SHA-256= followed by the URL-safe base64 of a SHA-256 hash",
                clip(digest, 80)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::events::Outcome;

    fn event(file_name: &str, extra: &str) -> Vec<u8> {
        let file_name = serde_json::to_string(file_name).expect("a string");
        format!(
            r#"{{"id":"e1","file_name":{file_name},"source":"t","uploaded_at":"2026-11-21T09:00:00Z","photo":{{"inline":"AAAA"}}{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_plain_event_parses() {
        let parsed = parse(&event("12345.jpg", "")).expect("valid");
        assert_eq!(parsed.file_name, "12345.jpg");
    }

    #[test]
    fn hostile_file_names_are_rejected() {
        for name in ["", "..", "a/b.jpg", "x\0.jpg", &"n".repeat(256)] {
            let stop = parse(&event(name, "")).expect_err(name);
            assert_eq!(stop.outcome, Outcome::Rejected);
            assert!(
                stop.reason.contains("not a plain file name"),
                "{}",
                stop.reason
            );
        }
    }

    #[test]
    fn malformed_json_and_digests_are_rejected() {
        let stop = parse(b"{").expect_err("not json");
        assert!(
            stop.reason.contains("not a valid photo-upload event"),
            "{}",
            stop.reason
        );
        let stop = parse(&event("a.jpg", r#","photo_digest":"SHA-256=x""#)).expect_err("inline");
        assert!(stop.reason.contains("inline photo"), "{}", stop.reason);
    }
}

#[cfg(test)]
mod fuzz;
