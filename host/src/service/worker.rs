//! One event task: runs the pipeline on a message, publishes the result and acts on the
//! verdict — ack, redelivery after a wait, a dead letter, or holding the event while the
//! directory is down. Every line logged meanwhile, the plugins' included, carries the event's
//! id and entry (the event span is entered around the whole handling).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use futures::FutureExt as _;
use tokio::sync::watch;
use tracing::Instrument as _;

use super::reload::Current;
use crate::bus::Bus;
use crate::health::Health;
use crate::pipeline::{Delivery, Handled, Kind, Pipeline, RetryPolicy, Verdict};

/// What every event task shares.
pub(super) struct Worker {
    /// The pipeline in force; each event keeps the one it started with (plugins replaced
    /// meanwhile apply to the next events).
    pub pipeline: Arc<Current<Pipeline>>,
    pub bus: Bus,
    pub health: Arc<Health>,
    pub retry: RetryPolicy,
    /// How often a held message is marked in progress (a third of the ack wait).
    pub progress_every: Duration,
    pub stopping: watch::Receiver<bool>,
}

impl Worker {
    /// Processes one message to its end: a result published, then ack, a redelivery later, or
    /// (on the last delivery) a dead letter. While the directory is unreachable the message is
    /// held and tried again when it answers, without spending a delivery. A panic is
    /// contained: the event goes back for another try after the retry wait (a dead letter on
    /// its last delivery) and the worker goes on.
    pub async fn handle(&self, kind: Kind, message: Message) {
        let span = tracing::info_span!(
            "event",
            kind = kind.name(),
            id = tracing::field::Empty,
            entry = tracing::field::Empty
        );
        async {
            let _in_flight = Counted::new(&self.health, Health::in_flight);
            let handled = std::panic::AssertUnwindSafe(self.handle_message(kind, &message))
                .catch_unwind()
                .await;
            if let Err(panic) = handled {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.after_panic(kind, &message, &what).await;
            }
        }
        .instrument(span)
        .await;
    }

    async fn handle_message(&self, kind: Kind, message: &Message) {
        let delivery = message.info().map_or(
            Delivery {
                number: 1,
                sequence: 0,
            },
            |i| Delivery {
                number: i.delivered.max(1) as u64,
                sequence: i.stream_sequence,
            },
        );
        let pipeline = self.pipeline.get();
        let Handled { result, verdict } = loop {
            let handled = pipeline.handle(kind, &message.payload, delivery).await;
            if handled.verdict != Verdict::WaitForDirectory {
                self.health.directory_up();
                break handled;
            }
            self.health
                .directory_down(handled.result.reason.as_deref().unwrap_or("unreachable"));
            let waiting = Counted::new(&self.health, Health::waiting);
            let back = self.wait_for_directory(&pipeline, message).await;
            drop(waiting);
            if !back {
                // Shutting down: hand the event back for another worker.
                let _ = message.ack_with(AckKind::Nak(None)).await;
                return;
            }
        };
        let ack = match &verdict {
            Verdict::Ack | Verdict::WaitForDirectory => AckKind::Ack,
            Verdict::Retry { after } => {
                self.health.redelivery();
                AckKind::Nak(Some(*after))
            }
            Verdict::DeadLetter { reason } => {
                self.keep_dead_letter(message, reason).await;
                self.health.dead_letter();
                AckKind::Term
            }
        };
        let outcome = result.outcome.as_str();
        let number = delivery.number;
        match &result.reason {
            Some(reason) => tracing::info!(outcome, delivery = number, "{reason}"),
            None => tracing::info!(outcome, delivery = number, "Done."),
        }
        self.health.record(kind.name(), &result);
        let ack = match self.bus.publish_result(&result).await {
            Ok(()) => ack,
            Err(e) => {
                tracing::warn!(
                    "Cannot publish the result ({e}); the event will be delivered again."
                );
                AckKind::Nak(Some(self.retry.first))
            }
        };
        if let Err(e) = message.ack_with(ack).await {
            tracing::warn!("Cannot acknowledge the event ({e}); JetStream will deliver it again.");
        }
    }

    /// Acts on the verdict for a handling that panicked with the message `what`.
    async fn after_panic(&self, kind: Kind, message: &Message, what: &str) {
        let delivery = message.info().map_or(1, |i| i.delivered.max(1) as u64);
        let names = self.bus.names();
        let dead = names.dead_subject(kind.subject(names));
        match self.retry.after_panic(what, delivery, &dead) {
            Verdict::DeadLetter { reason } => {
                tracing::error!(subject = %message.subject, "{reason}. Please report this.");
                self.keep_dead_letter(message, &reason).await;
                self.health.dead_letter();
                let _ = message.ack_with(AckKind::Term).await;
            }
            verdict => {
                tracing::error!(
                    subject = %message.subject,
                    "Handling an event failed unexpectedly ({what}); it will be delivered again. Please report this."
                );
                let after = match verdict {
                    Verdict::Retry { after } => after,
                    _ => self.retry.first,
                };
                let _ = message.ack_with(AckKind::Nak(Some(after))).await;
            }
        }
    }

    /// Waits until the directory answers, keeping the message ours meanwhile. False when the
    /// worker is stopping.
    async fn wait_for_directory(&self, pipeline: &Pipeline, message: &Message) -> bool {
        let mut stopping = self.stopping.clone();
        let mut since_progress = Duration::ZERO;
        let pause = Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = stopping.wait_for(|s| *s) => return false,
                () = tokio::time::sleep(pause) => {}
            }
            since_progress += pause;
            if since_progress >= self.progress_every {
                let _ = message.ack_with(AckKind::Progress).await;
                since_progress = Duration::ZERO;
            }
            if !self.health.is_directory_down() || pipeline.directory_answers().await {
                self.health.directory_up();
                return true;
            }
        }
    }

    /// Keeps a message that failed on its last delivery, trying for a while if NATS is away.
    async fn keep_dead_letter(&self, message: &Message, reason: &str) {
        for attempt in 0..30 {
            match self
                .bus
                .dead_letter(&message.subject, message.payload.clone(), reason)
                .await
            {
                Ok(()) => return,
                Err(e) if attempt == 29 => {
                    tracing::error!(
                        "Cannot keep the dead letter ({e}); the event is lost: {reason}"
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }
}

/// One more on a health gauge for as long as it lives, however the work ends.
pub(super) struct Counted<'a> {
    health: &'a Health,
    gauge: fn(&Health, i64),
}

impl<'a> Counted<'a> {
    pub fn new(health: &'a Health, gauge: fn(&Health, i64)) -> Self {
        gauge(health, 1);
        Self { health, gauge }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        (self.gauge)(self.health, -1);
    }
}
