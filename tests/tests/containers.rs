//! photosync's container image at work: a worker container against the test servers on
//! loopback; three worker containers sharing a burst while one is killed, or stopped; a
//! three-node NATS cluster (`replicas = 3`) losing the node that leads the events stream; the
//! Kubernetes base validated and its worker Deployment run by `podman kube play`; and the
//! consumer lag KEDA scales on.
//!
//! The image is built once per test process by `scripts/image` from `target/release/photosync`.
//! Worker containers use the host's network, so they reach nats-server and slapd on 127.0.0.1.
//! The tests run one at a time: each starts several containers and servers. Where podman
//! cannot run containers at all they print `skipped: podman cannot run here: …` and pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt as _;
use photosync::bus::{Bus, BusOptions};
use photosync::events::{Outcome, PhotoResult};
use photosync::text::md5_hex;
use photosync_tests::containers::{
    self, KubePlay, Worker, WorkerConfig, json_lines, podman, podman_ok,
};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{CONSUMER, EVENTS_STREAM, RESULTS_STREAM, STATE_BUCKET};
use photosync_tests::servers::nats_cluster::NatsCluster;
use photosync_tests::servers::{LdapServer, Person, free_port};
use photosync_tests::stack::Stack;
use photosync_tests::wait::eventually;

/// `worker.concurrency` of every worker here (the default): how many events a worker has in
/// flight at most.
const CONCURRENCY: usize = 4;

/// `podman stop`'s grace period before SIGKILL.
const GRACE: Duration = Duration::from_secs(30);

/// One test at a time: each runs several containers and servers on what may be two cores.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The servers a test's events go through: a runtime, a NATS connection, the directory.
struct On<'a> {
    rt: &'a tokio::runtime::Runtime,
    bus: &'a Bus,
    ldap: &'a LdapServer,
}

/// Events published: their ids, and per entry the photo published for it last.
struct Burst {
    ids: Vec<String>,
    latest: HashMap<String, Vec<u8>>,
}

