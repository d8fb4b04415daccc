//! Fuzz targets for the two event parsers (photo-upload here, directory-change in
//! `pipeline/directory_change.rs`): any bytes, and mutations of the seeds in
//! `tests/fuzz/corpus/upload-event/` and `directory-change/`, give a checked event or a
//! rejection with a reason, never a panic. An accepted event survives a round trip through its
//! JSON form unchanged. Longer run: `PROPTEST_CASES=20000 cargo test --release -p photosync fuzz_`.

use crate::fuzz_seeds as seeds;

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{check, parse};
use crate::events::{ChangeKind, DirectoryChange, Outcome, PhotoRef, PhotoUpload};
use crate::pipeline::directory_change;
use crate::pipeline::frame::Stop;

/// Cases per target in CI; each is a few microseconds.
const CI_CASES: u32 = 2000;

/// JSON tokens, field names and values the checks look at.
const JSON: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\ud83d\\ude00",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\"inline\"",
    b"\"object\"",
    b"\"photo_digest\":\"SHA-256=",
    b"\"attributes\":{}",
    b"\"change\":\"delete\"",
    b"\"rename\"",
    b"\"resync\"",
    b"\"dn\":\"\"",
    b"..",
    b"/",
    b"\xc3\xa9",
    b"\xe2\x80\xae",
    b"\xf0\x9f\x98\x80",
];

/// A rejection carries the rejected outcome and a sentence.
fn assert_rejection(stop: &Stop) {
    assert_eq!(stop.outcome, Outcome::Rejected, "{}", stop.reason);
    assert!(!stop.reason.trim().is_empty());
}

/// An accepted upload passes the checks and parses back to itself from its JSON.
fn assert_upload_outcome(payload: &[u8]) {
    match parse(payload) {
        Ok(event) => {
            assert!(check(&event).is_ok());
            let again = serde_json::to_vec(&event).expect("an event serialises");
            assert_eq!(parse(&again).ok().as_ref(), Some(&event));
        }
        Err(stop) => assert_rejection(&stop),
    }
}

/// An accepted directory change has its ids (and a dn unless deleted) and parses back to itself.
fn assert_change_outcome(payload: &[u8]) {
    match directory_change::parse(payload) {
        Ok(change) => {
            assert!(!change.id.trim().is_empty() && !change.entry_id.trim().is_empty());
            assert!(change.change == ChangeKind::Delete || !change.dn.trim().is_empty());
            let again = serde_json::to_vec(&change).expect("a change serialises");
            assert_eq!(directory_change::parse(&again).ok().as_ref(), Some(&change));
        }
        Err(stop) => assert_rejection(&stop),
    }
}

/// Text for event fields: mostly short, any Unicode, with the characters the checks care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[a-z0-9 ./\\x00_-]{0,12}",
        1 => Just("..".to_owned()),
        1 => "n{250,260}",
        1 => "SHA-256=[A-Za-z0-9_=-]{43,45}",
    ]
}

prop_compose! {
    fn upload()(
        id in text(),
        file_name in text(),
        source in text(),
        attributes in proptest::collection::btree_map(text(), text(), 0..3),
        inline in any::<bool>(),
        photo in text(),
        photo_digest in proptest::option::of(text()),
    ) -> PhotoUpload {
        let photo = if inline { PhotoRef::Inline(photo) } else { PhotoRef::Object(photo) };
        PhotoUpload {
            id,
            file_name,
            source,
            content_type: String::new(),
            uploaded_at: "2026-11-21T09:00:00Z".to_owned(),
            attributes: attributes.into_iter().collect::<BTreeMap<_, _>>(),
            photo,
            photo_digest,
        }
    }
}

/// The rules `check` applies, written out independently as the oracle.
fn plain(event: &PhotoUpload) -> bool {
    let name = &event.file_name;
    let name_ok = !name.is_empty()
        && name.len() <= 255
        && !name.contains(['/', '\0'])
        && name != "."
        && name != "..";
    let digest_ok = event.photo_digest.as_ref().is_none_or(|d| {
        let hash = d.strip_prefix("SHA-256=").unwrap_or("");
        matches!(event.photo, PhotoRef::Object(_))
            && hash.len() == 44
            && hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
    });
    !event.id.trim().is_empty() && name_ok && digest_ok
}

proptest! {
    #![proptest_config(seeds::config(CI_CASES))]

    #[test]
    fn fuzz_upload_event_any_bytes(payload in seeds::bytes(512)) {
        assert_upload_outcome(&payload);
    }

    #[test]
    fn fuzz_upload_event_mutated(payload in seeds::mutated(seeds::corpus("upload-event"), JSON)) {
        assert_upload_outcome(&payload);
    }

    #[test]
    fn fuzz_upload_event_fields(event in upload()) {
        let payload = serde_json::to_vec(&event).expect("an event serialises");
        match parse(&payload) {
            Ok(parsed) => {
                prop_assert!(plain(&event), "accepted {event:?}");
                prop_assert_eq!(parsed, event);
            }
            Err(stop) => {
                assert_rejection(&stop);
                prop_assert!(!plain(&event), "rejected {event:?}: {}", stop.reason);
            }
        }
    }

    #[test]
    fn fuzz_directory_change_any_bytes(payload in seeds::bytes(512)) {
        assert_change_outcome(&payload);
    }

    #[test]
    fn fuzz_directory_change_mutated(
        payload in seeds::mutated(seeds::corpus("directory-change"), JSON)
    ) {
        assert_change_outcome(&payload);
    }

    #[test]
    fn fuzz_directory_change_fields(
        id in text(),
        entry_id in text(),
        dn in text(),
        kind in prop::sample::select(&[
            ChangeKind::Add, ChangeKind::Modify, ChangeKind::Delete,
            ChangeKind::Rename, ChangeKind::Resync,
        ][..]),
        attributes in proptest::collection::vec(text(), 0..3),
    ) {
        let change = DirectoryChange {
            id, entry_id, dn, change: kind, previous_dn: None, attributes,
            seen_at: "2026-11-21T09:00:00Z".to_owned(), source: "fuzz".to_owned(),
        };
        let wanted = !change.id.trim().is_empty()
            && !change.entry_id.trim().is_empty()
            && (kind == ChangeKind::Delete || !change.dn.trim().is_empty());
        let payload = serde_json::to_vec(&change).expect("a change serialises");
        let parsed = directory_change::parse(&payload);
        prop_assert_eq!(parsed.is_ok(), wanted, "{:?}", change);
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed, change);
        }
    }
}
