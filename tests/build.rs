//! Builds the test plugins (misbehaving and minimal components) for wasm32-wasip2.

fn main() {
    let root = build_wasm::workspace_root();
    let dir = build_wasm::build(&root, &["hostile", "noop", "sneaky"]);
    println!(
        "cargo:rustc-env=PHOTOSYNC_TEST_PLUGIN_DIR={}",
        dir.display()
    );
}
