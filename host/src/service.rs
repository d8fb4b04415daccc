//! `photosync run`: loads the plugins, connects to NATS and the directory, and processes
//! photo-upload events from the shared durable consumer with bounded concurrency until shutdown.
//! A message is acked only after its result is published; failures are redelivered later.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::bus::Bus;
use crate::config::Config;
use crate::directory::Directory;
use crate::events;
use crate::health::Health;
use crate::pipeline::{Disposition, Pipeline};
use crate::plugins::{Deduper, Matcher, Role, Runtime, RuntimeOptions, Transformer};

/// Builds the pipeline: plugins loaded and checked, NATS connected, directory bound.
pub async fn connect(config: &Config) -> anyhow::Result<Arc<Pipeline>> {
    Ok(Arc::new(pipeline(config, false).await?))
}

/// Builds a pipeline; with `dry_run`, one that decides everything and changes nothing.
pub async fn pipeline(config: &Config, dry_run: bool) -> anyhow::Result<Pipeline> {
    let options = RuntimeOptions {
        cache_dir: config
            .plugins
            .cache_dir
            .clone()
            .or_else(|| RuntimeOptions::default().cache_dir),
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::new(options)
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e:#}"))?;
    let matcher = Matcher::load(&runtime, &config.plugin_spec(Role::Matcher)?)?;
    let transformer = Transformer::load(&runtime, &config.plugin_spec(Role::Transformer)?)?;
    let deduper = Deduper::load(&runtime, &config.plugin_spec(Role::Deduper)?)?;
    let (bus, directory) = connect_servers(config).await?;
    let backups = match config.backup.enabled && !dry_run {
        true => Some(crate::backup::Backups::open(&bus, config.backup.retention()).await?),
        false => None,
    };
    Ok(Pipeline {
        matcher,
        transformer,
        deduper,
        directory,
        bus,
        profiles: config.profiles(),
        digests: Default::default(),
        base_dn: config.ldap.base_dn.clone(),
        id_attribute: config.ldap.id_attribute.clone(),
        backups,
        dry_run,
    })
}

/// Which stream a message came from.
#[derive(Clone, Copy)]
enum Kind {
    Upload,
    DirectoryChange,
}

/// Processes events until `shutdown` resolves, then lets in-flight events finish. Runs the
/// directory watcher beside them when the configuration enables it.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let pipeline = connect(&config).await?;
    let stream = pipeline.bus.js.get_stream(events::EVENTS_STREAM).await?;
    let consumer = |name: &str, subject: &str| pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.worker.ack_wait_secs),
        max_deliver: config.worker.max_deliver,
        filter_subject: subject.into(),
        ..Default::default()
    };
    let uploads =
        ensure_consumer(&stream, consumer(events::CONSUMER, events::PHOTO_UPLOADED)).await?;
    let changes = ensure_consumer(
        &stream,
        consumer(events::DIRECTORY_CONSUMER, events::DIRECTORY_CHANGED),
    )
    .await?;
    let observed = [uploads.clone(), changes.clone()];
    let (stop_watcher, watcher_stopped) = tokio::sync::watch::channel(false);
    let watcher = config.watcher.enabled.then(|| {
        let pipeline = pipeline.clone();
        let settings = config.watcher.clone();
        let mut stopped = watcher_stopped.clone();
        // A connection of its own: the pipeline's is dropped and re-made on its errors.
        let directory = pipeline.directory.another();
        tokio::spawn(async move {
            crate::watcher::watch(&directory, &pipeline.bus, &settings, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        })
    });
    let health = Arc::new(Health::default());
    if let Some(addr) = &config.worker.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve HTTP on {addr} (worker.http): {e}"))?;
        tracing::info!(%addr, "Serving /healthz, /readyz and /metrics.");
        tokio::spawn(crate::health::serve(listener, health.clone()));
    }
    let observer = tokio::spawn(observe(pipeline.clone(), health.clone(), observed));
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let worker = Arc::new(Worker {
        pipeline: pipeline.clone(),
        health,
        retry: Duration::from_secs(config.worker.retry_secs),
        retry_max: Duration::from_secs(config.worker.retry_max_secs),
        max_deliver: config.worker.max_deliver,
        progress_every: Duration::from_secs((config.worker.ack_wait_secs / 3).max(1)),
        stopping,
    });
    let permits = Arc::new(Semaphore::new(config.worker.concurrency));
    tracing::info!(
        concurrency = config.worker.concurrency,
        watcher = config.watcher.enabled,
        "photosync is processing photo-upload and directory-change events."
    );
    let (stop_pulling, pulling_stopped) = tokio::sync::watch::channel(false);
    let puller = |consumer, kind| {
        tokio::spawn(pull(Puller {
            consumer,
            kind,
            worker: worker.clone(),
            permits: permits.clone(),
            batch: config.worker.concurrency,
            stop: pulling_stopped.clone(),
        }))
    };
    let mut pullers = [
        puller(uploads, Kind::Upload),
        puller(changes, Kind::DirectoryChange),
    ];
    // A puller ends only when told to; one that ends by itself (a bug) stops the worker with
    // an error, so that its supervisor restarts it rather than it idling half-deaf.
    let [uploads_pulling, changes_pulling] = &mut pullers;
    let broken = tokio::select! {
        () = shutdown => None,
        _ = uploads_pulling => Some("photo-upload"),
        _ = changes_pulling => Some("directory-change"),
    };
    match broken {
        None => tracing::info!("Stopping: no new events; waiting for events in flight."),
        Some(which) => tracing::error!(
            "Pulling {which} events stopped unexpectedly; stopping the worker. Please report this."
        ),
    }
    let _ = stop_pulling.send(true);
    let mut handed_back = 0;
    for puller in pullers.into_iter().filter(|p| !p.is_finished()) {
        handed_back += puller.await.unwrap_or(0);
    }
    tracing::info!(
        handed_back,
        "Handed back the events pulled but not started."
    );
    let _ = stopping_tx.send(true);
    let _ = stop_watcher.send(true);
    if let Some(watcher) = watcher {
        let _ = watcher.await;
    }
    let _ = permits.acquire_many(config.worker.concurrency as u32).await;
    observer.abort();
    // Acks and hand-backs are queued on the connection: sent before the process ends.
    if let Err(e) = pipeline.bus.client.flush().await {
        tracing::warn!(
            "Cannot flush the last acknowledgements to NATS ({e}); JetStream will deliver those events again."
        );
    }
    tracing::info!("Stopped.");
    match broken {
        None => Ok(()),
        Some(which) => anyhow::bail!("pulling {which} events stopped unexpectedly"),
    }
}

