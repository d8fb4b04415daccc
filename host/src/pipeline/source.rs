//! The event's source photo: its bytes, fetched only when a rendition needs them, and its
//! deduper digest. A photo in the bucket is known by its content digest (SHA-256, checked by
//! the object store client as the bytes are read; declared by the event or asked of the
//! bucket), so a photo sent again unchanged is decided from a remembered digest without reading
//! megabytes from the bucket.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine as _;

use super::{Pipeline, Stop, failed, plugin_failed, reject};
use crate::events::{PHOTOS_BUCKET, PhotoRef, PhotoUpload};

/// How many content digests are remembered (about 150 bytes each).
const REMEMBERED: usize = 100_000;

/// Deduper digests by photo-bucket content digest, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Digests(Mutex<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    by_content: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Digests {
    fn get(&self, content: &str) -> Option<String> {
        let remembered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        remembered.by_content.get(content).cloned()
    }

    fn insert(&self, content: String, digest: String) {
        if content.is_empty() {
            return;
        }
        let mut remembered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if remembered
            .by_content
            .insert(content.clone(), digest)
            .is_none()
        {
            remembered.order.push_back(content);
        }
        while remembered.order.len() > REMEMBERED {
            if let Some(old) = remembered.order.pop_front() {
                remembered.by_content.remove(&old);
            }
        }
    }
}

/// Where the bytes are.
enum Bytes {
    Here(Vec<u8>),
    /// In the bucket under this name, with the content digest the source digest belongs to.
    Stored {
        name: String,
        content: String,
    },
}

/// The source photo of one event.
pub(super) struct Source {
    bytes: Bytes,
    /// The deduper's digest of the bytes.
    pub digest: String,
}

impl Source {
    /// The bytes, read from the bucket on first use.
    pub async fn bytes(&mut self, pipeline: &Pipeline) -> Result<&[u8], Stop> {
        if let Bytes::Stored { name, content } = &self.bytes {
            let stored = fetch(pipeline, name, Some(content)).await?;
            self.bytes = Bytes::Here(stored.bytes);
        }
        match &self.bytes {
            Bytes::Here(bytes) => Ok(bytes),
            Bytes::Stored { .. } => unreachable!("read above"),
        }
    }
}

/// Reads a bucket photo, which must have the `expected` content when the event says so.
async fn fetch(
    pipeline: &Pipeline,
    name: &str,
    expected: Option<&str>,
) -> Result<crate::bus::StoredPhoto, Stop> {
    let stored = pipeline
        .bus
        .get_photo(name)
        .await
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| missing(name))?;
    match expected {
        Some(content) if stored.content != content => Err(reject(format!(
            "the photo {name:?} in the bucket {PHOTOS_BUCKET} is no longer the one this event is about \
             (it was replaced); the event that came with the current photo applies"
        ))),
        _ => Ok(stored),
    }
}

fn missing(name: &str) -> Stop {
    reject(format!(
        "the event refers to the object {name:?}, which is not in the bucket {PHOTOS_BUCKET}; publish the photo again"
    ))
}

impl Pipeline {
    /// The event's photo and its digest. A bucket photo whose content was seen before is not read.
    pub(super) async fn source(&self, event: &PhotoUpload) -> Result<Source, Stop> {
        match &event.photo {
            PhotoRef::Inline(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| reject(format!("the inline photo is not valid base64: {e}")))?;
                let digest = self.deduper.digest(&bytes).map_err(plugin_failed)?;
                Ok(Source {
                    bytes: Bytes::Here(bytes),
                    digest,
                })
            }
            PhotoRef::Object(name) => {
                let content = match &event.photo_digest {
                    Some(declared) => declared.clone(),
                    None => self
                        .bus
                        .photo_content(name)
                        .await
                        .map_err(|e| failed(e.to_string()))?
                        .ok_or_else(|| missing(name))?,
                };
                if let Some(digest) = self.digests.get(&content) {
                    return Ok(Source {
                        bytes: Bytes::Stored {
                            name: name.clone(),
                            content,
                        },
                        digest,
                    });
                }
                let stored = fetch(self, name, Some(&content)).await?;
                let digest = self.deduper.digest(&stored.bytes).map_err(plugin_failed)?;
                self.digests.insert(stored.content, digest.clone());
                Ok(Source {
                    bytes: Bytes::Here(stored.bytes),
                    digest,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Digests;

    #[test]
    fn remembers_and_forgets_oldest_first() {
        let digests = Digests::default();
        digests.insert("SHA-256=a".into(), "d1".into());
        digests.insert("".into(), "ignored".into());
        assert_eq!(digests.get("SHA-256=a").as_deref(), Some("d1"));
        assert_eq!(digests.get(""), None);
        for i in 0..super::REMEMBERED {
            digests.insert(format!("SHA-256={i}"), "d".into());
        }
        assert_eq!(digests.get("SHA-256=a"), None);
        assert_eq!(digests.get("SHA-256=0").as_deref(), Some("d"));
    }
}
