//! A transformer that misbehaves on request, to prove the host contains it. The `mode` setting
//! picks the misbehaviour:
//! - `spin`: loops forever;
//! - `bomb`: allocates memory until it is stopped;
//! - `stack`: recurses without end;
//! - `panic`: panics with a message;
//! - `garbage`: returns bytes that are not a JPEG;
//! - `liar`: returns a JPEG header claiming a size it does not have;
//! - `flood`: logs ten thousand lines, then rejects the photo;
//! - `oversize`: returns a baseline JPEG of the profile's size whose bytes exceed its limit;
//! - `skeleton`: behaves: returns the headers of a baseline JPEG of the profile's size, within
//!   its limits (the host checks only headers), so a test can see which profile each call got.

wit_bindgen::generate!({ path: "../../../wit", world: "transformer-plugin" });

use exports::photosync::plugin::transformer::{Guest, Profile, Rejection, Rendition};
use photosync::plugin::log::{Level, log};
use photosync::plugin::types::Setting;

struct Hostile;

impl Guest for Hostile {
    fn transform(
        settings: Vec<Setting>,
        photo: Vec<u8>,
        profile: Profile,
    ) -> Result<Rendition, Rejection> {
        let mode = settings
            .iter()
            .find(|s| s.key == "mode")
            .map_or("", |s| s.value.as_str());
        match mode {
            "spin" => spin(photo.len()),
            "bomb" => bomb(),
            "stack" => Ok(Rendition {
                jpeg: vec![],
                width: recurse(photo.len() as u32),
                height: 0,
                quality: 0,
            }),
            "panic" => panic!("hostile plugin panics on purpose"),
            "garbage" => Ok(Rendition {
                jpeg: b"this is not a jpeg".to_vec(),
                width: 96,
                height: 96,
                quality: 80,
            }),
            "liar" => Ok(Rendition {
                jpeg: liar_jpeg(),
                width: 96,
                height: 96,
                quality: 80,
            }),
            "oversize" => Ok(skeleton(&profile, profile.max_bytes as usize + 1)),
            "skeleton" => Ok(skeleton(&profile, 0)),
            "flood" => {
                for i in 0..10_000 {
                    log(Level::Info, &format!("flood line {i}"));
                }
                Err(Rejection::Corrupt("flooded".into()))
            }
            other => Err(Rejection::InvalidSetting(format!("unknown mode {other:?}"))),
        }
    }
}

fn spin(seed: usize) -> Result<Rendition, Rejection> {
    let mut x = seed as u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        if x == 0 {
            return Err(Rejection::Corrupt(String::new()));
        }
    }
}

fn bomb() -> Result<Rendition, Rejection> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 8 << 20];
        chunk[0] = hoard.len() as u8;
        hoard.push(std::hint::black_box(chunk));
    }
}

#[allow(unconditional_recursion)]
fn recurse(n: u32) -> u32 {
    let local = std::hint::black_box([n; 64]);
    recurse(local[3].wrapping_add(1)).wrapping_add(local[7])
}

/// SOI, a baseline frame header saying 4000x3000, a scan header, EOI.
fn liar_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend([
        0xFF, 0xC0, 0x00, 0x0B, 8, 0x0B, 0xB8, 0x0F, 0xA0, 1, 1, 0x11, 0,
    ]);
    j.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0xFF, 0xD9]);
    j
}

/// A frame header of the profile's largest size and an empty scan, padded to `len` bytes.
fn skeleton(profile: &Profile, len: usize) -> Rendition {
    let (w, h) = (profile.max_width as u16, profile.max_height as u16);
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8];
    j.extend(h.to_be_bytes());
    j.extend(w.to_be_bytes());
    j.extend([1, 1, 0x11, 0]);
    j.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0]);
    if len > j.len() + 2 {
        j.resize(len - 2, 0);
    }
    j.extend([0xFF, 0xD9]);
    Rendition {
        jpeg: j,
        width: profile.max_width,
        height: profile.max_height,
        quality: 80,
    }
}

export!(Hostile);
