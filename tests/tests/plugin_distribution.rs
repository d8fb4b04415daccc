//! Plugins distributed and replaced, with real nats-server and slapd and `photosync run`
//! processes:
//! - a matcher pushed into the plugin bucket with `photosync plugin push` and configured by the
//!   lines it prints (source and sha256) runs; a wrong pin stops the start naming both hashes;
//!   a new version pushed under the same name replaces an unpinned one in a running worker;
//! - the matcher's file replaced under a stream of events, once by a plugin that must be refused
//!   (the wrong role) and once by a new version; then a pin set by SIGHUP that the code does not
//!   match. Every event ends with one final result, which names the matcher code that decided
//!   it; the refused plugin never runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use photosync::events::{Outcome, PhotoResult};
use photosync::plugins::{builtin, sha256_hex};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::nats_cluster::http_get;
use photosync_tests::servers::{Person, free_port};
use photosync_tests::stack::{Account, Stack, WorkerProcess, photosync_binary};
use photosync_tests::wait::eventually;

/// `bytes`, a component, with a custom section appended: another version of the same plugin
/// (the same behaviour, other code, another SHA-256).
fn another_version(bytes: &[u8], note: &str) -> Vec<u8> {
    let name = b"photosync-test-version";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(note.as_bytes());
    assert!(payload.len() < 128, "one LEB128 byte");
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    out
}

/// Replaces `path`'s content at once (a new file renamed over it), as a deployment would.
fn replace(path: &Path, bytes: &[u8]) {
    let new = path.with_extension("new");
    std::fs::write(&new, bytes).expect("new plugin file");
    std::fs::rename(&new, path).expect("rename over the plugin");
}

/// The worker's `/metrics`.
fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

/// Waits until the worker's `/metrics` has a line starting with `line`.
fn wait_for_metric(port: u16, line: &str, worker: &WorkerProcess) {
    eventually(Duration::from_secs(60), line, || {
        metrics(port)
            .lines()
            .any(|l| l.starts_with(line))
            .then_some(())
    });
    assert!(!worker.log().contains("panicked"), "{}", worker.log());
}

/// Publishes a distinct photo for each of `people`; returns the event ids.
fn publish(stack: &Stack, people: &[Person], seed: u32) -> Vec<String> {
    people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = p.employee_id.as_deref().expect("an employee id");
            let photo = jpeg(
                &photo_like(160, 120, seed + i as u32),
                JpegOptions::default(),
            );
            stack.publish(&format!("{id}.jpg"), &photo, &[])
        })
        .collect()
}

fn matcher_of(result: &PhotoResult) -> &str {
    result.plugins.get("matcher").map_or("", String::as_str)
}

