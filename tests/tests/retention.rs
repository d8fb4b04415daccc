//! Retention with real nats-server and slapd: processed events leave the events stream once
//! the configured `[retention] events` has passed, and streams and buckets that exist with
//! another retention get the configured one, logged.

use std::time::Duration;

use photosync::config::Config;
use photosync::events::{DEAD_STREAM, EVENTS_STREAM, Outcome, PHOTOS_BUCKET, RESULTS_STREAM};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
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
