//! End-to-end benchmark against real nats-server and slapd: photos/s for 4 MP JPEGs written to
//! the directory (thumbnailPhoto alone, and thumbnailPhoto with jpegPhoto), each beside
//! `vipsthumbnail` making the same renditions natively from the same files on one process a
//! core; and events/s for re-sent unchanged photos (no LDAP write), with where an event's time
//! goes. Photos written are measured twice: published one after another by a client while the
//! service runs (the client's publishing counted), and drained from a backlog published while
//! it was stopped (NATS to plugins to LDAP to result, nothing else running). Each re-send run
//! also prints the CPU each process used per event, and what the bus alone reaches on the same
//! events (pulled, a result stored and an ack each, no photosync): the ceiling NATS sets on this
//! machine. Prints figures.
//!
//! Run with `cargo bench -p photosync-tests --bench pipeline`. `BENCH_QUICK=1` shortens it;
//! `BENCH_CONCURRENCY=N` sets the service's concurrency for the unchanged runs (default 64);
//! `BENCH_SEARCH_BATCH=N` their `ldap.search-batch` (default 64; 1 searches each event alone).

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use std::process::Command;

use base64::Engine as _;

use photosync::config::Config;
use photosync::events::Outcome;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    // The unchanged runs send every photo this many times (objects, inline): long enough (20 000
    // and 10 000 events, a couple of seconds each) for a steady figure.
    let (people, object_rounds, inline_rounds) = if quick { (40, 5, 5) } else { (200, 100, 50) };
    let mut stack = Stack::start();
    let mut config = stack.config(Account::Service);
    config.worker.concurrency = 32;
    stack.start_service_with(config);
    let everyone = Person::numbered(people);
    stack.ldap.add_people(&everyone);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "photosync end-to-end benchmarks ({cores} cores, real nats-server and slapd, concurrency 32)"
    );

    let photos = four_mp(1);
    let (rate, took) = written(&mut stack, &photos, people);
    println!(
        "4 MP JPEG ({:.1} MB, through the object store) -> thumbnailPhoto written, published meanwhile: {rate:.1} photos/s ({people} photos in {:.1} s)",
        photos[0].len() as f64 / 1e6,
        took.as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    beside_vips(
        rate,
        &files(dir.path(), "first", &photos),
        people,
        &[96],
        cores,
    );

    // Re-sent unchanged photos, each kind published while the service is stopped and drained
    // with the clock running. First the 4 MP photos again: events naming the stored objects and
    // their content digests, as `photosync publish` sends them, decided from the remembered
    // digest without reading the bucket.
    let total = people * object_rounds;
    let digests: Vec<String> = photos
        .iter()
        .map(|p| photosync::bus::content_digest(p))
        .collect();
    let mut n = 0;
    let (rate, stages) = unchanged(&mut stack, total, |stack| {
        for _ in 0..object_rounds {
            for i in 0..people {
                n += 1;
                let name = format!("{}.jpg", 100_000 + i);
                let mut event = Stack::event_for_object(&format!("again-{n}"), &name, &name);
                event.photo_digest = Some(digests[i % digests.len()].clone());
                stack.publish_event(&event);
            }
        }
    });
    println!(
        "re-sent unchanged 4 MP photos (object store, no LDAP write): {rate:.0} events/s ({total} events, concurrency {})\n  {stages}",
        concurrency()
    );
    let mut event = Stack::event_for_object("floor", "100000.jpg", "100000.jpg");
    event.photo_digest = Some(digests[0].clone());
    let payload = serde_json::to_vec(&event).expect("event");
    let (rate, cpu) = bus_alone(&stack, &payload, total);
    println!("{}", floor_line(total, rate, &cpu));

    // Then small inline JPEGs: the bytes travel in every event and are hashed every time.
    let small: Vec<Vec<u8>> = (0..4)
        .map(|i| jpeg(&photo_like(640, 480, i + 10), JpegOptions::default()))
        .collect();
    for i in 0..people {
        stack.publish(
            &format!("{}.jpg", 100_000 + i),
            &small[i % small.len()],
            &[],
        );
    }
    stack.next_results(people, Duration::from_secs(600));
    let total = people * inline_rounds;
    let (rate, stages) = unchanged(&mut stack, total, |stack| {
        for _ in 0..inline_rounds {
            for i in 0..people {
                stack.publish(
                    &format!("{}.jpg", 100_000 + i),
                    &small[i % small.len()],
                    &[],
                );
            }
        }
    });
    println!(
        "re-sent unchanged photos ({} KB inline, no LDAP write): {rate:.0} events/s ({total} events, concurrency {})\n  {stages}",
        small[0].len() / 1024,
        concurrency()
    );
    let mut event = Stack::event_for_object("floor", "100000.jpg", "");
    event.photo = photosync::events::PhotoRef::Inline(
        base64::engine::general_purpose::STANDARD.encode(&small[0]),
    );
    let payload = serde_json::to_vec(&event).expect("event");
    let (rate, cpu) = bus_alone(&stack, &payload, total);
    println!("{}", floor_line(total, rate, &cpu));

    // A backlog of other photos of the same people, drained.
    let third = four_mp(30);
    let mut config = stack.config(Account::Service);
    config.worker.concurrency = 32;
    let rate = drained(&mut stack, config, &third, people);
    println!("4 MP JPEG -> thumbnailPhoto written, drained from a backlog: {rate:.1} photos/s");
    beside_vips(
        rate,
        &files(dir.path(), "third", &third),
        people,
        &[96],
        cores,
    );

    // Both renditions, for other photos of the same people.
    let mut config = Config::parse(
        &(stack.config_text(Account::Service, "concurrency = 32")
            + "\n[[renditions]]\nattribute = \"thumbnailPhoto\"\n\n[[renditions]]\nattribute = \"jpegPhoto\"\n"),
    )
    .expect("valid");
    config.worker.concurrency = 32;
    stack.stop_service();
    stack.start_service_with(config.clone());
    let second = four_mp(20);
    let (rate, took) = written(&mut stack, &second, people);
    println!(
        "4 MP JPEG -> thumbnailPhoto + jpegPhoto written, published meanwhile: {rate:.1} photos/s ({people} photos in {:.1} s)",
        took.as_secs_f64()
    );
    beside_vips(
        rate,
        &files(dir.path(), "second", &second),
        people,
        &[96, 648],
        cores,
    );
    let fourth = four_mp(40);
    let rate = drained(&mut stack, config, &fourth, people);
    println!(
        "4 MP JPEG -> thumbnailPhoto + jpegPhoto written, drained from a backlog: {rate:.1} photos/s"
    );
    beside_vips(
        rate,
        &files(dir.path(), "fourth", &fourth),
        people,
        &[96, 648],
        cores,
    );
}