#[test]
fn a_matcher_replaced_under_load_runs_from_the_next_event_and_a_refused_one_never_runs() {
    let mut stack = Stack::start();
    stack.stop_service();
    let people: Vec<Person> = (0..90)
        .map(|i| {
            let id = (960_000 + i).to_string();
            Person::new(&format!("r{id}"), "Re", &format!("Load{i}"), Some(&id))
        })
        .collect();
    stack.ldap.add_people(&people);
    let dir = tempfile::tempdir().expect("tempdir");
    let matcher_file = dir.path().join("matcher.wasm");
    let first = builtin::find("match-pattern")
        .expect("builtin")
        .wasm
        .to_vec();
    let second = another_version(&first, "second");
    let wrong_role = builtin::find("dedup-md5").expect("builtin").wasm;
    std::fs::write(&matcher_file, &first).expect("matcher file");
    let port = free_port();
    let plugin = format!(
        "\n[plugins.matcher]\nsource = \"{}\"\n{{pin}}",
        matcher_file.display()
    );
    let base = stack
        .config_text(Account::Service, &format!("http = \"127.0.0.1:{port}\"\n"))
        .replace("[plugins]\n", "[plugins]\nreload-check-secs = 1\n");
    let config = |pin: &str| format!("{base}{}", plugin.replace("{pin}", pin));
    let mut worker = stack.start_worker("reload", &config(""));
    let sha = |bytes: &[u8]| sha256_hex(bytes);
    wait_for_metric(
        port,
        &format!(
            "photosync_plugin_info{{role=\"matcher\",source=\"{}\",sha256=\"{}\"}} 1",
            matcher_file.display(),
            sha(&first)
        ),
        &worker,
    );

    // The first third of the events, then a plugin of the wrong role over the file while they
    // are processed: refused, counted, and the first version goes on.
    let mut ids = publish(&stack, &people[..30], 1);
    replace(&matcher_file, wrong_role);
    wait_for_metric(
        port,
        "photosync_plugin_reloads_refused_total{role=\"matcher\"} 1",
        &worker,
    );
    ids.extend(publish(&stack, &people[30..60], 100));
    // The second version, while those are processed.
    replace(&matcher_file, &second);
    wait_for_metric(
        port,
        &format!(
            "photosync_plugin_info{{role=\"matcher\",source=\"{}\",sha256=\"{}\"}} 1",
            matcher_file.display(),
            sha(&second)
        ),
        &worker,
    );
    let after_second = publish(&stack, &people[60..], 200);
    ids.extend(after_second.iter().cloned());

    let mut finals: BTreeMap<String, Vec<PhotoResult>> = BTreeMap::new();
    eventually(
        Duration::from_secs(120),
        "a final result for every event",
        || {
            finals.clear();
            for r in stack.results_so_far() {
                if r.is_final {
                    finals
                        .entry(r.event_id.clone())
                        .or_default()
                        .push(r.clone());
                }
            }
            ids.iter().all(|id| finals.contains_key(id)).then_some(())
        },
    );
    let (first_id, second_id) = (&sha(&first)[..16], &sha(&second)[..16]);
    let mut decided = BTreeMap::<&str, usize>::new();
    for id in &ids {
        let results = &finals[id];
        assert_eq!(results.len(), 1, "one final result: {results:?}");
        let r = &results[0];
        assert_eq!(r.outcome, Outcome::Written, "{r:?}");
        let matcher = matcher_of(r);
        assert!(
            matcher == first_id || matcher == second_id,
            "decided by a version in force: {r:?}"
        );
        *decided
            .entry(if matcher == first_id {
                "first"
            } else {
                "second"
            })
            .or_default() += 1;
    }
    for id in &after_second {
        assert_eq!(
            matcher_of(&finals[id][0]),
            second_id,
            "published after the switch"
        );
    }
    println!(
        "{} events; decided per matcher version: {decided:?}",
        ids.len()
    );
    assert!(
        decided.get("first").is_some_and(|n| *n >= 30),
        "{decided:?}"
    );
    let log = worker.log();
    assert_eq!(
        log.matches("Refused a new matcher plugin").count(),
        1,
        "{log}"
    );
    assert!(log.contains("does not implement the matcher role"), "{log}");
    assert_eq!(
        log.matches("Replaced the matcher plugin").count(),
        1,
        "{log}"
    );

    // SIGHUP with a pin the code does not match: refused, naming both hashes; the second
    // version keeps running and deciding.
    let wrong_pin = "0".repeat(64);
    let pinned = config(&format!("sha256 = \"{wrong_pin}\"\n"));
    std::fs::write(worker.config_file(), pinned).expect("worker config");
    hang_up(&worker);
    wait_for_metric(
        port,
        "photosync_plugin_reloads_refused_total{role=\"matcher\"} 2",
        &worker,
    );
    let log = worker.log();
    assert!(
        log.contains(&wrong_pin) && log.contains(&sha(&second)),
        "{log}"
    );
    let id = publish(&stack, &people[..1], 300).remove(0);
    let r = stack.result(&id);
    assert_eq!(
        (r.outcome, matcher_of(&r)),
        (Outcome::Written, second_id),
        "{r:?}"
    );
    for line in worker.log().lines().filter(|l| l.contains(" plugin")) {
        println!("{line}");
    }
    assert!(worker.terminate(), "{}", worker.log());
}

