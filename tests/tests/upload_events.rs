//! Photo-upload events end to end against a real nats-server and slapd: the right entry gets a
//! correct photo, and every event gets a result with a reason an operator can act on.

use base64::Engine as _;
use photosync::config::Config;
use photosync::events::Outcome;
use photosync::plugins::jpeg::inspect;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};

fn camera_photo(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(2448, 1632, seed), JpegOptions::default())
}

fn people(stack: &Stack) -> (Person, Person) {
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    let alan = Person::new("alan", "Alan", "Turing", Some("23456"));
    stack.ldap.add_people(&[ada.clone(), alan.clone()]);
    (ada, alan)
}

#[test]
fn a_4_megapixel_photo_is_written_as_a_small_baseline_thumbnail() {
    let mut stack = Stack::start();
    let (ada, _) = people(&stack);
    let id = stack.publish("12345.jpg", &camera_photo(1), &[]);
    let result = stack.result(&id);
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    assert_eq!(result.entry_dn.as_deref(), Some(ada.dn().as_str()));
    assert!(
        result.entry_id.as_deref().is_some_and(|id| id.len() == 36),
        "entryUUID: {:?}",
        result.entry_id
    );
    let stored = stack.ldap.read(&ada.dn(), "thumbnailPhoto");
    assert_eq!(stored.values.len(), 1);
    let info = inspect(&stored.values[0]).expect("a JPEG");
    assert_eq!((info.width, info.height), (96, 96));
    assert!(info.baseline && !info.has_metadata());
    assert!(
        stored.values[0].len() <= 10_240,
        "{} bytes",
        stored.values[0].len()
    );
}

#[test]
fn a_photo_above_the_nats_payload_limit_travels_through_the_object_store() {
    let mut stack = Stack::start();
    let (_, alan) = people(&stack);
    let big = jpeg(
        &photo_like(5200, 3900, 9),
        JpegOptions {
            quality: 97,
            ..JpegOptions::default()
        },
    );
    assert!(big.len() >= 6_000_000, "the photo is {} bytes", big.len());
    let id = stack.publish("23456.jpg", &big, &[]);
    let result = stack.result(&id);
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    let stored = stack.ldap.read(&alan.dn(), "thumbnailPhoto");
    assert_eq!(
        inspect(&stored.values[0]).map(|i| (i.width, i.height)),
        Ok((96, 96))
    );
}

#[test]
fn the_same_photo_again_is_unchanged_and_nothing_is_modified() {
    let mut stack = Stack::start();
    let (ada, _) = people(&stack);
    let photo = camera_photo(2);
    let first = stack.publish("12345.jpg", &photo, &[]);
    let written = stack.result(&first);
    assert_eq!(written.outcome, Outcome::Written);
    let entry_id = written.entry_id.expect("entry id");
    let before = stack.ldap.read(&ada.dn(), "thumbnailPhoto");
    let stored = stored_object(&stack, "12345.jpg");
    let state = state_revision(&stack, &entry_id);
    let again = stack.publish("12345.jpg", &photo, &[]);
    let result = stack.result(&again);
    assert_eq!(result.outcome, Outcome::Unchanged, "{result:?}");
    assert_eq!(
        stored_object(&stack, "12345.jpg"),
        stored,
        "the same bytes are not stored in the bucket again"
    );
    assert_eq!(
        state_revision(&stack, &entry_id),
        state,
        "the sync state is not rewritten"
    );
    let after = stack.ldap.read(&ada.dn(), "thumbnailPhoto");
    assert_eq!(before, after, "modifyTimestamp and entryCSN did not move");
    let other = stack.publish("12345.jpg", &camera_photo(3), &[]);
    assert_eq!(stack.result(&other).outcome, Outcome::Written);
    assert_ne!(
        stack.ldap.read(&ada.dn(), "thumbnailPhoto").values,
        before.values
    );
}