/// Four distinct camera-like 4 MP JPEGs, from the seeds after `seed`.
fn four_mp(seed: u32) -> Vec<Vec<u8>> {
    (0..4)
        .map(|i| jpeg(&photo_like(2448, 1632, seed + i), JpegOptions::default()))
        .collect()
}

/// Publishes one of `photos` for each of the `people` and waits until all are written;
/// returns photos/s and the time taken, and prints where an event's time went.
fn written(stack: &mut Stack, photos: &[Vec<u8>], people: usize) -> (f64, Duration) {
    let start = Instant::now();
    publish_all(stack, photos, people);
    let publishing = start.elapsed();
    let results = stack.next_results(people, Duration::from_secs(600));
    let took = start.elapsed();
    all_written(&results);
    println!(
        "  the client's publishing took {:.1} s of it; {}",
        publishing.as_secs_f64(),
        stages(&results)
    );
    (people as f64 / took.as_secs_f64(), took)
}

/// Publishes one of `photos` for each of the `people` while the service is stopped, then
/// starts it with `config` and returns photos/s from the first result to the last (start-up
/// not counted), printing where an event's time went.
fn drained(stack: &mut Stack, config: Config, photos: &[Vec<u8>], people: usize) -> f64 {
    stack.stop_service();
    let publishing = Instant::now();
    publish_all(stack, photos, people);
    let publishing = publishing.elapsed();
    stack.start_service_with(config);
    let mut results = stack.next_results(1, Duration::from_secs(600));
    let start = Instant::now();
    results.extend(stack.next_results(people - 1, Duration::from_secs(600)));
    let took = start.elapsed();
    all_written(&results);
    println!(
        "  the client published the backlog alone in {:.1} s; {}",
        publishing.as_secs_f64(),
        stages(&results)
    );
    (people - 1) as f64 / took.as_secs_f64()
}

/// Publishes one of `photos` for each of the `people`, one after another.
fn publish_all(stack: &Stack, photos: &[Vec<u8>], people: usize) {
    for i in 0..people {
        stack.publish(
            &format!("{}.jpg", 100_000 + i),
            &photos[i % photos.len()],
            &[],
        );
    }
}

fn all_written(results: &[photosync::events::PhotoResult]) {
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Written),
        "all written: {:?}",
        results.iter().find(|r| r.outcome != Outcome::Written)
    );
}

/// `photos` as files in `dir`, named after `tag`, for vipsthumbnail.
fn files(dir: &std::path::Path, tag: &str, photos: &[Vec<u8>]) -> Vec<std::path::PathBuf> {
    photos
        .iter()
        .enumerate()
        .map(|(i, photo)| {
            let path = dir.join(format!("{tag}-{i}.jpg"));
            std::fs::write(&path, photo).expect("photo file");
            path
        })
        .collect()
}

