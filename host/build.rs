//! Builds the reference plugins for wasm32-wasip2 so that `src/plugins/builtin.rs` can embed them.
//! Packagers who build the components separately set `PHOTOSYNC_PLUGIN_DIR` to their directory.

fn main() {
    println!("cargo:rerun-if-env-changed=PHOTOSYNC_PLUGIN_DIR");
    if let Some(dir) = std::env::var_os("PHOTOSYNC_PLUGIN_DIR") {
        println!(
            "cargo:rustc-env=PHOTOSYNC_PLUGIN_DIR={}",
            std::path::Path::new(&dir).display()
        );
        return;
    }
    let root = build_wasm::workspace_root();
    let dir = build_wasm::build(&root, &["match-pattern", "transform-jpeg", "dedup-md5"]);
    println!("cargo:rustc-env=PHOTOSYNC_PLUGIN_DIR={}", dir.display());
}
