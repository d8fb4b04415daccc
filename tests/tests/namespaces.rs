//! Two deployments on one real nats-server, each with its own slapd: the default prefix and
//! `[nats] prefix = "forest-b"`. Each writes only its own directory, keeps its own streams,
//! consumers, buckets and results, and neither sees the other's events.

use std::time::Duration;

use photosync::bus::{Bus, BusOptions};
use photosync::events::{Outcome, PhotoResult};
use photosync::names::Names;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::RESULTS_STREAM;
use photosync_tests::servers::{LdapServer, Person};
use photosync_tests::stack::{Account, Stack, photosync_binary};
use photosync_tests::wait::eventually;

/// The results `stream` holds.
fn results(stack: &Stack, bus: &Bus, stream: &str) -> Vec<PhotoResult> {
    let stored = stack.rt.block_on(bus.stored(stream)).expect("results");
    stored
        .iter()
        .filter_map(|m| serde_json::from_slice(&m.payload).ok())
        .collect()
}

#[test]
fn two_deployments_with_different_prefixes_share_one_nats_without_crosstalk() {
    let mut stack = Stack::start();
    let forest_b = LdapServer::start();
    // The same person number in both directories: a leak would write the wrong one.
    let in_a = Person::new("ada", "Ada", "Forest-A", Some("990001"));
    let in_b = Person::new("ada", "Ada", "Forest-B", Some("990001"));
    stack.ldap.add_people(std::slice::from_ref(&in_a));
    forest_b.add_people(std::slice::from_ref(&in_b));
    let config_b = stack
        .config_text(Account::Service, "")
        .replace(&stack.ldap.url(), &forest_b.url())
        .replacen("[nats]\n", "[nats]\nprefix = \"forest-b\"\n", 1);
    let mut worker_b = stack.start_worker("forest-b", &config_b);
    let names_b = Names::new("forest-b");
    let bus_b = stack
        .rt
        .block_on(Bus::connect_with(&BusOptions {
            names: names_b.clone(),
            ..BusOptions::url(&stack.nats.url())
        }))
        .expect("NATS as forest-b");

    let photo_a = jpeg(&photo_like(320, 240, 1), JpegOptions::default());
    let photo_b = jpeg(&photo_like(320, 240, 2), JpegOptions::default());
    let id_a = stack.publish("990001.jpg", &photo_a, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file_b = dir.path().join("990001.jpg");
    std::fs::write(&file_b, &photo_b).expect("photo B");
    let out = std::process::Command::new(photosync_binary())
        .args([
            "publish",
            "--nats",
            &stack.nats.url(),
            "--prefix",
            "forest-b",
        ])
        .arg(&file_b)
        .output()
        .expect("photosync publish runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(stack.result(&id_a).outcome, Outcome::Written);
    let written_b = eventually(Duration::from_secs(30), "forest-b's result", || {
        results(&stack, &bus_b, &names_b.results_stream)
            .into_iter()
            .find(|r| r.is_final)
    });
    assert_eq!(written_b.outcome, Outcome::Written, "{written_b:?}");
    assert_eq!(written_b.entry_dn.as_deref(), Some(in_b.dn().as_str()));

    // Each directory has its own deployment's photo, and only that.
    let thumb = |ldap: &LdapServer| ldap.read(&in_a.dn(), "thumbnailPhoto").values;
    let (a, b) = (thumb(&stack.ldap), thumb(&forest_b));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a, b, "each forest got its own photo");
    // Each results stream holds its own deployment's events only.
    let ids = |stream: &str, bus: &Bus| -> Vec<String> {
        results(&stack, bus, stream)
            .into_iter()
            .map(|r| r.event_id)
            .collect()
    };
    assert_eq!(ids(RESULTS_STREAM, &stack.bus), vec![id_a.clone()]);
    assert_eq!(
        ids(&names_b.results_stream, &bus_b),
        vec![written_b.event_id.clone()]
    );
    // Their own consumers, buckets and state.
    stack.rt.block_on(async {
        let mut events_b = bus_b
            .js
            .get_stream("FOREST-B_EVENTS")
            .await
            .expect("stream");
        let subjects = events_b.info().await.expect("info").config.subjects.clone();
        assert_eq!(
            subjects,
            ["forest-b.photo.uploaded", "forest-b.directory.changed"]
        );
        events_b
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("forest-b-workers")
            .await
            .expect("forest-b's workers consumer");
        let photo_b_stored = bus_b.photo_content("990001.jpg").await.expect("photo");
        let photo_a_stored = stack.bus.photo_content("990001.jpg").await.expect("photo");
        assert!(photo_a_stored.is_some() && photo_b_stored.is_some());
        assert_ne!(photo_a_stored, photo_b_stored, "two buckets");
        let entry_b = written_b.entry_id.clone().expect("entry id");
        let state_b = photosync::state::load(&bus_b, &entry_b)
            .await
            .expect("state");
        let leaked = photosync::state::load(&stack.bus, &entry_b)
            .await
            .expect("state");
        assert!(state_b.is_some() && leaked.is_none());
    });
    assert!(worker_b.terminate(), "{}", worker_b.log());
}