/// How long one pull request stays open at the server. Short, so that a stopping worker
/// drains its open requests (handing back what they deliver) within about this time.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

/// One consumer's pulling: what it pulls from, and where the events go.
struct Puller {
    consumer: async_nats::jetstream::consumer::PullConsumer,
    kind: Kind,
    worker: Arc<Worker>,
    /// The worker's free slots, shared by both consumers.
    permits: Arc<Semaphore>,
    /// At most this many events asked for in one pull request.
    batch: usize,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Pulls events in short requests, each asking for no more events than there are free slots,
/// and starts each event in a slot, until stopped. While every slot is busy (a burst, or the
/// directory down) nothing is pulled, so no event waits here unstarted while its ack wait runs
/// and idle workers could take it. Every request is read to its end without waiting (the
/// client drops a request's unread events once its own timer runs out); an event delivered to
/// this worker is either started or, when stopping, handed back with a NAK (delivered again at
/// once), never left to the ack wait. Returns how many were handed back.
async fn pull(mut puller: Puller) -> usize {
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
        let asked = std::time::Instant::now();
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
    async fn wait_for_slot(
        &mut self,
        message: &async_nats::jetstream::Message,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
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
    fn start(
        &self,
        message: async_nats::jetstream::Message,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let worker = self.worker.clone();
        let kind = self.kind;
        tokio::spawn(async move {
            worker.handle_guarded(kind, message).await;
            drop(permit);
        });
    }
}

/// A pause after a failed pull, growing with repeated failures (at most 5 s); ends early when
/// the worker stops.
async fn pause(stop: &mut tokio::sync::watch::Receiver<bool>, failures: u32) {
    let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        () = tokio::time::sleep(wait) => {}
    }
}

/// The durable consumer, created if missing; an existing one whose ack wait or maximum
/// deliveries differ from the configuration is updated to it.
async fn ensure_consumer(
    stream: &async_nats::jetstream::stream::Stream,
    wanted: pull::Config,
) -> anyhow::Result<async_nats::jetstream::consumer::Consumer<pull::Config>> {
    let name = wanted.durable_name.clone().unwrap_or_default();
    let mut consumer = stream
        .get_or_create_consumer(&name, wanted.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the consumer {name}: {e}"))?;
    let info = consumer.info().await?;
    if info.config.ack_wait != wanted.ack_wait || info.config.max_deliver != wanted.max_deliver {
        let mut updated = info.config.clone();
        updated.ack_wait = wanted.ack_wait;
        updated.max_deliver = wanted.max_deliver;
        match stream.create_consumer(updated).await {
            Ok(_) => {
                tracing::info!(consumer = %name, "Updated the consumer's ack wait and maximum deliveries.")
            }
            Err(e) => tracing::warn!(
                consumer = %name,
                "Cannot update the consumer's ack wait and maximum deliveries ({e}); it keeps its own."
            ),
        }
        consumer = stream
            .get_consumer(&name)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the consumer {name}: {e}"))?;
    }
    Ok(consumer)
}

/// Keeps the health's NATS state and backlog current.
async fn observe(
    pipeline: Arc<Pipeline>,
    health: Arc<Health>,
    mut consumers: [async_nats::jetstream::consumer::PullConsumer; 2],
) {
    loop {
        let connected =
            pipeline.bus.client.connection_state() == async_nats::connection::State::Connected;
        health.set_nats_connected(connected);
        if connected {
            let mut pending = 0i64;
            for consumer in &mut consumers {
                if let Ok(info) = consumer.info().await {
                    pending += info.num_pending as i64;
                }
            }
            health.set_backlog(pending);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// One more on a health gauge for as long as it lives, however the work ends.
struct Counted<'a> {
    health: &'a Health,
    gauge: fn(&Health, i64),
}

impl<'a> Counted<'a> {
    fn new(health: &'a Health, gauge: fn(&Health, i64)) -> Self {
        gauge(health, 1);
        Self { health, gauge }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        (self.gauge)(self.health, -1);
    }
}

/// What every event task shares.
struct Worker {
    pipeline: Arc<Pipeline>,
    health: Arc<Health>,
    retry: Duration,
    retry_max: Duration,
    max_deliver: i64,
    /// How often a held message is marked in progress (a third of the ack wait).
    progress_every: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Worker {
    /// Processes one message to its end: a result published, then ack, a redelivery later, or
    /// (on the last delivery) a dead letter. While the directory is unreachable the message is
    /// held and tried again when it answers, without spending a delivery.
    async fn handle(&self, kind: Kind, message: async_nats::jetstream::Message) {
        let _in_flight = Counted::new(&self.health, Health::in_flight);
        self.handle_inner(kind, message).await;
    }

    /// [`Worker::handle`], with a panic contained: the event goes back for another try
    /// after the retry wait instead of waiting out the ack wait, and the worker goes on.
    async fn handle_guarded(&self, kind: Kind, message: async_nats::jetstream::Message) {
        use futures::FutureExt as _;
        let handled = std::panic::AssertUnwindSafe(self.handle(kind, message.clone()))
            .catch_unwind()
            .await;
        if let Err(panic) = handled {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let delivery = message.info().map_or(1, |i| i.delivered.max(1));
            if delivery >= self.max_deliver {
                let reason = format!(
                    "handling the event failed unexpectedly ({what}) on each of {delivery} deliveries; \
                     the event is kept on {}.{} for photosync replay",
                    events::DEAD_PREFIX,
                    message.subject
                );
                tracing::error!(subject = %message.subject, "{reason}. Please report this.");
                self.keep_dead_letter(&message, &reason).await;
                self.health.dead_letter();
                let _ = message.ack_with(AckKind::Term).await;
            } else {
                tracing::error!(
                    subject = %message.subject,
                    "Handling an event failed unexpectedly ({what}); it will be delivered again. Please report this."
                );
                let _ = message.ack_with(AckKind::Nak(Some(self.retry))).await;
            }
        }
    }

    async fn handle_inner(&self, kind: Kind, message: async_nats::jetstream::Message) {
        let (delivery, sequence) = message
            .info()
            .map_or((1, 0), |i| (i.delivered.max(1) as u64, i.stream_sequence));
        let (mut result, disposition) = loop {
            let (result, disposition) = match kind {
                Kind::Upload => {
                    self.pipeline
                        .handle(&message.payload, delivery, sequence)
                        .await
                }
                Kind::DirectoryChange => {
                    self.pipeline
                        .handle_directory_change(&message.payload, delivery)
                        .await
                }
            };
            if disposition != Disposition::Wait {
                self.health.directory_up();
                break (result, disposition);
            }
            self.health
                .directory_down(result.reason.as_deref().unwrap_or("unreachable"));
            let waiting = Counted::new(&self.health, Health::waiting);
            let back = self.wait_for_directory(&message).await;
            drop(waiting);
            if !back {
                // Shutting down: hand the event back for another worker.
                let _ = message.ack_with(AckKind::Nak(None)).await;
                return;
            }
        };
        let kind_name = match kind {
            Kind::Upload => "upload",
            Kind::DirectoryChange => "directory-change",
        };
        let last = delivery as i64 >= self.max_deliver;
        let ack = match disposition {
            Disposition::Retry if last => {
                let reason = format!(
                    "{} (gave up after {delivery} deliveries; the event is kept on {}.{} for photosync replay)",
                    result.reason.as_deref().unwrap_or("failed"),
                    events::DEAD_PREFIX,
                    message.subject
                );
                self.keep_dead_letter(&message, &reason).await;
                self.health.dead_letter();
                result.reason = Some(reason);
                AckKind::Term
            }
            Disposition::Retry => {
                result.is_final = false;
                self.health.redelivery();
                AckKind::Nak(Some(self.backoff(delivery)))
            }
            Disposition::Ack | Disposition::Wait => AckKind::Ack,
        };
        let span = tracing::info_span!("event", id = %result.event_id, entry = result.entry_dn.as_deref().unwrap_or(""));
        // Entered for these lines only: a span entered across an await stays entered on the
        // thread while other tasks run there, and their lines would nest under it.
        span.in_scope(|| match &result.reason {
            Some(reason) => tracing::info!(outcome = result.outcome.as_str(), delivery, "{reason}"),
            None => tracing::info!(outcome = result.outcome.as_str(), delivery, "Done."),
        });
        self.health.record(kind_name, &result);
        let ack = match self.pipeline.bus.publish_result(&result).await {
            Ok(()) => ack,
            Err(e) => {
                span.in_scope(|| {
                    tracing::warn!(
                        "Cannot publish the result ({e}); the event will be delivered again."
                    )
                });
                AckKind::Nak(Some(self.retry))
            }
        };
        if let Err(e) = message.ack_with(ack).await {
            span.in_scope(|| {
                tracing::warn!(
                    "Cannot acknowledge the event ({e}); JetStream will deliver it again."
                )
            });
        }
    }

    /// The wait before delivery `delivery + 1`: doubling from `retry`, at most `retry_max`.
    fn backoff(&self, delivery: u64) -> Duration {
        let factor = 1u32 << delivery.saturating_sub(1).min(16);
        (self.retry * factor).min(self.retry_max)
    }

    /// Waits until the directory answers, keeping the message ours meanwhile. False when the
    /// worker is stopping.
    async fn wait_for_directory(&self, message: &async_nats::jetstream::Message) -> bool {
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
            if !self.health.is_directory_down() || self.pipeline.directory.check().await.is_ok() {
                self.health.directory_up();
                return true;
            }
        }
    }

    /// Keeps a message that failed on its last delivery, trying for a while if NATS is away.
    async fn keep_dead_letter(&self, message: &async_nats::jetstream::Message, reason: &str) {
        for attempt in 0..30 {
            match self
                .pipeline
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

/// Runs only the directory watcher (`photosync watch`) until `shutdown` resolves.
pub async fn watch(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (bus, directory) = connect_servers(&config).await?;
    crate::watcher::watch(&directory, &bus, &config.watcher, shutdown).await;
    Ok(())
}

/// Publishes a photo-changed event for the current photo of every entry in scope
/// (`photosync export --all`); returns (entries, events).
pub async fn export_all(config: &Config) -> anyhow::Result<(usize, usize)> {
    let (bus, directory) = connect_servers(config).await?;
    let attributes: Vec<String> = config
        .profiles()
        .iter()
        .map(|p| p.attribute.clone())
        .collect();
    let run = crate::publish::now_rfc3339();
    let published = std::sync::atomic::AtomicUsize::new(0);
    let published_ref = &published;
    let entries = directory
        .each(&attributes, |entry| {
            let bus = bus.clone();
            let attributes = attributes.clone();
            let run = run.clone();
            let count = published_ref;
            async move {
                for attribute in &attributes {
                    let Some(value) = entry
                        .values
                        .get(&attribute.to_ascii_lowercase())
                        .and_then(|v| v.first())
                    else {
                        continue;
                    };
                    let id = format!("export/{run}/{}/{attribute}", entry.id);
                    let event = crate::pipeline::photo_changed_event(
                        &bus,
                        id,
                        &entry,
                        attribute,
                        Some(value),
                        events::ChangeCause::Export,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    bus.publish_photo_changed(&event)
                        .await
                        .map_err(|e| e.to_string())?;
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            }
        })
        .await?;
    Ok((entries, published.into_inner()))
}

/// NATS, with the configured credentials.
pub async fn connect_bus(config: &Config) -> anyhow::Result<Bus> {
    let nats_password = config
        .nats
        .password
        .as_ref()
        .map(|s| s.resolve())
        .transpose()?;
    let user = config.nats.user.as_deref().zip(nats_password.as_deref());
    Ok(Bus::connect(&config.nats.url, user).await?)
}

/// NATS and the directory, without plugins: what the watcher and export need.
pub async fn connect_servers(config: &Config) -> anyhow::Result<(Bus, Directory)> {
    use anyhow::Context as _;
    let bus = connect_bus(config).await?;
    let directory = Directory::new(config.ldap.clone(), config.ldap.password.resolve()?);
    directory
        .check()
        .await
        .context("the directory check failed")?;
    Ok((bus, directory))
}