#[test]
fn an_inline_photo_sent_again_is_transformed_from_its_text_where_the_directory_lost_our_output() {
    let mut stack = Stack::start();
    let config = stack.config_text(Account::Service, "")
        + "\n[plugins.deduper]\nsource = \"builtin:dedup-md5\"\n\n[plugins.deduper.settings]\npolicy = \"converge\"\n";
    stack.start_service_with(Config::parse(&config).expect("valid"));
    let (ada, _) = people(&stack);
    // Small enough to travel inline; remembered by the hash of its text once written.
    let photo = jpeg(&photo_like(640, 480, 11), JpegOptions::default());
    let first = stack.publish("12345.jpg", &photo, &[]);
    assert_eq!(stack.result(&first).outcome, Outcome::Written);
    let ours = stack.ldap.read(&ada.dn(), "thumbnailPhoto").values;
    let theirs = jpeg(&photo_like(96, 96, 12), JpegOptions::default());
    stack.ldap.modify_ldif(&format!(
        "dn: {}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
        ada.dn(),
        base64::engine::general_purpose::STANDARD.encode(&theirs)
    ));
    // The same text again: known, so not decoded to be hashed, but decoded to be transformed
    // because the directory no longer holds what was written.
    let again = stack.publish("12345.jpg", &photo, &[]);
    let result = stack.result(&again);
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    assert_eq!(
        stack.ldap.read(&ada.dn(), "thumbnailPhoto").values,
        ours,
        "the directory holds the same output as the first time"
    );
}

/// The bucket's id and content digest of the object stored under `name`.
fn stored_object(stack: &Stack, name: &str) -> (String, Option<String>) {
    stack.rt.block_on(async {
        let bucket = stack
            .bus
            .js
            .get_object_store("photosync-photos")
            .await
            .expect("photo bucket");
        let info = bucket.info(name).await.expect("object info");
        (info.nuid, info.digest)
    })
}

/// The KV revision of an entry's sync state.
fn state_revision(stack: &Stack, entry_id: &str) -> u64 {
    stack.rt.block_on(async {
        stack
            .bus
            .state()
            .entry(photosync::state::key(entry_id))
            .await
            .expect("state read")
            .expect("state saved")
            .revision
    })
}

#[test]
fn no_match_ambiguous_and_rejected_results_carry_reasons() {
    let mut stack = Stack::start();
    let john1 = Person::new("jsmith1", "John", "Smith", Some("500"));
    let john2 = Person::new("jsmith2", "John", "Smith", Some("501"));
    stack.ldap.add_people(&[john1.clone(), john2.clone()]);
    let nobody = stack.publish("99999.jpg", &camera_photo(4), &[]);
    let r = stack.result(&nobody);
    assert_eq!(r.outcome, Outcome::NoMatch);
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("no entry has employeeID=99999 under ou=People"),
        "{reason}"
    );

    let two = stack.publish("john_smith.jpg", &camera_photo(5), &[]);
    let r = stack.result(&two);
    assert_eq!(r.outcome, Outcome::Ambiguous);
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("2 entries match givenName=john, sn=smith"),
        "{reason}"
    );
    assert!(
        reason.contains(&john1.dn()) && reason.contains(&john2.dn()),
        "{reason}"
    );
    for p in [&john1, &john2] {
        assert!(
            stack.ldap.read(&p.dn(), "thumbnailPhoto").values.is_empty(),
            "neither entry touched"
        );
    }

    let corrupt = camera_photo(6);
    let broken = stack.publish("500.jpg", &corrupt[..corrupt.len() / 3], &[]);
    let r = stack.result(&broken);
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.reason.unwrap_or_default().contains("damaged"));
    assert!(
        stack
            .ldap
            .read(&john1.dn(), "thumbnailPhoto")
            .values
            .is_empty()
    );
}