impl On<'_> {
    fn of(stack: &Stack) -> On<'_> {
        On {
            rt: &stack.rt,
            bus: &stack.bus,
            ldap: &stack.ldap,
        }
    }

    /// `n` people with employee ids from `base`.
    fn people(&self, n: usize, base: usize) -> Vec<Person> {
        let people: Vec<Person> = (0..n)
            .map(|i| {
                let id = (base + i).to_string();
                Person::new(&format!("c{id}"), "Con", &format!("Tainer{i}"), Some(&id))
            })
            .collect();
        self.ldap.add_people(&people);
        people
    }

    /// Publishes `rounds` distinct small photos per person (inline, 320x240) in a shuffled
    /// order, made before the first is published so that the burst arrives at once.
    fn publish_burst(&self, people: &[Person], rounds: usize, seed: u32) -> Burst {
        let mut plan: Vec<usize> = (0..people.len() * rounds)
            .map(|n| n % people.len())
            .collect();
        shuffle(&mut plan, 0x9e37_79b9_7f4a_7c15 ^ u64::from(seed));
        let photos: Vec<(&Person, Vec<u8>)> = plan
            .into_iter()
            .enumerate()
            .map(|(n, p)| {
                let image = photo_like(320, 240, seed * 100_000 + n as u32);
                (&people[p], jpeg(&image, JpegOptions::default()))
            })
            .collect();
        let uploads = tempfile::tempdir().expect("tempdir");
        let mut burst = Burst {
            ids: vec![],
            latest: HashMap::new(),
        };
        for (person, bytes) in photos {
            let id = person.employee_id.as_deref().unwrap_or_default();
            let path = uploads.path().join(format!("{id}.jpg"));
            std::fs::write(&path, &bytes).expect("upload file");
            let event = self
                .rt
                .block_on(photosync::publish::publish_file(
                    self.bus,
                    &path,
                    "test",
                    &BTreeMap::new(),
                ))
                .expect("publish");
            burst.ids.push(event.id);
            burst.latest.insert(person.dn(), bytes);
        }
        burst
    }

    /// Counts results as they are published (core NATS), to know how far a burst has come.
    fn count_results(&self) -> Arc<AtomicUsize> {
        let count = Arc::new(AtomicUsize::new(0));
        let mut sub = self
            .rt
            .block_on(self.bus.client.subscribe("photosync.result.>"))
            .expect("subscribe");
        self.rt.block_on(self.bus.client.flush()).expect("flush");
        let counted = count.clone();
        self.rt.spawn(async move {
            while sub.next().await.is_some() {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        count
    }

    /// Every result the results stream holds, or `None` while it cannot be read (a NATS node
    /// gone, a leader being elected).
    fn stored_results(&self) -> Option<Vec<PhotoResult>> {
        let stored = self.rt.block_on(self.bus.stored(RESULTS_STREAM)).ok()?;
        Some(
            stored
                .into_iter()
                .map(|m| serde_json::from_slice(&m.payload).expect("a result parses"))
                .collect(),
        )
    }

    /// Waits until every one of `ids` has a final result; returns the final results by event.
    fn final_results(
        &self,
        ids: &[String],
        deadline: Duration,
    ) -> BTreeMap<String, Vec<PhotoResult>> {
        eventually(deadline, "a final result for every event", || {
            let mut by_event: BTreeMap<String, Vec<PhotoResult>> = BTreeMap::new();
            for r in self.stored_results()? {
                if r.is_final {
                    by_event.entry(r.event_id.clone()).or_default().push(r);
                }
            }
            ids.iter()
                .all(|id| by_event.contains_key(id))
                .then_some(by_event)
        })
    }

    /// The sync state of entry `uuid` as the state bucket's stream leader has it.
    fn state_from_leader(&self, uuid: &str) -> photosync::state::EntryState {
        let subject = format!("$KV.{STATE_BUCKET}.{}", photosync::state::key(uuid));
        let message = self.rt.block_on(async {
            let stream = self.bus.js.get_stream(format!("KV_{STATE_BUCKET}")).await?;
            anyhow::Ok(stream.get_last_raw_message_by_subject(&subject).await?)
        });
        let message = message.unwrap_or_else(|e| panic!("{subject}: {e:#}"));
        serde_json::from_slice(&message.payload).expect("the sync state parses")
    }

    /// Every entry holds the rendition of the photo published last for it: its sync state says
    /// so, and the directory holds the rendition the state names.
    fn assert_latest(&self, latest: &HashMap<String, Vec<u8>>) {
        for (dn, bytes) in latest {
            let uuid = String::from_utf8(self.ldap.read(dn, "entryUUID").values[0].clone())
                .expect("entryUUID");
            let stored = self.ldap.read(dn, "thumbnailPhoto");
            assert_eq!(stored.values.len(), 1, "{dn} has a photo");
            let state = self.state_from_leader(&uuid);
            let thumb = &state.attributes["thumbnailPhoto"];
            if thumb.source_digest != md5_hex(bytes) {
                let results: Vec<String> = self
                    .stored_results()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.entry_dn.as_deref() == Some(dn.as_str()))
                    .map(|r| {
                        format!(
                            "{} {:?} delivery {} final {} source {:?} reason {:?}",
                            r.event_id,
                            r.outcome,
                            r.delivery,
                            r.is_final,
                            r.source_digest,
                            r.reason
                        )
                    })
                    .collect();
                panic!(
                    "{dn} ends with its latest photo ({}): its state {state:?}; the directory holds {}; its results:\n{}",
                    md5_hex(bytes),
                    md5_hex(&stored.values[0]),
                    results.join("\n")
                );
            }
            assert_eq!(
                thumb.written_digest,
                md5_hex(&stored.values[0]),
                "{dn}: the directory holds it"
            );
            assert_eq!(state.claim, None, "{dn}: no writer left a claim");
        }
    }
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

/// Every event has a final result, with an outcome a sound run gives; events with more than one
/// (a worker or server gone between publishing a result and the acknowledgement arriving)
/// number at most `duplicates_allowed`. Returns how many had more than one.
fn assert_finals(
    finals: &BTreeMap<String, Vec<PhotoResult>>,
    ids: &[String],
    duplicates_allowed: usize,
) -> usize {
    for id in ids {
        for r in &finals[id] {
            assert!(
                matches!(
                    r.outcome,
                    Outcome::Written | Outcome::Superseded | Outcome::Unchanged
                ),
                "{r:?}"
            );
        }
    }
    let duplicated: Vec<&Vec<PhotoResult>> = ids
        .iter()
        .map(|id| &finals[id])
        .filter(|r| r.len() > 1)
        .collect();
    assert!(
        duplicated.len() <= duplicates_allowed,
        "{} events have more than one final result (at most {duplicates_allowed} expected): {duplicated:?}",
        duplicated.len()
    );
    duplicated.len()
}

/// A runtime and a connection to `urls` creating photosync's streams with `replicas`.
fn connect(urls: &[String], replicas: usize) -> (tokio::runtime::Runtime, Bus) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let options = BusOptions {
        servers: urls.to_vec(),
        replicas,
        ..BusOptions::url(&urls[0])
    };
    let bus = rt
        .block_on(Bus::connect_with(&options))
        .expect("NATS connects");
    (rt, bus)
}

/// Starts `n` worker containers at once (a backlog waiting is shared from the start) and
/// waits until each processes events.
fn start_together(hint: &str, n: usize, config: &WorkerConfig) -> Vec<Worker> {
    let workers: Vec<Worker> = (0..n)
        .map(|i| Worker::launch(&format!("{hint}{i}"), config))
        .collect();
    for worker in &workers {
        worker.wait_until_processing();
    }
    workers
}

/// Waits until `count` results have arrived: the burst is under way (on every worker: each
/// asks for events as soon as it has free slots).
fn wait_under_way(count: &AtomicUsize, at_least: usize) {
    eventually(Duration::from_secs(120), "the burst under way", || {
        (count.load(Ordering::Relaxed) >= at_least).then_some(())
    });
}

#[test]
fn a_worker_container_writes_photos_into_the_directory_and_logs_json_lines() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    let mut stack = Stack::start();
    stack.stop_service();
    let on = On::of(&stack);
    let people = on.people(30, 910_000);
    let config = WorkerConfig::new(&[stack.nats.url()], 1, &stack.ldap, "ack-wait-secs = 5\n");
    let worker = Worker::start("single", &config);
    let burst = on.publish_burst(&people, 1, 1);
    let finals = on.final_results(&burst.ids, Duration::from_secs(120));
    for id in &burst.ids {
        assert_eq!(finals[id].len(), 1, "{:?}", finals[id]);
        assert_eq!(finals[id][0].outcome, Outcome::Written, "{:?}", finals[id]);
    }
    on.assert_latest(&burst.latest);

    // Its log: JSON lines, one per finished event carrying the event's id.
    let lines = worker.log_lines();
    let logged: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["fields"]["outcome"] == "written")
        .filter_map(|l| l["span"]["id"].as_str())
        .collect();
    assert_eq!(
        logged,
        burst.ids.iter().map(String::as_str).collect(),
        "{lines:?}"
    );

    // The builtin plugins came compiled with the image: nothing was compiled at start (a
    // compiled plugin would be cached in the container's writable /tmp, or warned about).
    let pid = worker.container().pid().expect("the worker runs");
    let cache = format!("/proc/{pid}/root/tmp/photosync/plugins");
    let compiled = std::fs::read_dir(&cache).map_or(0, |d| d.count());
    assert_eq!(compiled, 0, "plugins compiled at start into {cache}");
    let logs = worker.container().logs();
    assert!(!logs.contains("compiled plugin"), "{logs}");
    // Non-root, read-only root file system.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t65532\t")),
        "{status}"
    );
    let read_only = worker.container().inspect("{{.HostConfig.ReadonlyRootfs}}");
    assert_eq!(read_only.as_deref().map(str::trim), Some("true"));

    let stopped = worker.container().stop(GRACE);
    assert_eq!(
        stopped.code,
        0,
        "SIGTERM: exit 0: {}",
        worker.container().logs()
    );
    assert!(worker.container().logs().contains("Stopped."));
}

