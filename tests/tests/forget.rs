//! `photosync forget` against real nats-server and slapd: one person's events, results, photos,
//! name index, sync state and backups are erased and listed (photo-changed events and dead
//! letters too, had there been any), and
//! a scan of every stream and bucket photosync owns then finds nothing of them (DN, entry id,
//! file name, photo bytes, inline or in chunks); someone else's data stays.

use base64::Engine as _;
use photosync::events::Outcome;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{CHANGES_STREAM, DEAD_STREAM, EVENTS_STREAM, RESULTS_STREAM};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack, photosync_binary};

/// Every stream photosync owns, buckets included.
const STREAMS: [&str; 7] = [
    EVENTS_STREAM,
    RESULTS_STREAM,
    CHANGES_STREAM,
    DEAD_STREAM,
    "KV_photosync-state",
    "OBJ_photosync-photos",
    "OBJ_photosync-backups",
];

/// Each message of every stream as one text: its subject, headers and payload (bytes kept as
/// they are, so that a photo's bytes are found too).
fn everything(stack: &Stack) -> Vec<(String, Vec<u8>)> {
    let mut all = vec![];
    for stream in STREAMS {
        let Ok(messages) = stack.rt.block_on(stack.bus.stored(stream)) else {
            continue;
        };
        for m in messages {
            let mut text = format!("{} {:?} ", m.subject, m.headers).into_bytes();
            text.extend_from_slice(&m.payload);
            all.push((format!("{stream} #{}", m.sequence), text));
        }
    }
    all
}

fn mentions(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What would betray `person`: DN, entry id, file name, and pieces of their photos (raw, as in
/// object chunks, and base64, as inline in events), each with base64 forms (object names).
fn needles(dn: &str, id: &str, file: &str, photos: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let b64 = |s: &[u8]| base64::engine::general_purpose::URL_SAFE.encode(s);
    let aligned = |s: &str| {
        let e = b64(s.as_bytes());
        e[..(s.len() / 3) * 4].to_owned()
    };
    let mut out: Vec<Vec<u8>> = vec![
        dn.into(),
        id.into(),
        file.into(),
        aligned(id).into(),
        aligned(file).into(),
    ];
    for photo in photos {
        let middle = photo.len() / 2;
        out.push(photo[middle..middle + 48].to_vec());
        let inline = base64::engine::general_purpose::STANDARD.encode(photo);
        let m = inline.len() / 2;
        out.push(inline.as_bytes()[m..m + 64].to_vec());
    }
    out
}

#[test]
fn forget_erases_everything_about_one_person_and_lists_it() {
    let mut stack = Stack::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    let bob = Person::new("bob", "Bob", "Other", Some("67890"));
    stack.ldap.add_people(&[ada.clone(), bob.clone()]);
    let first = jpeg(&photo_like(320, 240, 1), JpegOptions::default());
    let second = jpeg(&photo_like(320, 240, 2), JpegOptions::default());
    // Two photos for Ada (the second write keeps a backup of the first), one for Bob.
    for photo in [&first, &second] {
        let id = stack.publish("12345.jpg", photo, &[]);
        assert_eq!(stack.result(&id).outcome, Outcome::Written);
    }
    let bob_event = stack.publish(
        "67890.jpg",
        &jpeg(&photo_like(320, 240, 3), JpegOptions::default()),
        &[],
    );
    assert_eq!(stack.result(&bob_event).outcome, Outcome::Written);
    let ada_id = String::from_utf8(stack.ldap.read(&ada.dn(), "entryUUID").values[0].clone())
        .expect("entryUUID");
    let betray = needles(
        &ada.dn(),
        &ada_id,
        "12345.jpg",
        &[first.clone(), second.clone()],
    );
    let found = |all: &[(String, Vec<u8>)]| -> Vec<String> {
        all.iter()
            .filter(|(_, text)| betray.iter().any(|n| mentions(text, n)))
            .map(|(at, _)| at.clone())
            .collect()
    };
    assert!(
        !found(&everything(&stack)).is_empty(),
        "Ada is in the streams before"
    );
    stack.stop_service();

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("photosync.toml");
    std::fs::write(&config, stack.config_text(Account::Service, "")).expect("config");
    let out = std::process::Command::new(photosync_binary())
        .args(["forget", "--entry", &ada.dn(), "--config"])
        .arg(&config)
        .output()
        .expect("photosync forget runs");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{listed}");
    for what in [
        "PHOTOSYNC_EVENTS #",
        "photo-upload event",
        "PHOTOSYNC_RESULTS #",
        "photosync-photos: photo 12345.jpg",
        "photosync-state: name index of 12345.jpg",
        &format!("photosync-state: sync state of {ada_id}"),
        &format!("photosync-backups: backup of {}", ada.dn()),
    ] {
        assert!(listed.contains(what), "the listing has {what:?}:\n{listed}");
    }

    let after = everything(&stack);
    let left: Vec<String> = after
        .iter()
        .filter(|(_, text)| betray.iter().any(|n| mentions(text, n)))
        .map(|(at, text)| {
            format!(
                "{at}: {}",
                String::from_utf8_lossy(&text[..text.len().min(300)])
            )
        })
        .collect();
    assert!(
        left.is_empty(),
        "nothing of Ada is left:\n{}",
        left.join("\n")
    );
    // Bob's data stays.
    let bob_id = String::from_utf8(stack.ldap.read(&bob.dn(), "entryUUID").values[0].clone())
        .expect("entryUUID");
    let bob_left = after
        .iter()
        .filter(|(_, text)| {
            mentions(text, bob.dn().as_bytes()) || mentions(text, bob_id.as_bytes())
        })
        .count();
    assert!(bob_left >= 2, "Bob's result and state stay: {bob_left}");
    assert!(
        stack
            .rt
            .block_on(photosync::state::load(&stack.bus, &bob_id))
            .expect("state")
            .is_some()
    );
}
