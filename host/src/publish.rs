//! `photosync publish`: turns photo files into photo-upload events, inline when small and
//! through the photo Object Store bucket when large.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::bus::{Bus, BusError};
use crate::events::{INLINE_MAX, PhotoRef, PhotoUpload};

/// Why a file could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} has no usable file name")]
    Name { path: String },
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Publishes one file as a photo-upload event and returns the event.
pub async fn publish_file(
    bus: &Bus,
    path: &Path,
    source: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<PhotoUpload, PublishError> {
    let bytes = std::fs::read(path).map_err(|source| PublishError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| PublishError::Name {
            path: path.display().to_string(),
        })?
        .to_owned();
    let (photo, photo_digest) = if bytes.len() > INLINE_MAX {
        bus.put_photo(&file_name, &bytes).await?;
        (
            PhotoRef::Object(file_name.clone()),
            Some(crate::bus::content_digest(&bytes)),
        )
    } else {
        let inline = base64::engine::general_purpose::STANDARD.encode(&bytes);
        (PhotoRef::Inline(inline), None)
    };
    let event = PhotoUpload {
        id: uuid::Uuid::new_v4().to_string(),
        content_type: content_type(&file_name).into(),
        file_name,
        source: source.to_owned(),
        uploaded_at: now_rfc3339(),
        attributes: attributes.clone(),
        photo,
        photo_digest,
    };
    bus.publish_upload(&event).await?;
    Ok(event)
}

fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        _ => "application/octet-stream",
    }
}

/// The current UTC time as RFC 3339 (seconds precision).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_413), (2025, 11, 21));
    }
}
