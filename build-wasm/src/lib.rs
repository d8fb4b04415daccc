//! Builds workspace packages for `wasm32-wasip2` from a build script.
//!
//! The host embeds the reference plugins and the test harness loads its own test plugins; both
//! need the components built before they compile. A build script cannot share the outer cargo's
//! target directory (cargo holds its lock), so this runs a nested cargo on `target/wasm`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` in release mode for [`TARGET`] and returns the directory holding the
/// `<crate_name>.wasm` components. Panics (failing the build) with the cargo output when the
/// build fails, which is the only way a build script can report an error.
pub fn build(workspace_root: &Path, packages: &[&str]) -> PathBuf {
    let target_dir = workspace_root.join("target").join("wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    // The outer build script's environment describes the outer build; hide it from the nested one.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_MAKEFLAGS")
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "OUT_DIR"
                    | "TARGET"
                    | "HOST"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
            );
        if outer {
            cmd.env_remove(&key);
        }
    }
    // Line tables make components several times larger and buy nothing inside the sandbox.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        // Whole-program optimisation: the decoders' hot loops call across crates.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"));
    assert!(
        status.success(),
        "building the plugins {packages:?} for {TARGET} failed (see above); \
         is the target installed? `rustup target add {TARGET}`"
    );
    // The Rust plugin crates only: plugins in other languages (their node_modules and virtual
    // environments hold thousands of files) are not built here.
    let mut watched = vec![workspace_root.join("wit")];
    for dir in ["plugins", "tests/plugins"] {
        let Ok(entries) = std::fs::read_dir(workspace_root.join(dir)) else {
            continue;
        };
        for crate_dir in entries.flatten().map(|e| e.path()) {
            if crate_dir.join("Cargo.toml").is_file() {
                watched.push(crate_dir.join("Cargo.toml"));
                watched.push(crate_dir.join("src"));
            }
        }
    }
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace_root.join("Cargo.lock").display()
    );
    target_dir.join(TARGET).join("release")
}

/// The workspace root, for a build script of a crate one level below it.
pub fn workspace_root() -> PathBuf {
    let manifest =
        env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set for build scripts");
    let mut dir = PathBuf::from(manifest);
    while !dir.join("wit").is_dir() {
        assert!(
            dir.pop(),
            "no workspace root with a wit/ directory above the build script"
        );
    }
    dir
}
