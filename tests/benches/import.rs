//! The operators' import against real nats-server and slapd: a folder of camera-sized photos
//! (640x480 JPEGs named by employee ID) through the dry run, the import, and a resync of
//! everyone. Prints files/s for each; asserts nothing about speed.
//!
//! Run with `cargo bench -p photosync-tests --bench import`. `BENCH_QUICK=1` shortens it;
//! `BENCH_FILES=N` sets the folder's size (default 5000).

use std::time::{Duration, Instant};

use photosync::events::Outcome;
use photosync::ops::{import, resync};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let files: usize = std::env::var("BENCH_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 300 } else { 5000 });
    let mut stack = Stack::start();
    let mut config = stack.config(Account::Service);
    config.worker.concurrency = 16;
    stack.start_service_with(config.clone());
    stack.ldap.add_people(&Person::numbered(files));
    let dir = tempfile::tempdir().expect("tempdir");
    let variants: Vec<Vec<u8>> = (0..16)
        .map(|i| jpeg(&photo_like(640, 480, i + 1), JpegOptions::default()))
        .collect();
    for i in 0..files {
        // Distinct bytes per file: a variant with the file's number appended after the image.
        let mut bytes = variants[i % variants.len()].clone();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        std::fs::write(dir.path().join(format!("{}.jpg", 100_000 + i)), bytes).expect("photo");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "photosync import benchmark ({cores} cores, {files} photos of 640x480, {} KB each, worker concurrency 16)",
        variants[0].len() / 1000
    );
    let options = |dry_run| import::Options {
        dir: dir.path().to_path_buf(),
        pattern: None,
        dry_run,
        patience: Duration::from_secs(300),
    };

    let start = Instant::now();
    let preview = stack
        .rt
        .block_on(import::preview(&config, &options(true)))
        .expect("dry run");
    report(
        "dry run (match, search, transform, decide; nothing written)",
        files,
        start,
    );
    assert_eq!(preview.summary.count(Outcome::Written), files);

    let start = Instant::now();
    let summary = stack
        .rt
        .block_on(import::run(&config, &options(false)))
        .expect("import");
    report("import (publish, workers write, results)", files, start);
    assert_eq!(
        summary.count(Outcome::Written),
        files,
        "{}",
        summary.one_line()
    );

    let start = Instant::now();
    let summary = stack
        .rt
        .block_on(resync::run(
            &config,
            &resync::Target::All,
            Duration::from_secs(300),
        ))
        .expect("resync");
    report(
        "resync --all (state forgotten; every photo already right)",
        files,
        start,
    );
    assert_eq!(
        summary.count(Outcome::Unchanged),
        files,
        "{}",
        summary.one_line()
    );
}

fn report(what: &str, files: usize, start: Instant) {
    let took = start.elapsed().as_secs_f64();
    println!(
        "{what}: {:.0} files/s ({files} in {took:.1} s)",
        files as f64 / took
    );
}
