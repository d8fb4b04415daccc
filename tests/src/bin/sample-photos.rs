//! Writes a folder of sample photos for the demo: camera-sized JPEGs named by employee ID and by
//! name, one taken with the camera on its side, a PNG with transparency, and a damaged file.
//!
//! Usage: `sample-photos DIR`

use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like, png_rgba, stored_for_orientation};

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "sample-photos".into());
    std::fs::create_dir_all(&dir)?;
    let camera = photo_like(2448, 1632, 1);
    std::fs::write(dir.join("12345.jpg"), jpeg(&camera, JpegOptions::default()))?;
    let sideways = stored_for_orientation(&photo_like(1632, 2448, 2), 6);
    std::fs::write(
        dir.join("23456.jpg"),
        jpeg(
            &sideways,
            JpegOptions {
                orientation: Some(6),
                ..JpegOptions::default()
            },
        ),
    )?;
    std::fs::write(
        dir.join("john_smith.jpg"),
        jpeg(
            &photo_like(4032, 3024, 3),
            JpegOptions {
                progressive: true,
                ..JpegOptions::default()
            },
        ),
    )?;
    let (w, h) = (800, 800);
    let rgba: Vec<u8> = photo_like(w, h, 4)
        .pixels
        .chunks(3)
        .enumerate()
        .flat_map(|(i, p)| {
            [
                p[0],
                p[1],
                p[2],
                if (i as u32 % w) < w / 8 { 0 } else { 255 },
            ]
        })
        .collect();
    std::fs::write(dir.join("ada_lovelace.png"), png_rgba(w, h, &rgba, None))?;
    let damaged = jpeg(&photo_like(640, 480, 5), JpegOptions::default());
    std::fs::write(dir.join("99999.jpg"), &damaged[..damaged.len() / 4])?;
    println!("wrote 5 sample photos to {}", dir.display());
    Ok(())
}
