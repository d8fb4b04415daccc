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
use crate::pipeline::{Disposition, Pipeline};
use crate::plugins::{Deduper, Matcher, Role, Runtime, RuntimeOptions, Transformer};

/// Builds the pipeline: plugins loaded and checked, NATS connected, directory bound.
pub async fn connect(config: &Config) -> anyhow::Result<Arc<Pipeline>> {
    use anyhow::Context as _;
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
    let nats_password = config
        .nats
        .password
        .as_ref()
        .map(|s| s.resolve())
        .transpose()?;
    let ldap_password = config.ldap.password.resolve()?;
    let user = config.nats.user.as_deref().zip(nats_password.as_deref());
    let bus = Bus::connect(&config.nats.url, user).await?;
    let directory = Directory::new(config.ldap.clone(), ldap_password);
    directory
        .check()
        .await
        .context("the directory check failed")?;
    Ok(Arc::new(Pipeline {
        matcher,
        transformer,
        deduper,
        directory,
        bus,
        profiles: config.profiles(),
        digests: Default::default(),
        base_dn: config.ldap.base_dn.clone(),
        id_attribute: config.ldap.id_attribute.clone(),
    }))
}

/// Which stream a message came from.
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
        ack_wait: Duration::from_secs(120),
        max_deliver: config.worker.max_deliver,
        filter_subject: subject.into(),
        ..Default::default()
    };
    let uploads = stream
        .get_or_create_consumer(
            events::CONSUMER,
            consumer(events::CONSUMER, events::PHOTO_UPLOADED),
        )
        .await?;
    let changes = stream
        .get_or_create_consumer(
            events::DIRECTORY_CONSUMER,
            consumer(events::DIRECTORY_CONSUMER, events::DIRECTORY_CHANGED),
        )
        .await?;
    let batch = config.worker.concurrency;
    let uploads = uploads
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?
        .map(|m| (Kind::Upload, m));
    let changes = changes
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?
        .map(|m| (Kind::DirectoryChange, m));
    let mut messages = futures::stream::select(uploads, changes);
    let (stop_watcher, watcher_stopped) = tokio::sync::watch::channel(false);
    let watcher = config.watcher.enabled.then(|| {
        let pipeline = pipeline.clone();
        let retry = Duration::from_secs(config.watcher.retry_secs);
        let mut stopped = watcher_stopped.clone();
        tokio::spawn(async move {
            crate::watcher::watch(&pipeline.directory, &pipeline.bus, retry, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        })
    });
    let permits = Arc::new(Semaphore::new(config.worker.concurrency));
    let retry = Duration::from_secs(config.worker.retry_secs);
    tracing::info!(
        concurrency = config.worker.concurrency,
        watcher = config.watcher.enabled,
        "photosync is processing photo-upload and directory-change events."
    );
    tokio::pin!(shutdown);
    loop {
        let (kind, message) = tokio::select! {
            () = &mut shutdown => break,
            next = messages.next() => match next {
                Some((kind, Ok(message))) => (kind, message),
                Some((_, Err(e))) => {
                    tracing::warn!("Pulling events failed ({e}); retrying.");
                    continue;
                }
                None => break,
            },
        };
        let permit = permits.clone().acquire_owned().await?;
        let pipeline = pipeline.clone();
        tokio::spawn(async move {
            handle(&pipeline, kind, message, retry).await;
            drop(permit);
        });
    }
    tracing::info!("Stopping: waiting for events in flight.");
    let _ = stop_watcher.send(true);
    if let Some(watcher) = watcher {
        let _ = watcher.await;
    }
    let _ = permits.acquire_many(config.worker.concurrency as u32).await;
    Ok(())
}

/// Runs only the directory watcher (`photosync watch`) until `shutdown` resolves.
pub async fn watch(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (bus, directory) = connect_servers(&config).await?;
    let retry = Duration::from_secs(config.watcher.retry_secs);
    crate::watcher::watch(&directory, &bus, retry, shutdown).await;
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

/// NATS and the directory, without plugins: what the watcher and export need.
async fn connect_servers(config: &Config) -> anyhow::Result<(Bus, Directory)> {
    use anyhow::Context as _;
    let nats_password = config
        .nats
        .password
        .as_ref()
        .map(|s| s.resolve())
        .transpose()?;
    let user = config.nats.user.as_deref().zip(nats_password.as_deref());
    let bus = Bus::connect(&config.nats.url, user).await?;
    let directory = Directory::new(config.ldap.clone(), config.ldap.password.resolve()?);
    directory
        .check()
        .await
        .context("the directory check failed")?;
    Ok((bus, directory))
}

async fn handle(
    pipeline: &Pipeline,
    kind: Kind,
    message: async_nats::jetstream::Message,
    retry: Duration,
) {
    let delivery = message.info().map_or(1, |i| i.delivered.max(1) as u64);
    let (result, disposition) = match kind {
        Kind::Upload => pipeline.handle(&message.payload, delivery).await,
        Kind::DirectoryChange => {
            pipeline
                .handle_directory_change(&message.payload, delivery)
                .await
        }
    };
    let span = tracing::info_span!("event", id = %result.event_id, entry = result.entry_dn.as_deref().unwrap_or(""));
    let _enter = span.enter();
    match &result.reason {
        Some(reason) => tracing::info!(outcome = result.outcome.as_str(), "{reason}"),
        None => tracing::info!(outcome = result.outcome.as_str(), "Done."),
    }
    let ack = match pipeline.bus.publish_result(&result).await {
        Ok(()) if disposition == Disposition::Ack => AckKind::Ack,
        Ok(()) => AckKind::Nak(Some(retry)),
        Err(e) => {
            tracing::warn!("Cannot publish the result ({e}); the event will be delivered again.");
            AckKind::Nak(Some(retry))
        }
    };
    if let Err(e) = message.ack_with(ack).await {
        tracing::warn!("Cannot acknowledge the event ({e}); JetStream will deliver it again.");
    }
}
