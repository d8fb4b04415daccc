//! Worker benchmark against real nats-server and slapd with `photosync run` processes: events/s
//! with 1, 2 and 3 workers, and a worker's peak RSS while it drains a 100 000-event backlog.
//!
//! Run with `cargo bench -p photosync-tests --bench workers` (after `cargo build --release -p
//! photosync`). `BENCH_QUICK=1` shortens it.

use std::time::{Duration, Instant};

use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let (people, per_run, backlog) = if quick {
        (200, 400, 10_000)
    } else {
        (1000, 3000, 100_000)
    };
    let mut stack = Stack::start();
    stack.stop_service();
    let everyone: Vec<Person> = (0..people)
        .map(|i| {
            Person::new(
                &format!("b{i}"),
                "Bea",
                &format!("Bench{i}"),
                Some(&(800_000 + i).to_string()),
            )
        })
        .collect();
    stack.ldap.add_people(&everyone);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "photosync worker benchmarks ({cores} cores, real nats-server and slapd, photosync run processes, concurrency 8 each)"
    );
    let config = stack.config_text(Account::Service, "concurrency = 8\n");

    // Distinct 640x480 photos, each one written: events/s with 1, 2 and 3 workers.
    let photos: Vec<Vec<u8>> = (0..16)
        .map(|i| jpeg(&photo_like(640, 480, 50 + i), JpegOptions::default()))
        .collect();
    for workers in 1..=3usize {
        let round = workers - 1;
        for i in 0..per_run {
            let who = 800_000 + (i % people);
            stack.publish(
                &format!("{who}.jpg"),
                &photos[(i + round) % photos.len()],
                &[],
            );
        }
        let started: Vec<_> = (0..workers)
            .map(|w| stack.start_worker(&format!("bench{workers}-{w}"), &config))
            .collect();
        let first = stack.next_results(1, Duration::from_secs(600));
        let start = Instant::now();
        let rest = stack.next_results(per_run - 1, Duration::from_secs(600));
        let took = start.elapsed();
        let written = first
            .iter()
            .chain(&rest)
            .filter(|r| r.outcome == photosync::events::Outcome::Written)
            .count();
        println!(
            "{workers} worker(s): {:.0} events/s ({per_run} photos of 640x480, {written} written, {:.1} s)",
            (per_run - 1) as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );
        for mut w in started {
            w.terminate();
            print_notable(&w.log());
        }
    }

    // A backlog: events published while no worker runs, then one worker drains it. Its peak
    // RSS is sampled as it goes.
    let tiny = jpeg(&photo_like(48, 48, 7), JpegOptions::default());
    let publish_start = Instant::now();
    for i in 0..backlog {
        let who = 800_000 + (i % people);
        stack.publish(&format!("{who}.jpg"), &tiny, &[]);
    }
    println!(
        "backlog of {backlog} events published in {:.1} s",
        publish_start.elapsed().as_secs_f64()
    );
    let worker = stack.start_worker("drain", &config);
    let pid = worker.pid();
    let mut done = 0;
    let step = backlog / 5;
    let start = Instant::now();
    while done < backlog {
        let n = step.min(backlog - done);
        stack.next_results(n, Duration::from_secs(1200));
        done += n;
        println!(
            "  {done:>6} of {backlog} done after {:>5.1} s: worker RSS {} MiB, peak {} MiB",
            start.elapsed().as_secs_f64(),
            status_kib(pid, "VmRSS:") / 1024,
            status_kib(pid, "VmHWM:") / 1024
        );
    }
    println!(
        "backlog drained at {:.0} events/s; peak RSS {} MiB",
        backlog as f64 / start.elapsed().as_secs_f64(),
        status_kib(pid, "VmHWM:") / 1024
    );
    print_notable(&worker.log());
}

/// A worker's warnings, errors, panics and redeliveries, which explain a slow run.
fn print_notable(log: &str) {
    for line in log
        .lines()
        .filter(|l| {
            ["WARN", "ERROR", "panicked", "delivery=2"]
                .iter()
                .any(|s| l.contains(s))
        })
        .take(20)
    {
        println!("    worker log: {line}");
    }
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
