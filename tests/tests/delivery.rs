//! Delivery guarantees with real servers and real `photosync run` worker processes: several
//! workers share the work and every entry ends with its latest photo; a worker killed with
//! SIGKILL, slapd stopped, nats-server restarted: nothing is lost; a poison event ends as a dead
//! letter without holding up the others, and `photosync replay` brings it back.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::time::Duration;

use photosync::events::{Outcome, PhotoResult};
use photosync::text::md5_hex;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like, png_rgba};
use photosync_tests::names::{DEAD_STREAM, RESULTS_STREAM};
use photosync_tests::servers::{Person, free_port};
use photosync_tests::stack::{Account, Stack, WorkerProcess};
use photosync_tests::wait::eventually;

/// A photo nobody else has.
fn photo(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(160, 120, seed), JpegOptions::default())
}

/// People with employee ids from `base`.
fn people(stack: &Stack, n: usize, base: usize) -> Vec<Person> {
    let people: Vec<Person> = (0..n)
        .map(|i| {
            Person::new(
                &format!("d{}", base + i),
                "Dee",
                &format!("Livery{i}"),
                Some(&(base + i).to_string()),
            )
        })
        .collect();
    stack.ldap.add_people(&people);
    people
}

/// A small deterministic shuffle (xorshift), so that runs are repeatable.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// Publishes `rounds` distinct photos per person in a shuffled order; returns every event id
/// and, per person, the bytes of the photo published last.
fn publish_shuffled(
    stack: &Stack,
    people: &[Person],
    rounds: usize,
) -> (Vec<String>, HashMap<String, Vec<u8>>) {
    let mut plan: Vec<(usize, usize)> = (0..people.len())
        .flat_map(|p| (0..rounds).map(move |r| (p, r)))
        .collect();
    shuffle(&mut plan, 0x9e37_79b9_7f4a_7c15);
    let mut ids = Vec::new();
    let mut latest = HashMap::new();
    for (n, (p, _)) in plan.iter().enumerate() {
        let person = &people[*p];
        let bytes = photo(n as u32 + 1000);
        let name = format!("{}.jpg", person.employee_id.as_deref().unwrap_or_default());
        ids.push(stack.publish(&name, &bytes, &[]));
        latest.insert(person.dn(), bytes);
    }
    (ids, latest)
}

/// Waits until every event has a final result in the results stream; returns them by event.
fn final_results(
    stack: &Stack,
    ids: &[String],
    deadline: Duration,
) -> BTreeMap<String, Vec<PhotoResult>> {
    eventually(deadline, "a final result for every event", || {
        let mut by_event: BTreeMap<String, Vec<PhotoResult>> = BTreeMap::new();
        for r in stack.stored_under::<PhotoResult>(RESULTS_STREAM, "photosync.result.") {
            if r.is_final {
                by_event.entry(r.event_id.clone()).or_default().push(r);
            }
        }
        ids.iter()
            .all(|id| by_event.contains_key(id))
            .then_some(by_event)
    })
}

/// Every person's entry holds the rendition of the photo published last for them: the sync
/// state says its source is that photo and its rendition is the value in the directory.
fn assert_latest(stack: &Stack, latest: &HashMap<String, Vec<u8>>) {
    for (dn, bytes) in latest {
        let uuid =
            String::from_utf8(stack.ldap.read(dn, "entryUUID").values[0].clone()).expect("uuid");
        let stored = stack.ldap.read(dn, "thumbnailPhoto");
        assert_eq!(stored.values.len(), 1, "{dn} has a photo");
        let state = stack
            .rt
            .block_on(photosync::state::load(&stack.bus, &uuid))
            .expect("state")
            .expect("state saved");
        let thumb = &state.attributes["thumbnailPhoto"];
        assert_eq!(
            thumb.source_digest,
            md5_hex(bytes),
            "{dn} ends with its latest photo"
        );
        assert_eq!(
            thumb.written_digest,
            md5_hex(&stored.values[0]),
            "{dn}: the directory holds it"
        );
        assert_eq!(state.claim, None, "{dn}: no writer left a claim");
    }
}

