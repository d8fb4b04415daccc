//! A no-op needs almost no stack: a 64 KiB one keeps its memory, and so the per-call reset, small.

fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=65536");
}
