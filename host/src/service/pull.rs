//! Pulling events from one durable consumer into the worker's free slots.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::worker::Worker;
use crate::pipeline::Kind;

/// How long one pull request stays open at the server. Short, so that a stopping worker
/// drains its open requests (handing back what they deliver) within about this time.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

/// One consumer's pulling: what it pulls from, and where the events go.
pub(super) struct Puller {
    pub consumer: PullConsumer,
    pub kind: Kind,
    pub worker: Arc<Worker>,
    /// The worker's free slots, shared by both consumers.
    pub permits: Arc<Semaphore>,
    /// At most this many events asked for in one pull request.
    pub batch: usize,
    pub stop: watch::Receiver<bool>,
}

/// Pulls events in short requests, each asking for no more events than there are free slots,
/// and starts each event in a slot, until stopped. While every slot is busy (a burst, or the
/// directory down) nothing is pulled, so no event waits here unstarted while its ack wait runs
/// and idle workers could take it. Every request is read to its end without waiting (the
/// client drops a request's unread events once its own timer runs out); an event delivered to
/// this worker is either started or, when stopping, handed back with a NAK (delivered again at
/// once), never left to the ack wait. Returns how many were handed back.
pub(super) async fn pull(mut puller: Puller) -> usize {
    let mut handed_back = 0;
    let mut failures = 0u32;
    loop {
        // A free slot, not kept: the events are given slots as they arrive.
        tokio::select! {
            biased;
            _ = puller.stop.wait_for(|s| *s) => break,
            permit = puller.permits.acquire() => drop(permit),
        }
        let wanted = puller.permits.available_permits().clamp(1, puller.batch);
        let asked = Instant::now();
        let batch = puller
            .consumer
            .batch()
            .max_messages(wanted)
            .expires(PULL_EXPIRES)
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                failures += 1;
                tracing::warn!("Pulling events failed ({e}); retrying.");
                pause(&mut puller.stop, failures).await;
                continue;
            }
        };
        // Events that found no free slot (the other consumer took it): started, or handed
        // back, once the request is read to its end.
        let mut unplaced = Vec::new();
        let mut failed = false;
        let mut received = 0;
        while let Some(next) = batch.next().await {
            received += usize::from(next.is_ok());
            match next {
                Ok(message) if *puller.stop.borrow() => unplaced.push(message),
                Ok(message) => match puller.permits.clone().try_acquire_owned() {
                    Ok(permit) => puller.start(message, permit),
                    Err(_) => unplaced.push(message),
                },
                Err(e) => {
                    tracing::warn!("Pulling events failed ({e}); retrying.");
                    failed = true;
                }
            }
        }
        for message in unplaced {
            match puller.wait_for_slot(&message).await {
                Some(permit) => puller.start(message, permit),
                None => {
                    if message.ack_with(AckKind::Nak(None)).await.is_ok() {
                        handed_back += 1;
                    }
                }
            }
        }
        // A request that ends at once with nothing (the connection closing, say) is a failure
        // too: without a pause the loop would spin.
        if received == 0 && asked.elapsed() < PULL_EXPIRES / 4 {
            failed = true;
        }
        if failed {
            failures += 1;
            pause(&mut puller.stop, failures).await;
        } else {
            failures = 0;
        }
    }
    handed_back
}

impl Puller {
    /// A slot for a message already pulled, keeping the message ours meanwhile (marked in
    /// progress, as an event waiting for the directory is); None when stopping.
    async fn wait_for_slot(&mut self, message: &Message) -> Option<OwnedSemaphorePermit> {
        loop {
            let permit = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => return None,
                permit = self.permits.clone().acquire_owned() => Some(permit),
                () = tokio::time::sleep(self.worker.progress_every) => None,
            };
            match permit {
                Some(permit) => return permit.ok(),
                None => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        }
    }

    /// Starts handling `message` in the slot `permit`, which it frees when done.
    fn start(&self, message: Message, permit: OwnedSemaphorePermit) {
        let worker = self.worker.clone();
        let kind = self.kind;
        tokio::spawn(async move {
            worker.handle(kind, message).await;
            drop(permit);
        });
    }
}

/// A pause after a failed pull, growing with repeated failures (at most 5 s); ends early when
/// the worker stops.
async fn pause(stop: &mut watch::Receiver<bool>, failures: u32) {
    let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        () = tokio::time::sleep(wait) => {}
    }
}
