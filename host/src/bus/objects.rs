//! Photos and plugins in Object Store buckets: stored in chunks sized for the server, read with
//! their content digests checked, and erased with every record of their names (the state
//! bucket's keys too).

use async_nats::jetstream::{self, object_store, stream};
use tokio::io::AsyncReadExt;

use super::{Bus, BusError, err};

/// The object store's content digest of `bytes`: `SHA-256=` and the URL-safe base64 of the hash.
pub fn content_digest(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(sha2::Sha256::digest(bytes))
    )
}

/// The chunk size photos are stored in: half the server's largest message, at most 512 KiB
/// (that under the default 1 MiB), and not below the object store's usual 128 KiB unless the
/// server's messages are smaller still (an unknown limit, 0, keeps the usual size). The client
/// waits for each chunk to be stored before it sends the next, so a photo in two chunks
/// instead of eight costs a quarter of the round trips.
fn photo_chunk_size(max_payload: usize) -> usize {
    const USUAL: usize = 128 * 1024;
    if max_payload == 0 {
        return USUAL;
    }
    (max_payload / 2)
        .max(USUAL.min(max_payload))
        .min(512 * 1024)
}

/// An object read from a bucket: a photo from the photo bucket, or a plugin's code.
#[derive(Debug)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// The object's content digest, `SHA-256=…`; the bytes were checked against it.
    pub content: String,
}

/// Deletes object `name` of `bucket` (`store`), then purges its metadata subject, so that not
/// even the deletion marker keeps its name.
pub(crate) async fn erase_object(
    js: &jetstream::Context,
    store: &object_store::ObjectStore,
    bucket: &str,
    name: &str,
) -> Result<(), BusError> {
    use base64::Engine as _;
    store
        .delete(name)
        .await
        .map_err(|e| err(&format!("cannot delete {name} from bucket {bucket}"), e))?;
    let meta = format!(
        "$O.{bucket}.M.{}",
        base64::engine::general_purpose::URL_SAFE.encode(name)
    );
    purge_subject(js, &format!("OBJ_{bucket}"), &meta).await
}

/// Removes every message of `subject` from `stream`.
async fn purge_subject(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<(), BusError> {
    let handle = js
        .get_stream(stream)
        .await
        .map_err(|e| err(&format!("cannot open stream {stream}"), e))?;
    handle
        .purge()
        .filter(subject)
        .await
        .map(|_| ())
        .map_err(|e| err(&format!("cannot purge {subject} from {stream}"), e))
}

impl Bus {
    /// Stores a photo under `name` in the photo bucket, unless the same bytes are there
    /// already, and returns their content digest (see [`content_digest`]).
    pub async fn put_photo(&self, name: &str, bytes: &[u8]) -> Result<String, BusError> {
        let content = content_digest(bytes);
        if self.photo_content(name).await?.as_deref() == Some(&content) {
            // Already there, byte for byte: a photo sent again is not copied again.
            return Ok(content);
        }
        let meta = object_store::ObjectMetadata {
            name: name.to_owned(),
            chunk_size: Some(photo_chunk_size(self.client.server_info().max_payload)),
            ..Default::default()
        };
        let mut reader = bytes;
        self.photos
            .put(meta, &mut reader)
            .await
            .map(|_| content)
            .map_err(|e| err(&format!("cannot store photo {name}"), e))
    }

    /// The photo stored under `name` with its content digest (the object's `SHA-256=…`, checked
    /// against the bytes as they are read), or `None` when there is none.
    pub async fn get_photo(&self, name: &str) -> Result<Option<StoredObject>, BusError> {
        let mut object = match self.photos.get(name).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(&format!("cannot read photo {name}"), e)),
        };
        let content = object.info.digest.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| err(&format!("cannot read photo {name}"), e))?;
        Ok(Some(StoredObject { bytes, content }))
    }

    /// Erases the photo stored under `name`, its chunks and every record of its name (the
    /// deletion marker included); false when there was none.
    pub async fn erase_photo(&self, name: &str) -> Result<bool, BusError> {
        if self.photo_content(name).await?.is_none() {
            return Ok(false);
        }
        erase_object(&self.js, &self.photos, &self.names.photos_bucket, name).await?;
        Ok(true)
    }

    /// Erases every value of `key` in the state bucket, the purge marker included (a KV purge
    /// alone would leave the key in the bucket's stream); false when it held none.
    pub async fn erase_state_key(&self, key: &str) -> Result<bool, BusError> {
        if self
            .state
            .get(key)
            .await
            .map_err(|e| err("cannot read sync state", e))?
            .is_none()
        {
            return Ok(false);
        }
        let stream = format!("KV_{}", self.names.state_bucket);
        purge_subject(
            &self.js,
            &stream,
            &format!("$KV.{}.{key}", self.names.state_bucket),
        )
        .await?;
        Ok(true)
    }

    /// The content digest of the photo stored under `name` without reading it, or `None` when
    /// there is none.
    pub async fn photo_content(&self, name: &str) -> Result<Option<String>, BusError> {
        match self.photos.info(name).await {
            Ok(info) if info.deleted => Ok(None),
            Ok(info) => Ok(info.digest),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(&format!("cannot read photo {name}"), e)),
        }
    }

    /// Stores a plugin's component as `name` in the plugin bucket (created when missing, with
    /// this connection's replicas).
    pub async fn put_plugin(&self, name: &str, wasm: &[u8]) -> Result<(), BusError> {
        let store = super::object_store(
            &self.js,
            object_store::Config {
                bucket: self.names.plugins_bucket.clone(),
                description: Some(
                    "plugin components, pinned by SHA-256 in the configuration".into(),
                ),
                storage: stream::StorageType::File,
                num_replicas: self.replicas,
                ..Default::default()
            },
        )
        .await?;
        let mut reader = wasm;
        store
            .put(name, &mut reader)
            .await
            .map(|_| ())
            .map_err(|e| err(&format!("cannot store plugin {name}"), e))
    }

    /// The object `name` of Object Store bucket `bucket` (a plugin's code) and its content
    /// digest, checked as it is read.
    pub async fn get_object(&self, bucket: &str, name: &str) -> Result<StoredObject, BusError> {
        let store = self
            .js
            .get_object_store(bucket)
            .await
            .map_err(|e| err(&format!("cannot open bucket {bucket}"), e))?;
        let mut object = store
            .get(name)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        let content = object.info.digest.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        Ok(StoredObject { bytes, content })
    }

    /// The content digest of object `name` in bucket `bucket` without reading it.
    pub async fn object_content(&self, bucket: &str, name: &str) -> Result<String, BusError> {
        let store = self
            .js
            .get_object_store(bucket)
            .await
            .map_err(|e| err(&format!("cannot open bucket {bucket}"), e))?;
        let info = store
            .info(name)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        match info.deleted {
            true => Err(BusError(format!("{name} was deleted from bucket {bucket}"))),
            false => Ok(info.digest.unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::photo_chunk_size;

    #[test]
    fn photo_chunks_are_half_the_largest_message_within_bounds() {
        assert_eq!(photo_chunk_size(1 << 20), 512 * 1024);
        assert_eq!(photo_chunk_size(8 << 20), 512 * 1024);
        assert_eq!(photo_chunk_size(400 * 1024), 200 * 1024);
        assert_eq!(photo_chunk_size(200 * 1024), 128 * 1024);
        assert_eq!(photo_chunk_size(100 * 1024), 100 * 1024);
        assert_eq!(photo_chunk_size(0), 128 * 1024);
    }
}