#[test]
fn a_worker_container_stopped_while_it_waits_for_nats_exits_0_at_once() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    // A "server" that accepts the connection and never says a word: the worker waits in its
    // start-up (up to 20 s for NATS).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    silent.set_nonblocking(true).expect("non-blocking");
    let config = WorkerConfig {
        nats: vec![format!("nats://{}", silent.local_addr().expect("address"))],
        replicas: 1,
        ldap_url: "ldap://127.0.0.1:9".into(),
        bind_dn: "cn=nobody".into(),
        password: "none".into(),
        worker: String::new(),
    };
    let worker = Worker::launch("starting", &config);
    let _connection = eventually(Duration::from_secs(30), "the worker to connect", || {
        silent.accept().ok()
    });
    let stopped = worker.container().stop(GRACE);
    let log = worker.container().logs();
    assert_eq!(stopped.code, 0, "{log}");
    assert!(stopped.took < Duration::from_secs(5), "{:?}", stopped.took);
    assert!(log.contains("Stopped while starting."), "{log}");
}

#[test]
fn three_worker_containers_share_a_burst_and_one_killed_mid_burst_loses_nothing() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    let mut stack = Stack::start();
    stack.stop_service();
    let on = On::of(&stack);
    let people = on.people(150, 920_000);
    let config = WorkerConfig::new(&[stack.nats.url()], 1, &stack.ldap, "ack-wait-secs = 5\n");
    let count = on.count_results();
    let burst = on.publish_burst(&people, 3, 2);
    let workers = start_together("share", 3, &config);
    wait_under_way(&count, 40);
    let done_at_kill = count.load(Ordering::Relaxed);
    workers[0].container().kill();
    assert!(
        done_at_kill < burst.ids.len(),
        "the kill came after the burst"
    );
    assert_eq!(
        workers[0].container().state(),
        Some((false, 137)),
        "SIGKILL"
    );

    let finals = on.final_results(&burst.ids, Duration::from_secs(300));
    // Only an event the killed worker had finished but not acknowledged has a second result.
    let duplicated = assert_finals(&finals, &burst.ids, CONCURRENCY);
    on.assert_latest(&burst.latest);
    let processed: Vec<usize> = workers.iter().map(Worker::processed).collect();
    println!(
        "{} events; killed after {done_at_kill} results; processed per worker {processed:?}; {duplicated} with two final results",
        burst.ids.len()
    );
    assert!(
        processed.iter().all(|n| *n > 0),
        "each worker processed some: {processed:?}"
    );
}