/// Waits until the results stream holds at least `n` results: the run is under way.
fn wait_for_results(stack: &Stack, n: usize) {
    eventually(Duration::from_secs(120), "some events done", || {
        let done = stack
            .stored_under::<PhotoResult>(RESULTS_STREAM, "photosync.result.")
            .len();
        (done >= n).then_some(())
    });
}

fn worker_config(stack: &Stack, extra: &str) -> String {
    stack.config_text(Account::Service, &format!("ack-wait-secs = 5\n{extra}"))
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(socket, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    socket.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn three_workers_leave_every_entry_with_its_latest_photo_and_one_final_result_per_event() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 500, 300_000);
    let config = worker_config(&stack, "");
    let _workers: Vec<WorkerProcess> = (0..3)
        .map(|i| stack.start_worker(&format!("w{i}"), &config))
        .collect();
    let (ids, latest) = publish_shuffled(&stack, &everyone, 4);
    assert_eq!(ids.len(), 2000);
    let finals = final_results(&stack, &ids, Duration::from_secs(600));
    for id in &ids {
        let results = &finals[id];
        assert_eq!(
            results.len(),
            1,
            "event {id}: exactly one final result: {results:?}"
        );
        assert!(
            matches!(results[0].outcome, Outcome::Written | Outcome::Superseded),
            "{:?}",
            results[0]
        );
    }
    assert_latest(&stack, &latest);
}

#[test]
fn a_worker_killed_mid_run_loses_nothing() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 150, 400_000);
    let config = worker_config(&stack, "");
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|i| stack.start_worker(&format!("k{i}"), &config))
        .collect();
    let (ids, latest) = publish_shuffled(&stack, &everyone, 3);
    wait_for_results(&stack, 60);
    workers[0].kill();
    let finals = final_results(&stack, &ids, Duration::from_secs(300));
    assert_eq!(finals.len(), ids.len(), "every event has a final result");
    assert_latest(&stack, &latest);
}

#[test]
fn a_worker_stopped_with_sigterm_hands_back_what_it_pulled_but_did_not_start() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 100, 450_000);
    // An ack wait far beyond the deadline below: an event stranded in the stopped worker's
    // buffer would only come back after it.
    let config = stack.config_text(Account::Service, "ack-wait-secs = 600\nconcurrency = 2\n");
    let mut stopping = stack.start_worker("stopping", &config);
    let _other = stack.start_worker("staying", &config);
    let (ids, latest) = publish_shuffled(&stack, &everyone, 2);
    wait_for_results(&stack, 20);
    assert!(stopping.terminate(), "SIGTERM: the worker exits 0");
    let finals = final_results(&stack, &ids, Duration::from_secs(180));
    assert_eq!(finals.len(), ids.len());
    assert_latest(&stack, &latest);
}

#[test]
fn slapd_stopped_for_ten_seconds_loses_nothing_and_the_worker_says_so() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 60, 500_000);
    let port = free_port();
    let config = worker_config(&stack, &format!("http = \"127.0.0.1:{port}\"\n"));
    let worker = stack.start_worker("outage", &config);
    eventually(Duration::from_secs(30), "the worker ready", || {
        http_get(port, "/readyz").filter(|r| r.starts_with("HTTP/1.1 200"))
    });
    let (ids, latest) = publish_shuffled(&stack, &everyone, 3);
    wait_for_results(&stack, 30);
    stack.ldap.stop();
    let not_ready = eventually(
        Duration::from_secs(60),
        "the worker to report the outage",
        || http_get(port, "/readyz").filter(|r| r.starts_with("HTTP/1.1 503")),
    );
    assert!(
        not_ready.contains("directory is unreachable"),
        "{not_ready}"
    );
    // The outage itself: ten seconds without a directory.
    std::thread::sleep(Duration::from_secs(10));
    stack.ldap.resume();
    let finals = final_results(&stack, &ids, Duration::from_secs(300));
    for id in &ids {
        // `unchanged` too: a write the directory applied just before it died, whose answer
        // never came, is found in place when the event is tried again.
        let r = &finals[id][0];
        assert!(
            matches!(
                r.outcome,
                Outcome::Written | Outcome::Superseded | Outcome::Unchanged
            ),
            "{r:?}"
        );
    }
    assert_latest(&stack, &latest);
    let metrics = eventually(
        Duration::from_secs(30),
        "the worker to report the directory up",
        || http_get(port, "/metrics").filter(|m| m.contains("photosync_directory_up 1")),
    );
    assert!(
        metrics.contains("photosync_dead_letters_total 0"),
        "{metrics}"
    );
    drop(worker);
}