/// Stops the service, lets `publish` queue `total` events, starts the service and returns the
/// events/s from the first result to the last, checking every one is `unchanged`, and where an
/// event's time went. The clock starts at the first result so that start-up (plugin loading,
/// connecting) is not counted.
fn unchanged(stack: &mut Stack, total: usize, publish: impl FnOnce(&Stack)) -> (f64, String) {
    let mut config = stack.config(Account::Service);
    config.worker.concurrency = concurrency();
    if let Some(batch) = search_batch() {
        config.ldap.search_batch = batch;
    }
    let batch = config.ldap.search_batch;
    stack.stop_service();
    publish(stack);
    eprintln!("  ({total} events queued; draining them)");
    stack.start_service_with(config);
    let mut results = stack.next_results(1, Duration::from_secs(600));
    let start = Instant::now();
    let pids = (stack.nats.pid(), stack.ldap.pid());
    let before = Cpu::of(pids);
    results.extend(stack.next_results(total - 1, Duration::from_secs(600)));
    let took = start.elapsed();
    let cpu = Cpu::of(pids).since(&before, total - 1, "photosync with the benchmark's client");
    let unchanged = results
        .iter()
        .filter(|r| r.outcome == Outcome::Unchanged)
        .count();
    assert_eq!(
        unchanged,
        total,
        "every re-sent photo is unchanged; first other: {:?}",
        results.iter().find(|r| r.outcome != Outcome::Unchanged)
    );
    let stages = format!("search batch {batch}; {}\n  {cpu}", stages(&results));
    ((total - 1) as f64 / took.as_secs_f64(), stages)
}

/// The line printed for [`bus_alone`]'s figures.
fn floor_line(total: usize, rate: f64, cpu: &str) -> String {
    format!(
        "  the bus alone on the same events ({total} pulled from a file stream by four pullers in requests of 16, a 600-byte result stored and an ack each, nothing else): {rate:.0} events/s\n  {cpu}"
    )
}

