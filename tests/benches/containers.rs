//! Container benchmark: photosync's image (built by `scripts/image`) against real nats-server and
//! slapd on loopback, workers as containers on the host's network: events/s with 1, 2 and 4
//! worker containers, the time from `podman run` of a new worker to its first processed event,
//! the image's size, and each worker's RSS.
//!
//! Run with `cargo bench -p photosync-tests --bench containers` (after `cargo build --release -p
//! photosync`). `BENCH_QUICK=1` shortens it. It prints figures and asserts nothing about speed.

use std::time::{Duration, Instant};

use photosync::events::Outcome;
use photosync_tests::containers::{self, IMAGE, Worker, WorkerConfig, podman_ok};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::Person;
use photosync_tests::stack::Stack;

fn main() {
    if !containers::podman_runs() {
        return;
    }
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let (people, per_run, starts) = if quick { (100, 300, 3) } else { (500, 1500, 7) };
    let built = Instant::now();
    containers::image();
    let size: u64 = podman_ok(&["image", "inspect", "--format", "{{.Size}}", IMAGE])
        .trim()
        .parse()
        .expect("image size");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "photosync container benchmarks ({cores} cores; podman, --network host; real nats-server and slapd; concurrency 4 per worker)"
    );
    println!(
        "image {IMAGE}: {size} bytes ({:.1} MB); scripts/image took {:.1} s",
        size as f64 / 1e6,
        built.elapsed().as_secs_f64()
    );

    let mut stack = Stack::start();
    stack.stop_service();
    let everyone: Vec<Person> = (0..people)
        .map(|i| {
            Person::new(
                &format!("cb{i}"),
                "Cora",
                &format!("Bench{i}"),
                Some(&(850_000 + i).to_string()),
            )
        })
        .collect();
    stack.ldap.add_people(&everyone);
    let config = WorkerConfig::new(&[stack.nats.url()], 1, &stack.ldap, "");

    // Distinct 640x480 photos, each one written: events/s with 1, 2 and 4 workers, from the
    // first result to the last of a backlog published before the workers start.
    let photos: Vec<Vec<u8>> = (0..16)
        .map(|i| jpeg(&photo_like(640, 480, 60 + i), JpegOptions::default()))
        .collect();
    for (round, workers) in [1usize, 2, 4].into_iter().enumerate() {
        for i in 0..per_run {
            let who = 850_000 + (i % people);
            stack.publish(
                &format!("{who}.jpg"),
                &photos[(i + round) % photos.len()],
                &[],
            );
        }
        let started: Vec<Worker> = (0..workers)
            .map(|w| Worker::launch(&format!("bench{workers}-{w}"), &config))
            .collect();
        let first = stack.next_results(1, Duration::from_secs(600));
        let start = Instant::now();
        let rest = stack.next_results(per_run - 1, Duration::from_secs(600));
        let took = start.elapsed();
        let written = first
            .iter()
            .chain(&rest)
            .filter(|r| r.outcome == Outcome::Written)
            .count();
        let rss: Vec<String> = started
            .iter()
            .map(|w| {
                let pid = w.container().pid().unwrap_or(0);
                format!(
                    "{}/{}",
                    status_kib(pid, "VmRSS:") / 1024,
                    status_kib(pid, "VmHWM:") / 1024
                )
            })
            .collect();
        println!(
            "{workers} worker container(s): {:.0} events/s ({per_run} photos of 640x480, {written} written, {:.1} s); \
             RSS now/peak per worker MiB: {}",
            (per_run - 1) as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            rss.join(", ")
        );
        for w in &started {
            w.container().stop(Duration::from_secs(30));
        }
    }

    // A new worker with an event waiting: from `podman run` to that event's result.
    let tiny = jpeg(&photo_like(96, 96, 7), JpegOptions::default());
    let mut times = vec![];
    let mut idle_rss = vec![];
    for i in 0..starts {
        stack.publish(&format!("{}.jpg", 850_000 + i), &tiny, &[]);
        let start = Instant::now();
        let worker = Worker::launch(&format!("first{i}"), &config);
        stack.next_results(1, Duration::from_secs(60));
        times.push(start.elapsed());
        let pid = worker.container().pid().unwrap_or(0);
        idle_rss.push(status_kib(pid, "VmRSS:") / 1024);
        worker.container().stop(Duration::from_secs(30));
    }
    let ms: Vec<String> = times.iter().map(|t| format!("{}", t.as_millis())).collect();
    times.sort();
    println!(
        "podman run of a new worker -> its first processed event: median {} ms (target <= 1000 ms); each run: {} ms",
        times[times.len() / 2].as_millis(),
        ms.join(", ")
    );
    println!(
        "RSS of a worker after one small event, MiB: {}",
        idle_rss
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// A `/proc/PID/status` field in KiB (the container's first process is photosync itself).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
