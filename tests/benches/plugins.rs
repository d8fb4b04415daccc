//! Plugin benchmarks. Prints figures; asserts nothing about speed.
//!
//! - instantiate + call of a no-op plugin (fresh sandbox per call);
//! - the sandboxed transformer making thumbnailPhoto (96x96) and jpegPhoto (648x648) from
//!   each kind of photo, one at a time and with all cores busy, beside `vipsthumbnail -s WxH
//!   -m centre` making the same size from the same files in the same run:
//!   - generated 4 MP and 12 MP photos, baseline and progressive (as jpeg-encoder writes it,
//!     one DC scan per component; and as libjpeg writes it, through `vips copy
//!     …[interlace]`, with successive approximation);
//!   - real photos: the JPEGs under `BENCH_PHOTOS=DIR`, or by default those of the Debian
//!     package `scripts/install-deps` installs (see [`REAL_PHOTOS`]), baseline and progressive
//!     apart.
//!
//! Run with `cargo bench -p photosync-tests --bench plugins`. `BENCH_QUICK=1` shortens it;
//! `BENCH_ONLY=noop` measures only the call overhead, `BENCH_ONLY=real` only the real photos.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use photosync::plugins::{Decision, DedupInput, Deduper, Limits, Profile};
use photosync::profiles::{jpeg_photo, thumbnail_photo};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::plugins::{file_spec, runtime, transformer};

/// Where the real photos are when `BENCH_PHOTOS` is not set: the camera photos of Debian's
/// `mate-backgrounds` (12, 1280x1024 to 2560x1920, 2 progressive, most with Exif).
const REAL_PHOTOS: &str = "/usr/share/backgrounds/mate/nature";

/// Photos of one kind, benchmarked together.
struct Set {
    label: String,
    files: Vec<PathBuf>,
}

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("photosync plugin benchmarks ({cores} cores)");
    if only.is_empty() || only == "noop" {
        noop_call(&rt, if quick { 2_000 } else { 50_000 });
    }
    if only == "noop" {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vips = vips_available();
    if !vips {
        println!("vipsthumbnail: not installed (apt-get install libvips-tools), no comparison");
    }
    let mut sets = if only == "real" {
        vec![]
    } else {
        generated(dir.path(), vips)
    };
    sets.extend(real());
    let rounds = if quick { 1 } else { 4 };
    for set in &sets {
        let size = set
            .files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum::<u64>()
            / set.files.len().max(1) as u64;
        println!(
            "\n{} ({} files, {:.2} MB each on average)",
            set.label,
            set.files.len(),
            size as f64 / 1e6
        );
        let profiles = [thumbnail_photo(), jpeg_photo()];
        let mut vips_both = 0.0;
        for profile in &profiles {
            let (w, h) = (profile.max_width, profile.max_height);
            println!("  -> {w}x{h} {}", profile.attribute);
            transform_bench(&rt, &set.files, profile, rounds, cores);
            if vips {
                vips_both += vips_bench(&set.files, (w, h), rounds, cores, dir.path());
            }
        }
        println!("  -> both, thumbnailPhoto and jpegPhoto");
        transform_all_bench(&rt, &set.files, &profiles, rounds);
        if vips {
            println!(
                "    vipsthumbnail: {vips_both:.1} ms/photo for both sizes (the two batch runs above)"
            );
        }
    }
}

/// Both renditions of each photo on one core: in one `transform-all` call (one decode), and
/// in one `transform` call per rendition.
fn transform_all_bench(
    rt: &photosync::plugins::Runtime,
    files: &[PathBuf],
    profiles: &[Profile],
    rounds: usize,
) {
    let photos: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read photo"))
        .collect();
    let t = transformer(rt);
    let n = photos.len() * rounds;
    let start = Instant::now();
    for i in 0..n {
        let out = t.transform_all(&photos[i % photos.len()], profiles);
        assert!(
            out.as_ref().is_ok_and(|all| all.iter().all(Result::is_ok)),
            "{out:?}"
        );
    }
    let all = start.elapsed();
    let start = Instant::now();
    for i in 0..n {
        for profile in profiles {
            let out = t.transform(&photos[i % photos.len()], profile);
            assert!(matches!(out, Ok(Ok(_))), "{out:?}");
        }
    }
    let each = start.elapsed();
    println!(
        "    photosync transform-jpeg (sandboxed): {:.1} ms/photo in one transform-all call; {:.1} \
         ms/photo in one call per rendition",
        millis(all) / n as f64,
        millis(each) / n as f64
    );
}

