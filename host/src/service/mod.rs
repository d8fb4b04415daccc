//! `photosync run`: loads the plugins, connects to NATS and the directory, and processes
//! photo-upload and directory-change events from the shared durable consumers with bounded
//! concurrency until shutdown. A message is acked only after its result is published; failures
//! are redelivered later.
//!
//! - [`wiring`]: servers, plugins and the pipeline from the configuration.
//! - `pull`: pulling events into free slots; `worker`: one event's handling and its verdict.
//! - [`watch`]: `photosync watch` and `photosync export --all`.

mod pull;
mod reload;
pub mod watch;
pub mod wiring;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull as pull_config};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::health::Health;
use crate::pipeline::Kind;
use pull::{Puller, pull};
use reload::{Current, Reloader};
use worker::Worker;

pub use watch::{export_all, watch};
pub use wiring::{
    connect_bus, connect_directory, connect_servers, deduper, pipeline, plugins, retry_policy,
    runtime,
};

/// Processes events until `shutdown` resolves, then lets in-flight events finish. Runs the
/// directory watcher beside them when the configuration enables it.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    // From the start: SIGHUP's default would end the process.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let health = Arc::new(Health::default());
    let start = async {
        let bus = connect_bus(&config).await?;
        let (plugins, reloader) =
            Reloader::load(&config, runtime(&config)?, bus.clone(), health.clone()).await?;
        let pipeline = wiring::assemble(&config, plugins, bus.clone(), false).await?;
        let consumers = consumers(&config, &bus).await?;
        anyhow::Ok((bus, Arc::new(Current::new(pipeline)), reloader, consumers))
    };
    // Stopped while starting (a container stopped before NATS answered): nothing to hand back.
    let (bus, pipeline, reloader, [uploads, changes]) = tokio::select! {
        started = start => started?,
        () = &mut shutdown => {
            tracing::info!("Stopped while starting.");
            return Ok(());
        }
    };
    let observed = [uploads.clone(), changes.clone()];
    let (stop_watcher, watcher_stopped) = tokio::sync::watch::channel(false);
    let watcher = config.watcher.enabled.then(|| {
        // A connection of its own: the pipeline's is dropped and re-made on its errors.
        let directory = pipeline.get().another_directory();
        let (bus, settings, mut stopped) = (bus.clone(), config.watcher.clone(), watcher_stopped);
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            crate::watcher::watch(&directory, &bus, &settings, stopped).await;
        })
    });
    serve_health(&config, &health).await?;
    let observer = tokio::spawn(observe(bus.clone(), health.clone(), observed));
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let reloading = tokio::spawn(reloader.run(pipeline.clone(), hangup, stopping.clone()));
    let worker = Arc::new(Worker {
        pipeline,
        bus: bus.clone(),
        health,
        retry: retry_policy(&config),
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
    let pullers = [
        puller(uploads, Kind::Upload),
        puller(changes, Kind::DirectoryChange),
    ];
    let broken = stop_pullers(pullers, shutdown, stop_pulling).await;
    let _ = stopping_tx.send(true);
    let _ = stop_watcher.send(true);
    if let Some(watcher) = watcher {
        let _ = watcher.await;
    }
    let _ = permits.acquire_many(config.worker.concurrency as u32).await;
    observer.abort();
    let _ = reloading.await;
    // Acks and hand-backs are queued on the connection: sent before the process ends.
    if let Err(e) = bus.client.flush().await {
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

/// The two durable consumers, photo uploads and directory changes, as configured.
async fn consumers(config: &Config, bus: &crate::bus::Bus) -> anyhow::Result<[PullConsumer; 2]> {
    let names = bus.names();
    let stream = bus.js.get_stream(&names.events_stream).await?;
    let consumer = |name: &str, subject: &str| pull_config::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.worker.ack_wait_secs),
        max_deliver: config.worker.max_deliver,
        filter_subject: subject.into(),
        ..Default::default()
    };
    let uploads = consumer(&names.workers_consumer, &names.photo_uploaded);
    let uploads = ensure_consumer(&stream, uploads).await?;
    let changes = consumer(&names.directory_consumer, &names.directory_changed);
    let changes = ensure_consumer(&stream, changes).await?;
    Ok([uploads, changes])
}

/// Serves /healthz, /readyz and /metrics on `worker.http`, when set.
async fn serve_health(config: &Config, health: &Arc<Health>) -> anyhow::Result<()> {
    if let Some(addr) = &config.worker.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve HTTP on {addr} (worker.http): {e}"))?;
        tracing::info!(%addr, "Serving /healthz, /readyz and /metrics.");
        tokio::spawn(crate::health::serve(listener, health.clone()));
    }
    Ok(())
}

/// Waits for `shutdown`, then stops the pullers and waits for them to hand back what they
/// pulled but did not start. A puller ends only when told to; one that ends by itself (a bug)
/// stops the worker with an error, so that its supervisor restarts it rather than it idling
/// half-deaf: returns which.
async fn stop_pullers(
    mut pullers: [tokio::task::JoinHandle<usize>; 2],
    shutdown: impl std::future::Future<Output = ()>,
    stop_pulling: tokio::sync::watch::Sender<bool>,
) -> Option<&'static str> {
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
    broken
}

/// The durable consumer, created if missing; an existing one whose ack wait or maximum
/// deliveries differ from the configuration is updated to it.
async fn ensure_consumer(
    stream: &async_nats::jetstream::stream::Stream,
    wanted: pull_config::Config,
) -> anyhow::Result<async_nats::jetstream::consumer::Consumer<pull_config::Config>> {
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
async fn observe(bus: crate::bus::Bus, health: Arc<Health>, mut consumers: [PullConsumer; 2]) {
    loop {
        let connected = bus.client.connection_state() == async_nats::connection::State::Connected;
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
