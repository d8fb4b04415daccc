//! Publishing events (each with its id as the JetStream message id), results and dead
//! letters, and reading a small stream's messages back.

use async_nats::jetstream;
use bytes::Bytes;

use super::{Bus, BusError, err};
use crate::events::{self, PhotoResult, PhotoUpload};

/// A header value: one line, at most 1000 characters.
fn header_value(text: &str) -> async_nats::HeaderValue {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect();
    line.as_str().into()
}

impl Bus {
    /// Publishes a photo-upload event, with its id as the JetStream message id.
    pub async fn publish_upload(&self, event: &PhotoUpload) -> Result<(), BusError> {
        self.publish_with_id(&self.names.photo_uploaded, &event.id, event)
            .await
    }

    /// Publishes a result on `photosync.result.<outcome>` and waits for JetStream to store it.
    pub async fn publish_result(&self, result: &PhotoResult) -> Result<(), BusError> {
        let payload = serde_json::to_vec(result).map_err(|e| err("cannot encode the result", e))?;
        let ack = self
            .js
            .publish(
                self.names.result_subject(result.outcome),
                Bytes::from(payload),
            )
            .await
            .map_err(|e| err("cannot publish the result", e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err("the result was not stored", e))
    }

    /// Publishes a directory-change event with its id as the JetStream message id, so the same
    /// change published twice (a watcher restarted before it saved its place) is stored once.
    pub async fn publish_directory_change(
        &self,
        event: &events::DirectoryChange,
    ) -> Result<(), BusError> {
        self.publish_with_id(&self.names.directory_changed, &event.id, event)
            .await
    }

    /// Publishes a photo-changed event with its id as the JetStream message id.
    pub async fn publish_photo_changed(
        &self,
        event: &events::PhotoChanged,
    ) -> Result<(), BusError> {
        self.publish_with_id(&self.names.photo_changed, &event.id, event)
            .await
    }

    async fn publish_with_id(
        &self,
        subject: &str,
        id: &str,
        event: &impl serde::Serialize,
    ) -> Result<(), BusError> {
        let payload = serde_json::to_vec(event).map_err(|e| err("cannot encode the event", e))?;
        let publish = jetstream::context::Publish::build()
            .payload(payload.into())
            .message_id(id);
        let ack = self
            .js
            .send_publish(subject.to_owned(), publish)
            .await
            .map_err(|e| err(&format!("cannot publish on {subject}"), e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err(&format!("the event on {subject} was not stored"), e))
    }

    /// Keeps an event that failed on every delivery on `photosync.dead.<subject>`, with the
    /// last reason in the `Photosync-Reason` header.
    pub async fn dead_letter(
        &self,
        subject: &str,
        payload: Bytes,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Photosync-Reason", header_value(reason));
        let ack = self
            .js
            .publish_with_headers(self.names.dead_subject(subject), headers, payload)
            .await
            .map_err(|e| err("cannot publish the dead letter", e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err("the dead letter was not stored", e))
    }

    /// Publishes every dead letter again on its original subject and removes it; returns how
    /// many. Each goes out with a new message id, so that duplicate detection does not drop it.
    pub async fn replay_dead_letters(&self) -> Result<usize, BusError> {
        let prefix = format!("{}.", self.names.dead_prefix);
        let mut replayed = 0;
        for message in self.stored(&self.names.dead_stream).await? {
            let Some(subject) = message.subject.as_str().strip_prefix(&prefix) else {
                continue;
            };
            let publish = jetstream::context::Publish::build()
                .payload(message.payload.clone())
                .message_id(format!("replay-{}", uuid::Uuid::new_v4()));
            self.js
                .send_publish(subject.to_owned(), publish)
                .await
                .map_err(|e| err("cannot replay a dead letter", e))?
                .await
                .map_err(|e| err("the replayed event was not stored", e))?;
            self.js
                .get_stream(&self.names.dead_stream)
                .await
                .map_err(|e| err("cannot open the dead-letter stream", e))?
                .delete_message(message.sequence)
                .await
                .map_err(|e| err("cannot remove a replayed dead letter", e))?;
            replayed += 1;
        }
        Ok(replayed)
    }

    /// Every message `stream` holds now, oldest first (for small streams: dead letters,
    /// inspection).
    pub async fn stored(
        &self,
        stream: &str,
    ) -> Result<Vec<jetstream::message::StreamMessage>, BusError> {
        let mut handle = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| err(&format!("cannot open stream {stream}"), e))?;
        let state = handle
            .info()
            .await
            .map_err(|e| err(&format!("cannot read stream {stream}"), e))?
            .state
            .clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return Ok(out);
        }
        for seq in state.first_sequence..=state.last_sequence {
            // A gap (a deleted message) is skipped.
            if let Ok(message) = handle.get_raw_message(seq).await {
                out.push(message);
            }
        }
        Ok(out)
    }
}
