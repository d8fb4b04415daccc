//! Misbehaving plugins are stopped and reported as typed errors naming the plugin, and the
//! runtime keeps serving good plugins afterwards.

use std::time::{Duration, Instant};

use photosync::plugins::{Limits, PluginError, PluginSpec, Rejection, Source, Transformer};
use photosync::profiles::{jpeg_photo, thumbnail_photo};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::plugins::{file_spec, rewrite_wit_version, runtime, test_plugin, transformer};

const LIMITS: Limits = Limits {
    memory_mib: 64,
    deadline_ms: 300,
};

fn hostile(rt: &photosync::plugins::Runtime, mode: &str) -> Transformer {
    Transformer::load(rt, &file_spec("hostile", LIMITS, &[("mode", mode)]))
        .expect("the hostile plugin loads")
}

fn small_photo() -> Vec<u8> {
    jpeg(&photo_like(64, 48, 1), JpegOptions::default())
}

fn good_plugin_still_works(rt: &photosync::plugins::Runtime) {
    let out = transformer(rt).transform(&small_photo(), &photosync::profiles::thumbnail_photo());
    assert!(
        matches!(out, Ok(Ok(_))),
        "the builtin transformer works after a hostile call: {out:?}"
    );
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let plugin = hostile(&rt, "spin");
    let started = Instant::now();
    let err = plugin
        .transform(&small_photo(), &photosync::profiles::thumbnail_photo())
        .expect_err("the loop is stopped");
    let took = started.elapsed();
    assert!(
        matches!(&err, PluginError::Timeout { plugin, deadline_ms: 300 } if plugin == "hostile"),
        "{err:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "stopped within its deadline (took {took:?})"
    );
    assert!(
        err.to_string().contains("deadline-ms"),
        "the message says what to raise: {err}"
    );
    good_plugin_still_works(&rt);
}

#[test]
fn a_memory_bomb_is_stopped_at_its_cap() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = hostile(&rt, "bomb")
        .transform(&small_photo(), &photosync::profiles::thumbnail_photo())
        .expect_err("the bomb is stopped");
    match &err {
        PluginError::MemoryExceeded {
            plugin,
            cap_mib: 64,
            asked_mib,
        } => {
            assert_eq!(plugin, "hostile");
            assert!(*asked_mib > 64, "asked {asked_mib} MiB");
        }
        other => panic!("expected MemoryExceeded, got {other:?}"),
    }
    good_plugin_still_works(&rt);
}

#[test]
fn a_panic_is_a_typed_error_carrying_the_panic_message() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = hostile(&rt, "panic")
        .transform(&small_photo(), &photosync::profiles::thumbnail_photo())
        .expect_err("the panic is reported");
    assert!(
        matches!(&err, PluginError::Crashed { plugin, .. } if plugin == "hostile"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("hostile plugin panics on purpose"),
        "{err}"
    );
    good_plugin_still_works(&rt);
}

#[test]
fn unbounded_recursion_is_a_typed_error() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = hostile(&rt, "stack")
        .transform(&small_photo(), &photosync::profiles::thumbnail_photo())
        .expect_err("the stack overflow is reported");
    // Rust keeps its stack in linear memory, so running off it is an out-of-bounds access.
    assert!(
        matches!(&err, PluginError::Crashed { plugin, .. } if plugin == "hostile"),
        "{err:?}"
    );
    good_plugin_still_works(&rt);
}

#[test]
fn malformed_results_are_refused() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    for mode in ["garbage", "liar"] {
        let err = hostile(&rt, mode)
            .transform(&small_photo(), &photosync::profiles::thumbnail_photo())
            .expect_err("the result is refused");
        assert!(
            matches!(&err, PluginError::MalformedResult { plugin, .. } if plugin == "hostile"),
            "{mode}: {err:?}"
        );
    }
    good_plugin_still_works(&rt);
}

#[test]
fn a_log_flood_is_cut_and_the_call_completes() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let out =
        hostile(&rt, "flood").transform(&small_photo(), &photosync::profiles::thumbnail_photo());
    assert!(matches!(out, Ok(Err(Rejection::Corrupt(_)))), "{out:?}");
}

#[test]
fn a_plugin_importing_an_ungranted_interface_is_refused_at_load() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = Transformer::load(&rt, &file_spec("sneaky", LIMITS, &[])).expect_err("refused");
    assert!(
        matches!(&err, PluginError::ForbiddenImport { import, .. } if import == "test:sneaky/exfiltrate"),
        "{err:?}"
    );
}

#[test]
fn a_plugin_of_another_role_is_refused_at_load() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = Transformer::load(&rt, &file_spec("noop", LIMITS, &[])).expect_err("refused");
    assert!(
        matches!(
            &err,
            PluginError::WrongRole {
                expected: "transformer",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn hostile_calls_in_parallel_do_not_disturb_good_ones() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let bad = hostile(&rt, "spin");
    let good = transformer(&rt);
    let photo = small_photo();
    std::thread::scope(|s| {
        let spinner = s.spawn(|| bad.transform(&photo, &photosync::profiles::thumbnail_photo()));
        for _ in 0..5 {
            let out = good.transform(&photo, &photosync::profiles::thumbnail_photo());
            assert!(matches!(out, Ok(Ok(_))), "{out:?}");
        }
        assert!(matches!(
            spinner.join().expect("no host panic"),
            Err(PluginError::Timeout { .. })
        ));
    });
}

#[test]
fn compiled_code_is_cached_on_disk() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let _ = transformer(&rt);
    let entries = std::fs::read_dir(cache.path())
        .expect("cache dir exists")
        .count();
    assert_eq!(entries, 1, "one compiled component in the cache");
    let rt2 = runtime(&cache);
    good_plugin_still_works(&rt2);
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("cache dir").count(),
        1,
        "the entry is reused"
    );
}

#[test]
fn a_transformer_built_against_wit_0_1_0_is_called_once_per_rendition() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    // The hostile transformer exports `transform` only; its names rewritten to 0.1.0 make it
    // the component a 0.1.0 build gives.
    let wasm = std::fs::read(test_plugin("hostile")).expect("hostile.wasm");
    let path = cache.path().join("hostile-0.1.0.wasm");
    std::fs::write(&path, rewrite_wit_version(&wasm, "0.1.0")).expect("write");
    let report = photosync::plugins::inspect::inspect_bytes(
        &rt,
        "hostile",
        &std::fs::read(&path).expect("read"),
    )
    .expect("inspects");
    assert_eq!(
        report.roles,
        [(photosync::plugins::Role::Transformer, "0.1.0".to_owned())]
    );
    let mut spec = PluginSpec::new("hostile", Source::File(path), LIMITS);
    spec.settings.insert("mode".into(), "skeleton".into());
    let plugin = Transformer::load(&rt, &spec).expect("a 0.1.0 transformer loads");
    assert!(!plugin.makes_all_at_once());
    let profiles = [thumbnail_photo(), jpeg_photo()];
    let photo = jpeg(&photo_like(64, 48, 1), JpegOptions::default());
    let answers = plugin
        .transform_all(&photo, &profiles)
        .expect("the plugin does not fail");
    // Each call got its own profile: the renditions have the sizes of the profiles in order.
    let sizes: Vec<_> = answers
        .iter()
        .map(|a| {
            a.as_ref()
                .map(|r| (r.width, r.height))
                .expect("a rendition")
        })
        .collect();
    assert_eq!(sizes, [(96, 96), (648, 648)]);
}
