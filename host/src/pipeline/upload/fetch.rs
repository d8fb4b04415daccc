//! Stage 2, fetch: the event's photo and its deduper digest. An inline photo is known by the
//! BLAKE3 hash of its base64 text, and decoded only when it is new or is to be transformed; a
//! photo in the bucket is known by its content digest (SHA-256, checked by the object store
//! client as the bytes are read; declared by the event or asked of the bucket). Either way a
//! photo sent again unchanged is decided from a remembered deduper digest, without calling the
//! deduper again, decoding the text or reading megabytes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::bus::{Bus, StoredObject};
use crate::events::{PhotoRef, PhotoUpload};
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;

/// How many content digests are remembered (about 150 bytes each).
const REMEMBERED: usize = 100_000;

/// Deduper digests by content digest (the object store's SHA-256, or [`inline_content`] for an
/// inline photo), oldest forgotten first.
#[derive(Debug, Default)]
pub struct Digests(Mutex<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    by_content: HashMap<String, String>,
    order: VecDeque<String>,
    /// Per content being read now, the turn its readers take one after another.
    reading: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

impl Digests {
    fn lock(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, content: &str) -> Option<String> {
        self.lock().by_content.get(content).cloned()
    }

    /// The turn of the readers of `content`, shared while any of them holds it.
    fn turn(&self, content: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.lock()
            .reading
            .entry(content.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets the turn of `content` once no reader holds it (`turn` is the caller's, dropped
    /// here).
    fn end_turn(&self, content: &str, turn: Arc<tokio::sync::Mutex<()>>) {
        drop(turn);
        let mut remembered = self.lock();
        if remembered
            .reading
            .get(content)
            .is_some_and(|t| Arc::strong_count(t) == 1)
        {
            remembered.reading.remove(content);
        }
    }

    /// The deduper's digest of a directory value (or of a rendition about to become one),
    /// asked of `digest` only for bytes not seen before. Remembered by the BLAKE3 hash of the
    /// bytes: the same bytes always get the same digest, and a photo sent again finds in the
    /// entry the value photosync wrote, whose digest is known from writing it.
    pub(crate) fn of_value<E>(
        &self,
        value: &[u8],
        digest: impl FnOnce(&[u8]) -> Result<String, E>,
    ) -> Result<String, E> {
        let key = format!("BLAKE3={}", blake3::hash(value).to_hex());
        if let Some(known) = self.get(&key) {
            return Ok(known);
        }
        let computed = digest(value)?;
        self.insert(key, computed.clone());
        Ok(computed)
    }

    fn insert(&self, content: String, digest: String) {
        if content.is_empty() {
            return;
        }
        let mut remembered = self.lock();
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
    /// Still base64 (an inline photo whose digest was remembered), decoded on first use.
    Encoded(String),
    /// In the bucket under this name, with the content digest the source digest belongs to.
    Stored {
        name: String,
        content: String,
    },
}

/// The source photo of one event.
pub(crate) struct Source {
    bytes: Bytes,
    /// The deduper's digest of the bytes.
    pub digest: String,
}

impl Source {
    /// The bytes, decoded or read from the bucket on first use.
    pub async fn bytes(&mut self, bus: &Bus) -> Result<&[u8], Stop> {
        match &self.bytes {
            Bytes::Here(_) => {}
            Bytes::Encoded(text) => self.bytes = Bytes::Here(decode(text)?),
            Bytes::Stored { name, content } => {
                let stored = read(bus, name, Some(content)).await?;
                self.bytes = Bytes::Here(stored.bytes);
            }
        }
        match &self.bytes {
            Bytes::Here(bytes) => Ok(bytes),
            Bytes::Encoded(_) | Bytes::Stored { .. } => unreachable!("made here above"),
        }
    }
}

/// The event's photo and its digest; `given` bytes (a dry run's file) are taken as they are.
/// A bucket photo whose content was seen before is not read. An inline photo's text moves into
/// the source (the event keeps an empty one): a re-sent photo's hundred kilobytes are not
/// copied.
pub(crate) async fn fetch(
    p: &Pipeline,
    event: &mut PhotoUpload,
    given: Option<Vec<u8>>,
) -> Result<Source, Stop> {
    let here = |bytes| here(p, bytes);
    if let Some(bytes) = given {
        return here(bytes);
    }
    match &mut event.photo {
        PhotoRef::Inline(text) => {
            // Hashed here natively, a re-sent photo spares the deduper's pass over it, and its
            // text is not decoded unless a rendition needs transforming.
            let content = inline_content(text);
            if let Some(digest) = p.digests.get(&content) {
                let bytes = Bytes::Encoded(std::mem::take(text));
                return Ok(Source { bytes, digest });
            }
            remembered(p, decode(text)?, content)
        }
        PhotoRef::Object(name) => {
            let content = match &event.photo_digest {
                Some(declared) => declared.clone(),
                None => p
                    .bus
                    .photo_content(name)
                    .await
                    .map_err(|e| Stop::failed(e.to_string()))?
                    .ok_or_else(|| missing(&p.bus, name))?,
            };
            if let Some(digest) = p.digests.get(&content) {
                let bytes = Bytes::Stored {
                    name: name.clone(),
                    content,
                };
                return Ok(Source { bytes, digest });
            }
            // Events of the same photo arriving together take turns: the first reads it, the
            // others find its digest remembered instead of all reading the same megabytes.
            let turn = p.digests.turn(&content);
            let taken = turn.lock().await;
            let source = match p.digests.get(&content) {
                Some(digest) => Ok(Source {
                    bytes: Bytes::Stored {
                        name: name.clone(),
                        content: content.clone(),
                    },
                    digest,
                }),
                None => read_and_remember(p, name, &content).await,
            };
            drop(taken);
            p.digests.end_turn(&content, turn);
            source
        }
    }
}

/// The content digest an inline photo is remembered by: the BLAKE3 hash of its base64 text.
/// The same text always decodes to the same bytes, so equal digests mean the same photo (the
/// same photo in other text, differently padded say, is only a photo not remembered); and the
/// text is hashed faster than it is decoded.
fn inline_content(text: &str) -> String {
    format!("inline-BLAKE3={}", blake3::hash(text.as_bytes()).to_hex())
}

/// The bytes of an inline photo's base64 `text`.
fn decode(text: &str) -> Result<Vec<u8>, Stop> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Stop::rejected(format!("the inline photo is not valid base64: {e}")))
}

/// Reads a bucket photo and remembers its deduper digest by its content digest.
async fn read_and_remember(p: &Pipeline, name: &str, content: &str) -> Result<Source, Stop> {
    let stored = read(&p.bus, name, Some(content)).await?;
    remembered(p, stored.bytes, stored.content)
}

/// A source whose bytes are here, with the deduper's digest of them remembered for their
/// `content` digest. Both callers have just found nothing remembered for it.
fn remembered(p: &Pipeline, bytes: Vec<u8>, content: String) -> Result<Source, Stop> {
    let source = here(p, bytes)?;
    p.digests.insert(content, source.digest.clone());
    Ok(source)
}

/// A source whose bytes are here, with the deduper's digest of them.
fn here(p: &Pipeline, bytes: Vec<u8>) -> Result<Source, Stop> {
    let digest = p.deduper.digest(&bytes).map_err(Stop::plugin)?;
    Ok(Source {
        bytes: Bytes::Here(bytes),
        digest,
    })
}

/// Reads a bucket photo, which must have the `expected` content when the event says so.
async fn read(bus: &Bus, name: &str, expected: Option<&str>) -> Result<StoredObject, Stop> {
    let stored = bus
        .get_photo(name)
        .await
        .map_err(|e| Stop::failed(e.to_string()))?
        .ok_or_else(|| missing(bus, name))?;
    match expected {
        Some(content) if stored.content != content => Err(Stop::rejected(format!(
            "the photo {name:?} in the bucket {} is no longer the one this event is about \
             (it was replaced); the event that came with the current photo applies",
            bus.names().photos_bucket
        ))),
        _ => Ok(stored),
    }
}

fn missing(bus: &Bus, name: &str) -> Stop {
    Stop::rejected(format!(
        "the event refers to the object {name:?}, which is not in the bucket {}; publish the photo again",
        bus.names().photos_bucket
    ))
}

#[cfg(test)]
mod tests {
    use super::{Digests, decode, inline_content};

    #[test]
    fn inline_text_is_known_by_its_hash_and_bad_base64_is_rejected() {
        let content = inline_content("AAEC");
        assert_eq!(content, inline_content("AAEC"));
        assert_ne!(content, inline_content("AAED"));
        assert!(content.starts_with("inline-BLAKE3="), "{content}");
        assert_eq!(decode("AAEC").expect("valid"), [0, 1, 2]);
        let stop = decode("AA!C").expect_err("not base64");
        assert!(stop.reason.contains("not valid base64"), "{}", stop.reason);
    }

    #[test]
    fn a_turn_is_forgotten_when_its_last_reader_ends_it() {
        let digests = Digests::default();
        let (first, second) = (digests.turn("SHA-256=a"), digests.turn("SHA-256=a"));
        assert!(
            std::sync::Arc::ptr_eq(&first, &second),
            "one turn per content"
        );
        digests.end_turn("SHA-256=a", first);
        assert_eq!(
            digests.lock().reading.len(),
            1,
            "the second reader still holds it"
        );
        digests.end_turn("SHA-256=a", second);
        assert!(digests.lock().reading.is_empty());
    }

    #[test]
    fn a_values_digest_is_asked_once_per_bytes_and_a_failure_is_not_remembered() {
        let digests = Digests::default();
        let asked = std::cell::Cell::new(0);
        let digest = |v: &[u8]| {
            asked.set(asked.get() + 1);
            Ok::<_, ()>(format!("d{}", v.len()))
        };
        assert_eq!(digests.of_value(b"photo", digest), Ok("d5".into()));
        assert_eq!(digests.of_value(b"photo", digest), Ok("d5".into()));
        assert_eq!(asked.get(), 1, "the same bytes: remembered");
        assert_eq!(digests.of_value(b"other", digest), Ok("d5".into()));
        assert_eq!(asked.get(), 2, "other bytes: asked");
        assert_eq!(digests.of_value(b"bad", |_| Err("refused")), Err("refused"));
        assert_eq!(digests.of_value(b"bad", digest), Ok("d3".into()));
        assert!(
            digests
                .lock()
                .by_content
                .keys()
                .all(|k| k.starts_with("BLAKE3=")),
            "values are kept apart from photos' content digests"
        );
    }

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