#[test]
fn a_worker_container_stopped_mid_burst_exits_0_within_its_grace_period_and_strands_nothing() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    let mut stack = Stack::start();
    stack.stop_service();
    let on = On::of(&stack);
    let people = on.people(150, 925_000);
    // An ack wait far beyond the deadline below: an event stranded in the stopped worker
    // would come back only after it.
    let config = WorkerConfig::new(&[stack.nats.url()], 1, &stack.ldap, "ack-wait-secs = 600\n");
    let count = on.count_results();
    let burst = on.publish_burst(&people, 3, 3);
    let workers = start_together("stop", 3, &config);
    wait_under_way(&count, 40);
    let done_at_stop = count.load(Ordering::Relaxed);
    let stopped = workers[1].container().stop(GRACE);
    let log = workers[1].container().logs();
    assert_eq!(stopped.code, 0, "SIGTERM: exit 0: {log}");
    assert!(
        stopped.took < GRACE,
        "stopped in {:?}, within {GRACE:?}",
        stopped.took
    );
    assert!(
        done_at_stop < burst.ids.len(),
        "the stop came after the burst"
    );
    assert!(
        log.contains("Handed back the events pulled but not started.") && log.contains("Stopped."),
        "{log}"
    );

    let finals = on.final_results(&burst.ids, Duration::from_secs(120));
    assert_finals(&finals, &burst.ids, 0);
    on.assert_latest(&burst.latest);
    let processed: Vec<usize> = workers.iter().map(Worker::processed).collect();
    println!(
        "{} events; stopped after {done_at_stop} results in {:.1} s; processed per worker {processed:?}",
        burst.ids.len(),
        stopped.took.as_secs_f64()
    );
    assert!(
        processed.iter().all(|n| *n > 0),
        "each worker processed some: {processed:?}"
    );
}

