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

/// Processes events until `shutdown` resolves, then lets in-flight events finish.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let pipeline = connect(&config).await?;
    let stream = pipeline.bus.js.get_stream(events::EVENTS_STREAM).await?;
    let consumer = stream
        .get_or_create_consumer(
            events::CONSUMER,
            pull::Config {
                durable_name: Some(events::CONSUMER.into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(120),
                max_deliver: config.worker.max_deliver,
                filter_subject: events::PHOTO_UPLOADED.into(),
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(config.worker.concurrency)
        .messages()
        .await?;
    let permits = Arc::new(Semaphore::new(config.worker.concurrency));
    let retry = Duration::from_secs(config.worker.retry_secs);
    tracing::info!(
        concurrency = config.worker.concurrency,
        "photosync is processing photo-upload events."
    );
    tokio::pin!(shutdown);
    loop {
        let message = tokio::select! {
            () = &mut shutdown => break,
            next = messages.next() => match next {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    tracing::warn!("Pulling events failed ({e}); retrying.");
                    continue;
                }
                None => break,
            },
        };
        let permit = permits.clone().acquire_owned().await?;
        let pipeline = pipeline.clone();
        tokio::spawn(async move {
            handle(&pipeline, message, retry).await;
            drop(permit);
        });
    }
    tracing::info!("Stopping: waiting for events in flight.");
    let _ = permits.acquire_many(config.worker.concurrency as u32).await;
    Ok(())
}

async fn handle(pipeline: &Pipeline, message: async_nats::jetstream::Message, retry: Duration) {
    let delivery = message.info().map_or(1, |i| i.delivered.max(1) as u64);
    let (result, disposition) = pipeline.handle(&message.payload, delivery).await;
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
