//! The `photosync` command line: transform a photo, inspect plugins.

use std::process::Command;

/// The binary, with its compiled-plugin cache in `cache`.
fn photosync(cache: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_photosync"));
    cmd.env("PHOTOSYNC_LOG", "warn")
        .env("XDG_CACHE_HOME", cache);
    cmd
}

/// A tiny PNG made by hand, so this test needs no image library.
fn sample_png(dir: &std::path::Path) -> std::path::PathBuf {
    // A 2x2 RGBA PNG, stored uncompressed (zlib stored block), with correct CRCs.
    let raw: [u8; 18] = [
        0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255, 255,
    ];
    let mut zlib = vec![
        0x78,
        0x01,
        0x01,
        raw.len() as u8,
        0,
        !(raw.len() as u8),
        0xFF,
    ];
    zlib.extend(raw);
    let adler = adler32(&raw);
    zlib.extend(adler.to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 6, 0, 0, 0]));
    png.extend(chunk(b"IDAT", &zlib));
    png.extend(chunk(b"IEND", &[]));
    let path = dir.join("12345.png");
    std::fs::write(&path, png).expect("write sample");
    path
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend(kind);
    c.extend(data);
    let mut crc = !0u32;
    for &b in &c[4..] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    c.extend((!crc).to_be_bytes());
    c
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn transform_writes_a_thumbnail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample_png(dir.path());
    let output = dir.path().join("out.jpg");
    let out = photosync(dir.path())
        .arg("transform")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("96x96 JPEG"), "{stdout}");
    let jpeg = std::fs::read(&output).expect("output written");
    let info = photosync::plugins::jpeg::inspect(&jpeg).expect("a JPEG");
    assert!(info.baseline && !info.has_metadata());
}

#[test]
fn transform_of_a_text_file_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("12345.jpg");
    std::fs::write(&input, "not a photo at all").expect("write");
    let out = photosync(dir.path())
        .arg("transform")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.jpg"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("was rejected") && stderr.contains("unsupported image format"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.jpg").exists(), "nothing written");
}

#[test]
fn inspect_describes_a_builtin_and_refuses_a_non_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = photosync(dir.path())
        .args(["plugin", "inspect", "builtin:dedup-md5"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("role: deduper (photosync:plugin/deduper@0.1.1)"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: usable"), "{stdout}");
    // Each import with what it gets.
    let grant_of = |interface: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(interface))
            .unwrap_or_else(|| panic!("{interface} is listed: {stdout}"))
            .to_owned()
    };
    assert!(
        grant_of("photosync:plugin/types@").ends_with("granted: types"),
        "{stdout}"
    );
    assert!(
        grant_of("wasi:cli/environment@").ends_with("denied: environment (empty)"),
        "{stdout}"
    );

    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, "(module)").expect("write");
    let out = photosync(dir.path())
        .args(["plugin", "inspect"])
        .arg(&bogus)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bogus.wasm is not a usable WebAssembly component"),
        "{stderr}"
    );
}