#[test]
fn the_nats_node_leading_the_events_stream_killed_mid_burst_loses_nothing() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    let mut cluster = NatsCluster::start();
    let ldap = LdapServer::start();
    let (rt, bus) = connect(&cluster.urls(), 3);
    let on = On {
        rt: &rt,
        bus: &bus,
        ldap: &ldap,
    };
    let people = on.people(80, 930_000);
    let config = WorkerConfig::new(&cluster.urls(), 3, &ldap, "ack-wait-secs = 5\n");
    let workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&format!("cluster{i}"), &config))
        .collect();
    for w in &workers {
        eventually(Duration::from_secs(60), "the worker ready", || {
            w.ready().then_some(())
        });
    }
    let events = cluster
        .monitor(&cluster.names()[0], "/jsz?acc=$G&streams=true&config=true")
        .expect("/jsz");
    let replicas = events["account_details"][0]["stream_detail"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["name"] == EVENTS_STREAM)
        .map(|s| s["config"]["num_replicas"].clone());
    assert_eq!(replicas, Some(3.into()), "{events}");

    let count = on.count_results();
    let burst = on.publish_burst(&people, 2, 4);
    wait_under_way(&count, 30);
    let leader = cluster
        .stream_leader(EVENTS_STREAM)
        .expect("the events stream has a leader");
    let done_at_kill = count.load(Ordering::Relaxed);
    cluster.kill(&leader);
    assert!(
        done_at_kill < burst.ids.len(),
        "the kill came after the burst"
    );

    let finals = on.final_results(&burst.ids, Duration::from_secs(300));
    let duplicated = assert_finals(&finals, &burst.ids, burst.ids.len());
    on.assert_latest(&burst.latest);
    let new_leader = eventually(
        Duration::from_secs(60),
        "a new leader of the events stream",
        || {
            cluster
                .stream_leader(EVENTS_STREAM)
                .filter(|l| *l != leader)
        },
    );
    for w in &workers {
        eventually(
            Duration::from_secs(60),
            "the worker to report NATS up again",
            || w.ready().then_some(()),
        );
    }
    let processed: Vec<usize> = workers.iter().map(Worker::processed).collect();
    println!(
        "{} events; killed {leader} (leader of {EVENTS_STREAM}) after {done_at_kill} results; new leader {new_leader}; \
         processed per worker {processed:?}; {duplicated} with two final results",
        burst.ids.len()
    );
}