/// Generated photos: 4 MP and 12 MP, baseline and progressive.
fn generated(dir: &Path, vips: bool) -> Vec<Set> {
    let mut sets = vec![];
    for (label, w, h) in [("4 MP", 2448u32, 1632u32), ("12 MP", 4032, 3024)] {
        let tag = label.replace(' ', "");
        let write = |kind: &str, i: u32, bytes: Vec<u8>| {
            let path = dir.join(format!("{tag}-{kind}-{i}.jpg"));
            std::fs::write(&path, bytes).expect("write photo");
            path
        };
        let baseline: Vec<PathBuf> = (0..4u32)
            .map(|i| {
                write(
                    "baseline",
                    i,
                    jpeg(&photo_like(w, h, i + 1), JpegOptions::default()),
                )
            })
            .collect();
        let progressive = JpegOptions {
            progressive: true,
            ..JpegOptions::default()
        };
        let encoder: Vec<PathBuf> = (0..4u32)
            .map(|i| {
                write(
                    "progressive",
                    i,
                    jpeg(&photo_like(w, h, i + 1), progressive),
                )
            })
            .collect();
        if vips {
            let libjpeg: Vec<PathBuf> = baseline
                .iter()
                .map(|from| {
                    let to = from.with_extension("libjpeg.jpg");
                    let status = Command::new("vips")
                        .arg("copy")
                        .arg(from)
                        .arg(format!("{}[Q=90,interlace]", to.display()))
                        .status()
                        .expect("vips runs");
                    assert!(status.success(), "vips copy");
                    to
                })
                .collect();
            sets.push(Set {
                label: format!("generated {label} ({w}x{h}) progressive, libjpeg scans"),
                files: libjpeg,
            });
        }
        sets.push(Set {
            label: format!("generated {label} ({w}x{h}) baseline 4:2:0 q90"),
            files: baseline,
        });
        sets.push(Set {
            label: format!("generated {label} ({w}x{h}) progressive, jpeg-encoder scans"),
            files: encoder,
        });
    }
    sets
}

/// The real photos, baseline and progressive apart.
fn real() -> Vec<Set> {
    let dir =
        std::env::var_os("BENCH_PHOTOS").map_or_else(|| PathBuf::from(REAL_PHOTOS), PathBuf::from);
    let mut files = vec![];
    collect_jpegs(&dir, &mut files);
    files.sort();
    if files.is_empty() {
        println!(
            "\nreal photos: no JPEG under {} (set BENCH_PHOTOS=DIR, or run scripts/install-deps)",
            dir.display()
        );
        return vec![];
    }
    let (progressive, baseline): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|f| is_progressive(f));
    [("baseline", baseline), ("progressive", progressive)]
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(kind, files)| Set {
            label: format!("real photos under {}, {kind}", dir.display()),
            files,
        })
        .collect()
}

fn collect_jpegs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_jpegs(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        {
            out.push(path);
        }
    }
}

/// Whether the JPEG's frame header is progressive (SOF2), by walking its segments.
fn is_progressive(path: &Path) -> bool {
    let data = std::fs::read(path).unwrap_or_default();
    let mut at = 2;
    while let (Some(&0xFF), Some(&marker)) = (data.get(at), data.get(at + 1)) {
        match marker {
            0xC2 => return true,
            0xC0 | 0xC1 | 0xDA => return false,
            _ => {}
        }
        let len = data
            .get(at + 2..at + 4)
            .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        at += 2 + len.max(2);
    }
    false
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
    files: &[PathBuf],
    profile: &Profile,
    rounds: usize,
    cores: usize,
) {
    let photos: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read photo"))
        .collect();
    let t = transformer(rt);
    let _ = t.transform(&photos[0], profile);
    let n = photos.len() * rounds;
    let start = Instant::now();
    for i in 0..n {
        let out = t.transform(&photos[i % photos.len()], profile);
        assert!(matches!(out, Ok(Ok(_))), "{out:?}");
    }
    let single = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..cores {
            let (t, photos) = (&t, &photos);
            s.spawn(move || {
                for i in (c..n).step_by(cores) {
                    let _ = t.transform(&photos[i % photos.len()], profile);
                }
            });
        }
    });
    let parallel = start.elapsed();
    println!(
        "    photosync transform-jpeg (sandboxed): {:.1} ms/photo on one core; {:.1} photos/s on {cores} cores",
        millis(single) / n as f64,
        n as f64 / parallel.as_secs_f64()
    );
}

fn vips_available() -> bool {
    Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `vipsthumbnail` making `width`x`height` from the same files: one process per photo, one
/// batch process (start-up amortised), and one batch process per core. Returns the batch
/// process's milliseconds per photo.
fn vips_bench(
    files: &[PathBuf],
    (width, height): (u32, u32),
    rounds: usize,
    cores: usize,
    dir: &Path,
) -> f64 {
    let out = dir.join("vips-%s.jpg");
    let size = format!("{width}x{height}");
    let run = |batch: &[&PathBuf]| {
        let status = Command::new("vipsthumbnail")
            .args(["-s", &size, "-m", "centre", "-o"])
            .arg(format!("{}[Q=85,strip]", out.display()))
            .args(batch)
            .status()
            .expect("vipsthumbnail runs");
        assert!(status.success());
    };
    let n = files.len() * rounds;
    let all: Vec<&PathBuf> = (0..n).map(|i| &files[i % files.len()]).collect();
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
        "    vipsthumbnail: {:.1} ms/photo one process per photo; {:.1} ms/photo in one batch process; \
         {:.1} photos/s with {cores} batch processes",
        millis(per_process) / n as f64,
        millis(batch) / n as f64,
        n as f64 / parallel.as_secs_f64()
    );
    millis(batch) / n as f64
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