/// What NATS itself does for each event whatever photosync decides, timed alone: `total`
/// copies of `payload` published to a scratch file stream, then pulled by four pullers in
/// requests of 16, each answered by a result stored in a second stream and acked. Returns events/s
/// and the CPU line. The scratch streams are deleted afterwards.
fn bus_alone(stack: &Stack, payload: &[u8], total: usize) -> (f64, String) {
    use async_nats::jetstream::{consumer, stream};
    let js = stack.bus.js.clone();
    let payload = bytes::Bytes::copy_from_slice(payload);
    let pids = (stack.nats.pid(), stack.ldap.pid());
    stack.rt.block_on(async move {
        let file = |name: &str, subject: &str| stream::Config {
            name: name.into(),
            subjects: vec![subject.into()],
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let events = js
            .create_stream(file("BENCH_FLOOR", "bench.floor.events"))
            .await
            .expect("scratch stream");
        js.create_stream(file("BENCH_FLOOR_RESULTS", "bench.floor.results"))
            .await
            .expect("scratch results stream");
        for first in (0..total).step_by(256) {
            let mut acks = Vec::with_capacity(256);
            for _ in first..total.min(first + 256) {
                let ack = js.publish("bench.floor.events", payload.clone()).await;
                acks.push(ack.expect("publish"));
            }
            for ack in acks {
                ack.await.expect("stored");
            }
        }
        let consumer: consumer::PullConsumer = events
            .create_consumer(consumer::pull::Config {
                durable_name: Some("floor".into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("scratch consumer");
        let floor = Arc::new(Floor {
            js: js.clone(),
            result: bytes::Bytes::from(vec![b'r'; 600]),
            left: AtomicUsize::new(total),
            finished: OnceLock::new(),
            pids,
        });
        let before = Cpu::of(pids);
        let start = Instant::now();
        // Four pullers of 16 each keep about 64 events in flight, as the service does.
        let pullers: Vec<_> = (0..4)
            .map(|_| tokio::spawn(pull_alone(consumer.clone(), floor.clone())))
            .collect();
        for puller in pullers {
            puller.await.expect("puller");
        }
        let (end, after) = floor.finished.get().expect("every event handled");
        let cpu = after.since(&before, total, "the client (photosync idle)");
        js.delete_stream("BENCH_FLOOR").await.expect("delete");
        js.delete_stream("BENCH_FLOOR_RESULTS")
            .await
            .expect("delete");
        (total as f64 / (*end - start).as_secs_f64(), cpu)
    })
}

/// What [`bus_alone`]'s pullers share.
struct Floor {
    js: async_nats::jetstream::Context,
    result: bytes::Bytes,
    /// Events not yet acked.
    left: AtomicUsize,
    /// When the last was acked, and the CPU used by then.
    finished: OnceLock<(Instant, Cpu)>,
    pids: (u32, Option<u32>),
}

/// One of [`bus_alone`]'s pullers: requests of 16 until every event is acked, each event's
/// result stored and its ack sent in a task of its own, counted as its ack goes (not when its
/// request ends: the last requests wait for their expiry).
async fn pull_alone(consumer: async_nats::jetstream::consumer::PullConsumer, floor: Arc<Floor>) {
    while floor.left.load(SeqCst) > 0 {
        let mut batch = consumer
            .batch()
            .max_messages(16)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .expect("pull");
        let mut handling = Vec::new();
        while let Some(message) = futures::StreamExt::next(&mut batch).await {
            let (message, floor) = (message.expect("message"), floor.clone());
            handling.push(tokio::spawn(async move {
                let stored = floor
                    .js
                    .publish("bench.floor.results", floor.result.clone())
                    .await
                    .expect("result");
                stored.await.expect("result stored");
                message.ack().await.expect("ack");
                if floor.left.fetch_sub(1, SeqCst) == 1 {
                    let _ = floor.finished.set((Instant::now(), Cpu::of(floor.pids)));
                }
            }));
        }
        for handled in handling {
            handled.await.expect("handled");
        }
    }
}

/// CPU seconds used so far by nats-server, slapd and this process (the service and the
/// benchmark's client collecting results), from `/proc`.
struct Cpu([f64; 3]);

impl Cpu {
    /// The CPU used so far by the nats-server and slapd processes `pids` and this process.
    fn of((nats, ldap): (u32, Option<u32>)) -> Self {
        let of_pid = |pid: u32| process_cpu(&format!("/proc/{pid}/stat"));
        Cpu([
            of_pid(nats),
            ldap.map_or(0.0, of_pid),
            process_cpu("/proc/self/stat"),
        ])
    }

    /// The CPU each used per event over `events` since `before`, in one line; `this` names
    /// what ran in this process.
    fn since(&self, before: &Cpu, events: usize, this: &str) -> String {
        let per = |i: usize| (self.0[i] - before.0[i]) * 1e6 / events.max(1) as f64;
        format!(
            "CPU µs per event: nats-server {:.0}, slapd {:.0}, {this} {:.0}",
            per(0),
            per(1),
            per(2)
        )
    }
}

/// User plus system CPU seconds of the process whose `stat` file is `path` (0 when unreadable).
fn process_cpu(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // In clock ticks (USER_HZ), which sysconf tells.
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / per_second.max(1) as f64
}

/// `vipsthumbnail` making the `sizes` (square, centre crop) from `count` photos of `files` on
/// one batch process a core, printed beside photosync's `rate`.
fn beside_vips(rate: f64, files: &[std::path::PathBuf], count: usize, sizes: &[u32], cores: usize) {
    let available = Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("  vipsthumbnail: not installed, no comparison");
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let all: Vec<&std::path::PathBuf> = (0..count).map(|i| &files[i % files.len()]).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in all.chunks(count.div_ceil(cores)) {
            let out = out.path();
            s.spawn(move || {
                for size in sizes {
                    let status = Command::new("vipsthumbnail")
                        .args(["-s", &format!("{size}x{size}"), "-m", "centre", "-o"])
                        .arg(format!("{}/{size}-%s.jpg[Q=85,strip]", out.display()))
                        .args(chunk)
                        .status()
                        .expect("vipsthumbnail runs");
                    assert!(status.success());
                }
            });
        }
    });
    let vips = count as f64 / start.elapsed().as_secs_f64();
    let shown: Vec<String> = sizes.iter().map(|s| format!("{s}x{s}")).collect();
    println!(
        "  vipsthumbnail making {} on {cores} processes: {vips:.1} photos/s; photosync end to end {:.2}x",
        shown.join(" + "),
        rate / vips
    );
}

/// The mean milliseconds per stage the results record (their `timings_ms`), in one line. With
/// many events in flight the stages of different events overlap: these are latencies, and
/// `total` minus the rest is the time an event waited (for a plugin instance, the runtime).
fn stages(results: &[photosync::events::PhotoResult]) -> String {
    let mut sums: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for r in results {
        for (stage, ms) in &r.timings_ms {
            *sums.entry(stage.as_str()).or_default() += ms;
        }
    }
    let n = results.len().max(1) as f64;
    let parts: Vec<String> = sums
        .iter()
        .map(|(stage, sum)| format!("{stage} {:.3}", sum / n))
        .collect();
    format!("mean ms per event by stage: {}", parts.join(", "))
}

/// The unchanged runs' `ldap.search-batch`: `BENCH_SEARCH_BATCH`, else the default.
fn search_batch() -> Option<usize> {
    std::env::var("BENCH_SEARCH_BATCH").ok()?.parse().ok()
}

/// The service's concurrency for the unchanged runs: `BENCH_CONCURRENCY`, else 64.
fn concurrency() -> usize {
    std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}