/// SIGHUP to the worker.
fn hang_up(worker: &WorkerProcess) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &worker.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// `photosync plugin push FILE --name NAME --nats URL`; its standard output.
fn push(stack: &Stack, file: &Path, name: &str) -> String {
    let out = std::process::Command::new(photosync_binary())
        .args(["plugin", "push"])
        .arg(file)
        .args(["--name", name, "--nats", &stack.nats.url()])
        .output()
        .expect("photosync plugin push runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The TOML lines of `photosync plugin push`'s output (from the first table header on).
fn printed_config(pushed: &str) -> String {
    pushed
        .lines()
        .skip_while(|l| !l.starts_with('['))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_matcher_pushed_to_the_bucket_runs_pinned_a_wrong_pin_is_refused_and_a_new_push_replaces_it() {
    let mut stack = Stack::start();
    stack.stop_service();
    let people: Vec<Person> = (0..3)
        .map(|i| {
            let id = (970_000 + i).to_string();
            Person::new(&format!("p{id}"), "Push", &format!("Ed{i}"), Some(&id))
        })
        .collect();
    stack.ldap.add_people(&people);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("matcher-hr.wasm");
    let first = another_version(
        builtin::find("match-pattern").expect("builtin").wasm,
        "pushed",
    );
    std::fs::write(&file, &first).expect("plugin file");
    let pushed = push(&stack, &file, "matcher-hr.wasm");
    let lines = printed_config(&pushed);
    assert_eq!(
        lines,
        format!(
            "[plugins.matcher]\nsource = \"nats:photosync-plugins/matcher-hr.wasm\"\nsha256 = \"{}\"\n",
            sha256_hex(&first)
        ),
        "{pushed}"
    );

    // Pinned: it runs, and the results name it.
    let port = free_port();
    let base = stack
        .config_text(Account::Service, &format!("http = \"127.0.0.1:{port}\"\n"))
        .replace("[plugins]\n", "[plugins]\nreload-check-secs = 1\n");
    let mut worker = stack.start_worker("pinned", &format!("{base}\n{lines}"));
    let id = publish(&stack, &people[..1], 1).remove(0);
    let r = stack.result(&id);
    assert_eq!(r.outcome, Outcome::Written, "{r:?}");
    assert_eq!(matcher_of(&r), &sha256_hex(&first)[..16]);
    assert!(worker.terminate(), "{}", worker.log());

    // A wrong pin: the worker does not start, and says why with both hashes.
    let wrong = "f".repeat(64);
    let config = dir.path().join("wrong-pin.toml");
    std::fs::write(
        &config,
        format!("{base}\n{}", lines.replace(&sha256_hex(&first), &wrong)),
    )
    .expect("config");
    let log = dir.path().join("wrong-pin.log");
    let mut run = std::process::Command::new(photosync_binary())
        .args(["run", "--config"])
        .arg(&config)
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("photosync run starts");
    let status = eventually(Duration::from_secs(60), "the worker to give up", || {
        run.try_wait().expect("wait")
    });
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(!status.success(), "{said}");
    assert!(
        said.contains(&wrong) && said.contains(&sha256_hex(&first)),
        "{said}"
    );

    // Unpinned, from the bucket: a new version pushed under the same name takes over.
    let unpinned: String = lines
        .lines()
        .filter(|l| !l.starts_with("sha256"))
        .map(|l| format!("{l}\n"))
        .collect();
    let worker = stack.start_worker("unpinned", &format!("{base}\n{unpinned}"));
    let second = another_version(&first, "pushed again");
    std::fs::write(&file, &second).expect("plugin file");
    push(&stack, &file, "matcher-hr.wasm");
    wait_for_metric(
        port,
        &format!(
            "photosync_plugin_info{{role=\"matcher\",source=\"nats:photosync-plugins/matcher-hr.wasm\",sha256=\"{}\"}} 1",
            sha256_hex(&second)
        ),
        &worker,
    );
    let id = publish(&stack, &people[1..2], 2).remove(0);
    let r = stack.result(&id);
    assert_eq!(
        (r.outcome, matcher_of(&r)),
        (Outcome::Written, &sha256_hex(&second)[..16]),
        "{r:?}"
    );
}