#[test]
fn the_kubernetes_base_validates_and_its_worker_deployment_runs_under_podman_kube_play() {
    let _turn = one_at_a_time();
    let root = photosync_tests::repo_root();
    let validate = std::process::Command::new(root.join("deploy/kubernetes/validate"))
        .output()
        .expect("deploy/kubernetes/validate starts");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    assert!(
        validate.status.success() && said.contains("validate: all good"),
        "{said}"
    );
    if !containers::podman_runs() {
        return;
    }
    let mut stack = Stack::start();
    stack.stop_service();
    let on = On::of(&stack);
    let people = on.people(3, 935_000);
    let image = containers::image();
    let port = free_port();
    let prefix = format!("pst{}-", std::process::id());
    let config = WorkerConfig::new(&[stack.nats.url()], 1, &stack.ldap, "").toml(
        &format!("127.0.0.1:{port}"),
        "/run/secrets/photosync/ldap-password",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let play_file = dir.path().join("play.yaml");
    std::fs::write(&play_file, playable(&root, &prefix, image, &config)).expect("play.yaml");
    let secret = format!("{prefix}photosync-secrets");
    // podman 4.3 takes a Secret's data as it is (not base64).
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {secret}\ndata:\n  ldap-password: {}\n",
        stack.ldap.service_account().1
    );
    let pod = format!("{prefix}photosync-worker-pod-0");
    let container = format!("{pod}-photosync");
    let config_volume = format!("{prefix}photosync-config");
    let _played = KubePlay::play(
        &play_file,
        &[(&secret, &manifest)],
        &[&pod],
        &[&config_volume, &secret],
    );

    let url = format!("http://127.0.0.1:{port}/readyz");
    eventually(
        Duration::from_secs(60),
        "the Deployment's worker ready",
        || {
            let probe = podman(&[
                "exec",
                &container,
                "/usr/local/bin/photosync",
                "healthcheck",
                "--url",
                &url,
            ]);
            probe.status.success().then_some(())
        },
    );
    let id = stack.publish(
        "935001.jpg",
        &jpeg(&photo_like(320, 240, 9), JpegOptions::default()),
        &[],
    );
    assert_eq!(stack.result(&id).outcome, Outcome::Written);
    assert_eq!(
        stack
            .ldap
            .read(&people[1].dn(), "thumbnailPhoto")
            .values
            .len(),
        1
    );
    // As the Deployment says: uid 65532, read-only root file system; JSON logs.
    let pid = podman_ok(&["inspect", "--format", "{{.State.Pid}}", &container]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("status");
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t65532\t")),
        "{status}"
    );
    let read_only = podman_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.ReadonlyRootfs}}",
        &container,
    ]);
    assert_eq!(read_only.trim(), "true");
    let logs = podman(&["logs", &container]);
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    let lines = json_lines(&logs).expect("JSON logs");
    assert!(
        lines.iter().any(|l| l["fields"]["outcome"] == "written"),
        "{lines:?}"
    );
}

/// The base's worker Deployment and its ConfigMap as one file for `podman kube play`, changed
/// as an overlay would change them: names prefixed with `prefix`, the test image, the
/// ConfigMap's photosync.toml replaced by `config`; and for podman: the host's network (NATS
/// and slapd are on its loopback), hence no container ports, and no probes (podman would run
/// them as curl health checks, in an image without curl).
fn playable(root: &std::path::Path, prefix: &str, image: &str, config: &str) -> String {
    let base = root.join("deploy/kubernetes");
    let read = |file: &str| {
        std::fs::read_to_string(base.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let mut deployment = read("worker-deployment.yaml");
    for key in ["ports", "startupProbe", "livenessProbe", "readinessProbe"] {
        deployment = without_block(&deployment, key);
    }
    let renames = [
        (
            "name: photosync-worker\n",
            format!("name: {prefix}photosync-worker\n"),
        ),
        (
            "name: photosync-config\n",
            format!("name: {prefix}photosync-config\n"),
        ),
        (
            "secretName: photosync-secrets\n",
            format!("secretName: {prefix}photosync-secrets\n"),
        ),
        ("image: photosync\n", format!("image: {image}\n")),
        (
            "terminationGracePeriodSeconds:",
            "hostNetwork: true\n      terminationGracePeriodSeconds:".to_owned(),
        ),
    ];
    for (from, to) in renames {
        assert_eq!(
            deployment.matches(from).count(),
            1,
            "{from:?} in the Deployment"
        );
        deployment = deployment.replace(from, &to);
    }
    let indented: String = config.lines().map(|l| format!("    {l}\n")).collect();
    let config_map = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}photosync-config\n\
         data:\n  photosync.toml: |\n{indented}"
    );
    assert!(read("configmap.yaml").contains("\n  photosync.toml: |\n"));
    format!("{config_map}---\n{deployment}")
}