#[test]
fn nats_server_restarted_mid_run_loses_nothing() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 60, 600_000);
    let config = worker_config(&stack, "");
    let mut worker = stack.start_worker("restart", &config);
    let (ids, latest) = publish_shuffled(&stack, &everyone, 3);
    wait_for_results(&stack, 30);
    stack.nats.restart();
    let finals = final_results(&stack, &ids, Duration::from_secs(300));
    assert_eq!(finals.len(), ids.len());
    assert_latest(&stack, &latest);
    assert!(
        worker.terminate(),
        "SIGTERM: the worker finishes and exits 0"
    );
    assert!(worker.log().contains("Stopped."), "{}", worker.log());
}

#[test]
fn a_poison_event_becomes_a_dead_letter_and_does_not_hold_up_the_others() {
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone = people(&stack, 20, 700_000);
    let poisoned = Person::new("poison", "Poe", "Ison", Some("799999"));
    stack.ldap.add_people(std::slice::from_ref(&poisoned));
    // A transformer that cannot decode a 24-megapixel PNG in 24 MiB traps on it every time;
    // small photos fit. (A progressive JPEG that size no longer does: its thumbnail comes from
    // its DC scans, in a few MiB.)
    let config = format!(
        "{}\n[plugins.transformer]\nmemory-mib = 24\n",
        worker_config(&stack, "max-deliver = 3\nretry-max-secs = 2\n")
    );
    let _worker = stack.start_worker("poison", &config);
    let poison = png_rgba(6000, 4000, &vec![200; 6000 * 4000 * 4], None);
    let poison_id = stack.publish("799999.jpg", &poison, &[]);
    let (ids, latest) = publish_shuffled(&stack, &everyone, 1);
    let finals = final_results(&stack, &ids, Duration::from_secs(120));
    assert!(
        ids.iter()
            .all(|id| finals[id][0].outcome == Outcome::Written)
    );
    assert_latest(&stack, &latest);
    let dead = final_results(
        &stack,
        std::slice::from_ref(&poison_id),
        Duration::from_secs(120),
    );
    let dead = &dead[&poison_id][0];
    assert_eq!(dead.outcome, Outcome::Failed, "{dead:?}");
    assert_eq!(dead.delivery, 3);
    let reason = dead.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("memory") && reason.contains("photosync replay"),
        "{reason}"
    );
    let letters = stack.stored_under::<serde_json::Value>(DEAD_STREAM, "photosync.dead.");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["id"], poison_id.as_str());
    // Replayed, it is delivered again from the start.
    let replayed = stack
        .rt
        .block_on(stack.bus.replay_dead_letters())
        .expect("replay");
    assert_eq!(replayed, 1);
    assert!(
        stack
            .stored_under::<serde_json::Value>(DEAD_STREAM, "photosync.dead.")
            .is_empty()
    );
    eventually(
        Duration::from_secs(60),
        "the replayed event processed again",
        || {
            stack
                .stored_under::<PhotoResult>(RESULTS_STREAM, "photosync.result.")
                .into_iter()
                .filter(|r| r.event_id == poison_id && r.delivery == 1)
                .nth(1)
        },
    );
}
