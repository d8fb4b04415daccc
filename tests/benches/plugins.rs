//! Plugin benchmarks. Prints figures; asserts nothing about speed.
//!
//! - instantiate + call of a no-op plugin (fresh sandbox per call);
//! - transform of 4 MP and 12 MP JPEGs to a 96x96 thumbnail, one at a time and with all cores
//!   busy, beside `vipsthumbnail -s 96x96 -m centre` on the same files when it is installed.
//!
//! Run with `cargo bench -p photosync-tests --bench plugins`. `BENCH_QUICK=1` shortens it;
//! `BENCH_ONLY=noop` measures only the call overhead.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use photosync::plugins::{Decision, DedupInput, Deduper, Limits};
use photosync::profiles::thumbnail_photo;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::plugins::{file_spec, runtime, transformer};

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("photosync plugin benchmarks ({cores} cores)");
    noop_call(&rt, if quick { 2_000 } else { 50_000 });
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "noop") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, w, h) in [("4 MP", 2448u32, 1632u32), ("12 MP", 4032, 3024)] {
        let files: Vec<_> = (0..4u32)
            .map(|i| {
                let path = dir
                    .path()
                    .join(format!("{}-{i}.jpg", label.replace(' ', "")));
                std::fs::write(
                    &path,
                    jpeg(&photo_like(w, h, i + 1), JpegOptions::default()),
                )
                .expect("write photo");
                path
            })
            .collect();
        let size = std::fs::metadata(&files[0]).map_or(0, |m| m.len());
        println!(
            "\n{label} JPEG ({w}x{h}, {:.1} MB, baseline 4:2:0 q90) -> 96x96 thumbnailPhoto",
            size as f64 / 1e6
        );
        let rounds = if quick { 2 } else { 8 };
        transform_bench(&rt, &files, rounds, cores);
        vips_bench(&files, rounds, cores, dir.path());
    }
}

fn noop_call(rt: &photosync::plugins::Runtime, calls: u32) {
    let noop = Deduper::load(
        rt,
        &file_spec(
            "noop",
            Limits {
                memory_mib: 16,
                deadline_ms: 1000,
            },
            &[],
        ),
    )
    .expect("noop loads");
    let input = DedupInput {
        attribute: "thumbnailPhoto".into(),
        source_digest: "aa".into(),
        output_digest: None,
        state: None,
        current_digests: vec![],
    };
    for _ in 0..1000 {
        assert!(matches!(noop.decide(&input), Ok(Decision::Skip(_))));
    }
    let mut samples = Vec::with_capacity(calls as usize);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let _ = std::hint::black_box(noop.decide(&input));
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    println!(
        "no-op plugin, fresh instance + call: mean {:.2} µs, p50 {:.2} µs, p99 {:.2} µs over {calls} calls",
        micros(total) / f64::from(calls),
        micros(samples[samples.len() / 2]),
        micros(samples[samples.len() * 99 / 100]),
    );
}

fn transform_bench(
    rt: &photosync::plugins::Runtime,
    files: &[std::path::PathBuf],
    rounds: usize,
    cores: usize,
) {
    let photos: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read photo"))
        .collect();
    let t = transformer(rt);
    let profile = thumbnail_photo();
    let _ = t.transform(&photos[0], &profile);
    let n = photos.len() * rounds;
    let start = Instant::now();
    for i in 0..n {
        let out = t.transform(&photos[i % photos.len()], &profile);
        assert!(matches!(out, Ok(Ok(_))), "{out:?}");
    }
    let single = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..cores {
            let (t, photos, profile) = (&t, &photos, &profile);
            s.spawn(move || {
                for i in (c..n).step_by(cores) {
                    let _ = t.transform(&photos[i % photos.len()], profile);
                }
            });
        }
    });
    let parallel = start.elapsed();
    println!(
        "  photosync transform-jpeg (sandboxed): {:.1} ms/photo on one core; {:.1} photos/s on {cores} cores",
        millis(single) / n as f64,
        n as f64 / parallel.as_secs_f64()
    );
}

fn vips_bench(files: &[std::path::PathBuf], rounds: usize, cores: usize, dir: &Path) {
    let available = Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("  vipsthumbnail: not installed (apt-get install libvips-tools), no comparison");
        return;
    }
    let out = dir.join("vips-%s.jpg");
    let run = |batch: &[&std::path::PathBuf]| {
        let status = Command::new("vipsthumbnail")
            .args(["-s", "96x96", "-m", "centre", "-o"])
            .arg(format!("{}[Q=85,strip]", out.display()))
            .args(batch)
            .status()
            .expect("vipsthumbnail runs");
        assert!(status.success());
    };
    let n = files.len() * rounds;
    let all: Vec<&std::path::PathBuf> = (0..n).map(|i| &files[i % files.len()]).collect();
    let start = Instant::now();
    for f in &all {
        run(&[*f]);
    }
    let per_process = start.elapsed();
    let start = Instant::now();
    run(&all);
    let batch = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in all.chunks(n.div_ceil(cores)) {
            s.spawn(move || run(chunk));
        }
    });
    let parallel = start.elapsed();
    println!(
        "  vipsthumbnail: {:.1} ms/photo one process per photo; {:.1} ms/photo in one batch process; \
         {:.1} photos/s with {cores} batch processes",
        millis(per_process) / n as f64,
        millis(batch) / n as f64,
        n as f64 / parallel.as_secs_f64()
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