/// `yaml` without the block that starts with the line `key:` (at any indentation): that line
/// and the lines after it indented deeper (or, for a list, as deep and starting with `- `).
fn without_block(yaml: &str, key: &str) -> String {
    let mut kept = String::new();
    let mut skipping: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(depth) = skipping {
            let inside = indent > depth || (indent == depth && line.trim_start().starts_with("- "));
            if inside || line.trim().is_empty() {
                continue;
            }
            skipping = None;
        }
        if line.trim() == format!("{key}:") {
            skipping = Some(indent);
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    assert!(kept.len() < yaml.len(), "the Deployment has a {key} block");
    kept
}

/// The lag of `consumer` on `stream` as KEDA's nats-jetstream scaler reads it: GET
/// `/jsz?acc=$G&consumers=true&config=true`; with a cluster (a `meta_cluster.cluster_size`
/// above one) the answer of the node that leads the consumer; `num_pending + num_ack_pending`
/// of the consumer. `None` until a node leading it answers.
fn keda_lag(cluster: &NatsCluster, stream: &str, consumer: &str) -> Option<u64> {
    cluster.running_names().iter().find_map(|node| {
        let jsz = cluster.monitor(node, "/jsz?acc=$G&consumers=true&config=true")?;
        let clustered = jsz["meta_cluster"]["cluster_size"].as_u64().unwrap_or(1) > 1;
        let found = jsz["account_details"]
            .as_array()?
            .iter()
            .filter(|a| a["name"] == "$G")
            .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
            .filter(|s| s["name"] == stream)
            .flat_map(|s| s["consumer_detail"].as_array().into_iter().flatten())
            .find(|c| c["name"] == consumer)?;
        if clustered && found["cluster"]["leader"] != node.as_str() {
            return None;
        }
        Some(found["num_pending"].as_u64()? + found["num_ack_pending"].as_u64()?)
    })
}

#[test]
fn the_lag_keda_reads_grows_with_a_backlog_and_returns_to_zero_once_a_worker_drains_it() {
    let _turn = one_at_a_time();
    if !containers::podman_runs() {
        return;
    }
    let cluster = NatsCluster::start();
    let ldap = LdapServer::start();
    let (rt, bus) = connect(&cluster.urls(), 3);
    let on = On {
        rt: &rt,
        bus: &bus,
        ldap: &ldap,
    };
    let people = on.people(40, 940_000);
    let config = WorkerConfig::new(&cluster.urls(), 3, &ldap, "ack-wait-secs = 5\n");
    let lag = |wanted: u64| {
        eventually(
            Duration::from_secs(60),
            &format!("a lag of {wanted}"),
            || (keda_lag(&cluster, EVENTS_STREAM, CONSUMER)? == wanted).then_some(()),
        )
    };
    // A worker creates the consumer; with nothing published there is no lag.
    let first = Worker::start("lag-first", &config);
    lag(0);
    assert_eq!(first.container().stop(GRACE).code, 0);

    // No worker: the backlog is the lag.
    let one = on.publish_burst(&people, 1, 5);
    lag(40);
    let two = on.publish_burst(&people, 1, 6);
    lag(80);

    let _drainer = Worker::start("lag-drainer", &config);
    let ids: Vec<String> = one.ids.iter().chain(&two.ids).cloned().collect();
    let finals = on.final_results(&ids, Duration::from_secs(180));
    assert_finals(&finals, &ids, 0);
    lag(0);
    on.assert_latest(&two.latest);
}
