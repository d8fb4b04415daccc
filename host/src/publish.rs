//! `photosync publish`: turns photo files into photo-upload events, inline when small and
//! through the photo Object Store bucket when large; and the photo-changed events the directory
//! path and `export` publish.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::bus::{Bus, BusError};
use crate::directory::Entry;
use crate::events::{ChangeCause, INLINE_MAX, PhotoChanged, PhotoRef, PhotoUpload};
use crate::text::md5_hex;
use crate::timestamps::now_rfc3339;

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
        let content = bus.put_photo(&file_name, &bytes).await?;
        (PhotoRef::Object(file_name.clone()), Some(content))
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

/// A photo-changed event for one attribute of an entry; a photo too large to travel inline is
/// put in the photo bucket.
pub async fn photo_changed_event(
    bus: &Bus,
    id: String,
    entry: &Entry,
    attribute: &str,
    value: Option<&Vec<u8>>,
    cause: ChangeCause,
) -> Result<PhotoChanged, BusError> {
    let photo = match value {
        None => None,
        Some(bytes) if bytes.len() <= INLINE_MAX => Some(PhotoRef::Inline(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
        Some(bytes) => {
            let name = format!("directory/{}/{attribute}.jpg", entry.id);
            bus.put_photo(&name, bytes).await?;
            Some(PhotoRef::Object(name))
        }
    };
    Ok(PhotoChanged {
        id,
        entry_id: entry.id.clone(),
        dn: entry.dn.clone(),
        attribute: attribute.to_owned(),
        md5: value.map(|v| md5_hex(v)),
        bytes: value.map_or(0, Vec::len),
        photo,
        cause,
        changed_at: now_rfc3339(),
    })
}