#[test]
fn filter_metacharacters_in_file_names_match_nothing() {
    let mut stack = Stack::start();
    let (ada, alan) = people(&stack);
    for name in ["*.jpg", "x)(employeeID=*.jpg"] {
        let id = stack.publish(name, &camera_photo(7), &[]);
        let r = stack.result(&id);
        assert_eq!(r.outcome, Outcome::NoMatch, "{name}: {r:?}");
    }
    for p in [&ada, &alan] {
        assert!(
            stack.ldap.read(&p.dn(), "thumbnailPhoto").values.is_empty(),
            "nothing written"
        );
    }
}

#[test]
fn a_missing_right_fails_with_its_name_and_the_event_is_written_once_granted() {
    let mut stack = Stack::start_with(Account::Reader);
    let (ada, _) = people(&stack);
    let id = stack.publish("12345.jpg", &camera_photo(8), &[]);
    let r = stack.result(&id);
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("insufficientAccessRights")
            && reason.contains("grant it Write thumbnailPhoto"),
        "{reason}"
    );
    // The right is granted: photosync now binds as the account allowed to write photos.
    stack.start_service(Account::Service);
    let r = stack.result_where(&id, |r| r.outcome != Outcome::Failed);
    assert_eq!(r.outcome, Outcome::Written, "{r:?}");
    assert!(r.delivery >= 2, "written on a redelivery");
    assert_eq!(stack.ldap.read(&ada.dn(), "thumbnailPhoto").values.len(), 1);
}

#[test]
fn malformed_events_are_rejected_and_the_next_event_is_processed() {
    let mut stack = Stack::start();
    let (ada, _) = people(&stack);
    stack.publish_raw(b"this is not json");
    stack.publish_raw(br#"{"id":"no-photo","file_name":"12345.jpg","source":"t","uploaded_at":"2026-11-21T00:00:00Z"}"#);
    stack.publish_event(&Stack::event_for_object(
        "missing-object",
        "12345.jpg",
        "nothing-here.jpg",
    ));
    let r = stack.result("unknown");
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(
        r.reason
            .unwrap_or_default()
            .contains("not a valid photo-upload event")
    );
    let r = stack.result("no-photo");
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(
        r.reason
            .unwrap_or_default()
            .contains("missing field `photo`")
    );
    let r = stack.result("missing-object");
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.reason.unwrap_or_default().contains("nothing-here.jpg"));
    let good = stack.publish("12345.jpg", &camera_photo(9), &[]);
    assert_eq!(stack.result(&good).outcome, Outcome::Written);
    assert_eq!(stack.ldap.read(&ada.dn(), "thumbnailPhoto").values.len(), 1);
}

#[test]
fn an_event_whose_declared_digest_is_not_the_stored_photo_writes_nothing() {
    let mut stack = Stack::start();
    let (ada, _) = people(&stack);
    let first = camera_photo(4);
    let written = stack.publish("12345.jpg", &first, &[]);
    assert_eq!(stack.result(&written).outcome, Outcome::Written);
    let before = stack.ldap.read(&ada.dn(), "thumbnailPhoto");
    // An event about other bytes than the bucket holds under that name: a stale event.
    let mut stale = Stack::event_for_object("stale", "12345.jpg", "12345.jpg");
    stale.photo_digest = Some(photosync::bus::content_digest(&camera_photo(5)));
    stack.publish_event(&stale);
    let r = stack.result("stale");
    assert_eq!(r.outcome, Outcome::Rejected, "{r:?}");
    assert!(
        r.reason.unwrap_or_default().contains("no longer the one"),
        "the reason says the photo was replaced"
    );
    let mut garbled = Stack::event_for_object("garbled", "12345.jpg", "12345.jpg");
    garbled.photo_digest = Some("md5=abc".into());
    stack.publish_event(&garbled);
    let r = stack.result("garbled");
    assert_eq!(r.outcome, Outcome::Rejected, "{r:?}");
    assert!(r.reason.unwrap_or_default().contains("photo_digest"));
    assert_eq!(stack.ldap.read(&ada.dn(), "thumbnailPhoto"), before);
}
