//! Retention with real nats-server and slapd: processed events leave the events stream once
//! the configured `[retention] events` has passed; streams and buckets that exist with
//! another retention get the configured one, logged; a person deleted from the directory
//! leaves no photo, name index, state or backup behind.

use std::time::Duration;

use photosync::config::Config;
use photosync::events::Outcome;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{DEAD_STREAM, EVENTS_STREAM, PHOTOS_BUCKET, RESULTS_STREAM};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};
use photosync_tests::wait::eventually;

/// `stream`'s maximum age and message count.
fn stream_state(stack: &Stack, stream: &str) -> (Duration, u64) {
    stack.rt.block_on(async {
        let mut stream = stack.bus.js.get_stream(stream).await.expect("the stream");
        let info = stream.info().await.expect("its info");
        (info.config.max_age, info.state.messages)
    })
}

#[test]
fn processed_events_leave_the_events_stream_after_the_configured_retention() {
    let mut stack = Stack::start();
    let text = stack.config_text(Account::Service, "") + "\n[retention]\nevents = \"3s\"\n";
    stack.start_service_with(Config::parse(&text).expect("valid"));
    stack
        .ldap
        .add_people(&[Person::new("rita", "Rita", "Tention", Some("980001"))]);
    let id = stack.publish(
        "980001.jpg",
        &jpeg(&photo_like(160, 120, 1), JpegOptions::default()),
        &[],
    );
    assert_eq!(stack.result(&id).outcome, Outcome::Written);
    eventually(
        Duration::from_secs(30),
        "the events stream to empty",
        || {
            let (max_age, messages) = stream_state(&stack, EVENTS_STREAM);
            assert_eq!(max_age, Duration::from_secs(3));
            (messages == 0).then_some(())
        },
    );
    // The result is kept for its own retention (7 days by default).
    let (max_age, messages) = stream_state(&stack, RESULTS_STREAM);
    assert_eq!(max_age, Duration::from_secs(7 * 86_400));
    assert!(messages >= 1);
}

#[test]
fn existing_streams_and_the_photo_bucket_get_the_configured_retention_and_it_is_logged() {
    let mut stack = Stack::start();
    stack.stop_service();
    // Made by the test's own client with the defaults.
    assert_eq!(
        stream_state(&stack, EVENTS_STREAM).0,
        Duration::from_secs(14 * 86_400)
    );
    let config = stack.config_text(Account::Service, "")
        + "\n[retention]\nevents = \"12h\"\nphotos = \"30d\"\ndead-letters = \"forever\"\n";
    let mut worker = stack.start_worker("retention", &config);
    let photos = format!("OBJ_{PHOTOS_BUCKET}");
    assert_eq!(
        stream_state(&stack, EVENTS_STREAM).0,
        Duration::from_secs(12 * 3600)
    );
    assert_eq!(
        stream_state(&stack, &photos).0,
        Duration::from_secs(30 * 86_400)
    );
    assert_eq!(stream_state(&stack, DEAD_STREAM).0, Duration::ZERO);
    let log = worker.log();
    assert!(
        log.contains(
            "Retention: PHOTOSYNC_EVENTS now keeps messages 43200 s (it kept them 14 days)"
        ) && log.contains(&format!(
            "Retention: {photos} now keeps messages 30 days (it kept them 90 days)"
        )),
        "{log}"
    );
    assert!(worker.terminate(), "{}", worker.log());
}

#[test]
fn a_person_deleted_from_the_directory_leaves_no_photo_index_state_or_backup() {
    let mut stack = Stack::start();
    let ada = Person::new("ada", "Ada", "Leaving", Some("980201"));
    let bob = Person::new("bob", "Bob", "Staying", Some("980202"));
    stack.ldap.add_people(&[ada.clone(), bob.clone()]);
    let watcher = stack.start_watcher();
    // Two photos for Ada (the second keeps a backup of the first), one for Bob.
    for (file, seed) in [("980201.jpg", 1), ("980201.jpg", 2), ("980202.jpg", 3)] {
        let photo = jpeg(&photo_like(200, 150, seed), JpegOptions::default());
        let id = stack.publish(file, &photo, &[]);
        assert_eq!(stack.result(&id).outcome, Outcome::Written);
    }
    let id_of = |p: &Person| {
        String::from_utf8(stack.ldap.read(&p.dn(), "entryUUID").values[0].clone()).expect("uuid")
    };
    let (ada_id, bob_id) = (id_of(&ada), id_of(&bob));
    let held = |stack: &Stack, id: &str, file: &str| {
        stack.rt.block_on(async {
            let backups = photosync::backup::Backups::open(&stack.bus, Duration::from_secs(86_400))
                .await
                .expect("backups");
            let records = backups.records().await.expect("records");
            [
                photosync::state::load(&stack.bus, id)
                    .await
                    .expect("state")
                    .is_some(),
                stack
                    .bus
                    .photo_content(file)
                    .await
                    .expect("photo")
                    .is_some(),
                photosync::state::find_photo(&stack.bus, file.trim_end_matches(".jpg"))
                    .await
                    .expect("index")
                    .is_some(),
                records.iter().any(|r| r.entry_id == id),
            ]
        })
    };
    assert_eq!(held(&stack, &ada_id, "980201.jpg"), [true; 4]);

    stack
        .ldap
        .modify_ldif(&format!("dn: {}\nchangetype: delete\n", ada.dn()));
    let deleted = stack.result_matching("the result of Ada's deletion", |r| {
        r.entry_id.as_deref() == Some(ada_id.as_str())
            && r.reason
                .as_deref()
                .is_some_and(|t| t.contains("was deleted"))
    });
    let reason = deleted.reason.unwrap_or_default();
    for listed in [
        "photosync-photos: photo 980201.jpg",
        "photosync-state: name index of 980201.jpg",
        "photosync-backups: backup of",
    ] {
        assert!(reason.contains(listed), "{listed:?} in {reason}");
    }
    assert_eq!(held(&stack, &ada_id, "980201.jpg"), [false; 4], "{reason}");
    // Bob's photo and state stay (he has no backup: his photo replaced nothing).
    assert_eq!(held(&stack, &bob_id, "980202.jpg")[..3], [true; 3]);
    watcher.stop();
}
