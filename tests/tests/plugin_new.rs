//! `photosync plugin new` end to end: the `photosync` binary writes a project, its own `build`
//! script builds it with the real tool chain, `photosync plugin inspect` accepts the component
//! for its role and `photosync plugin test` passes the project's `cases.toml`.
//!
//! Covered: every role in Rust (one shared `CARGO_TARGET_DIR`, so wit-bindgen compiles once and
//! later runs reuse it); the matcher and the transformer in Python; the deduper and the
//! transformer in JavaScript. All nine combinations take over three minutes on two cores
//! (componentize-py and jco builds take 11-26 s each, and each 12-18 MB component is compiled
//! by the host once), so the Python deduper and the JavaScript matcher are left out.
//!
//! The Python and JavaScript builds use the tool chains of the example plugins
//! (`plugins/match-table-py/.venv`, `plugins/dedup-keep-manual-js/node_modules`, through the
//! build scripts' `COMPONENTIZE_PY` and `JCO`), which those examples' builds install on first
//! use, so nothing is installed twice. Needs cargo with wasm32-wasip2, python3-venv, node and
//! npm, crates.io, PyPI and the npm registry.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Kept between runs: the Rust projects' target folder and photosync's compiled-plugin cache.
fn kept_dir(name: &str) -> PathBuf {
    Path::new(env!("PHOTOSYNC_TEST_PLUGIN_DIR"))
        .join("../../plugin-new")
        .join(name)
}

/// The `photosync` binary with a quiet log and the kept code cache.
fn photosync() -> Command {
    let mut cmd = Command::new(photosync_tests::stack::photosync_binary());
    cmd.env("PHOTOSYNC_LOG", "warn")
        .env("XDG_CACHE_HOME", kept_dir("cache"));
    cmd
}

/// Runs `cmd`, asserts that it succeeded and returns its standard output.
fn run(mut cmd: Command, what: &str) -> String {
    let started = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    stdout
}

/// A tool an example plugin's build installs; installed by running that build once if missing.
fn example_tool(tool: &str, example_build: &str) -> PathBuf {
    let path = root().join(tool);
    if !path.exists() {
        let out = tempfile::tempdir().expect("tempdir");
        let mut build = Command::new(root().join(example_build));
        build.arg(out.path().join("example.wasm"));
        run(build, example_build);
    }
    assert!(path.exists(), "{example_build} installs {}", path.display());
    path
}

/// Generates, builds, inspects and tests one project; `env` goes to its build script.
fn generate_and_check(role: &str, lang: &str, env: &[(&str, &Path)]) {
    let temp = tempfile::tempdir().expect("tempdir");
    let name = format!("new-{lang}-{role}");
    let dir = temp.path().join(&name);
    let mut new = photosync();
    new.args(["plugin", "new", "--role", role, "--lang", lang])
        .arg(&dir);
    let created = run(new, &format!("plugin new --role {role} --lang {lang}"));
    assert!(created.contains("cases.toml"), "{created}");

    let mut build = Command::new(dir.join("build"));
    for (key, value) in env {
        build.env(key, value);
    }
    run(build, &format!("{name}/build"));
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(wasm.is_file(), "the build wrote {}", wasm.display());

    let mut inspect = photosync();
    inspect.args(["plugin", "inspect"]).arg(&wasm);
    let report = run(inspect, &format!("plugin inspect {name}.wasm"));
    assert!(
        report.contains(&format!("role: {role} (photosync:plugin/{role}@0.1.1)")),
        "{report}"
    );

    let mut test = photosync();
    test.args(["plugin", "test"])
        .arg(&wasm)
        .arg("--cases")
        .arg(dir.join("cases.toml"));
    let report = run(test, &format!("plugin test {name}.wasm"));
    eprintln!("{report}");
    let last = report.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{report}");
    assert!(!last.starts_with("0 passed"), "{report}");
}

#[test]
fn rust_projects_of_every_role_build_and_pass_their_cases() {
    let target = kept_dir("cargo");
    for role in ["matcher", "deduper", "transformer"] {
        generate_and_check(role, "rust", &[("CARGO_TARGET_DIR", &target)]);
    }
}

#[test]
fn python_projects_build_and_pass_their_cases() {
    let tool = example_tool(
        "plugins/match-table-py/.venv/bin/componentize-py",
        "plugins/match-table-py/build",
    );
    for role in ["matcher", "transformer"] {
        generate_and_check(role, "python", &[("COMPONENTIZE_PY", &tool)]);
    }
}

#[test]
fn javascript_projects_build_and_pass_their_cases() {
    let tool = example_tool(
        "plugins/dedup-keep-manual-js/node_modules/.bin/jco",
        "plugins/dedup-keep-manual-js/build",
    );
    for role in ["deduper", "transformer"] {
        generate_and_check(role, "js", &[("JCO", &tool)]);
    }
}
