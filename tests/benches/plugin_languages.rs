//! Plugins in other languages against the reference plugins: the time to compile each component
//! (an empty code cache), and instantiate + call of each (every call gets a fresh instance, as in
//! the service) — the Python matcher `plugins/match-table-py` (componentize-py), the JavaScript
//! deduper `plugins/dedup-keep-manual-js` (jco) and the builtin Rust match-pattern and dedup-md5
//! on the same inputs.
//!
//! Run with `cargo bench -p photosync-tests --bench plugin_languages`; it builds the two
//! components with their build scripts first (as the tests do). `BENCH_QUICK=1` makes fewer
//! calls. It prints figures and asserts nothing about speed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use photosync::offline::default_limits;
use photosync::plugins::{
    Deduper, Matcher, PhotoInfo, PluginSpec, Role, Runtime, RuntimeOptions, Source, builtin,
};
use photosync_tests::plugins::{LanguagePlugin, built_language_plugin};

fn main() {
    let calls = if std::env::var_os("BENCH_QUICK").is_some() {
        200
    } else {
        2000
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "photosync plugins in other languages ({cores} cores; fresh instance per call, {calls} calls each)"
    );
    let python = built_language_plugin(LanguagePlugin::PythonMatcher);
    let js = built_language_plugin(LanguagePlugin::JsDeduper);

    let table = "12345.jpg = employeeID=12345\n".to_owned();
    let photo = PhotoInfo {
        file_name: "12345.jpg".into(),
        source: "bench".into(),
        content_type: "image/jpeg".into(),
        attributes: vec![],
    };
    let matchers = [
        (
            "Python match-table",
            Source::File(python),
            BTreeMap::from([("table".to_owned(), table)]),
        ),
        (
            "Rust match-pattern (builtin)",
            Source::Builtin(builtin::find("match-pattern").expect("builtin")),
            BTreeMap::from([("patterns".to_owned(), "{employeeID}".to_owned())]),
        ),
    ];
    for (what, source, settings) in matchers {
        let (runtime, spec, compiled) = compiled(source, Role::Matcher, settings);
        let matcher = Matcher::load(&runtime, &spec).expect("the matcher loads");
        let times = timed(calls, || {
            matcher.match_photo(&photo).expect("a match");
        });
        report(what, compiled, &times);
    }

    let data = vec![0x5au8; 10_000];
    let dedupers = [
        ("JavaScript dedup-keep-manual", Source::File(js)),
        (
            "Rust dedup-md5 (builtin)",
            Source::Builtin(builtin::find("dedup-md5").expect("builtin")),
        ),
    ];
    for (what, source) in dedupers {
        let (runtime, spec, compiled) = compiled(source, Role::Deduper, BTreeMap::new());
        let deduper = Deduper::load(&runtime, &spec).expect("the deduper loads");
        let times = timed(calls, || {
            deduper.digest(&data).expect("a digest");
        });
        report(&format!("{what}, digest of 10 KB"), compiled, &times);
    }
}

/// A runtime with an empty code cache, the spec, and how long loading took (compiling the
/// component and pre-instantiating it).
fn compiled(
    source: Source,
    role: Role,
    settings: BTreeMap<String, String>,
) -> (Runtime, PluginSpec, Duration) {
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        precompiled_dir: None,
        ..RuntimeOptions::default()
    })
    .expect("the runtime starts");
    let mut spec = PluginSpec::new(&source.to_string(), source, default_limits(role));
    spec.settings = settings;
    let started = Instant::now();
    match role {
        Role::Matcher => drop(Matcher::load(&runtime, &spec).expect("loads")),
        _ => drop(Deduper::load(&runtime, &spec).expect("loads")),
    }
    (runtime, spec, started.elapsed())
}

/// Each of `n` calls' time, after 20 calls to warm up.
fn timed(n: usize, mut call: impl FnMut()) -> Vec<Duration> {
    for _ in 0..20 {
        call();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(what: &str, compiled: Duration, times: &[Duration]) {
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{what}: compile + pre-instantiate {:.2} s; instantiate + call p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs (target <= 1000 µs)",
        compiled.as_secs_f64(),
        us(at(0.5)),
        us(at(0.9)),
        us(at(0.99))
    );
}
