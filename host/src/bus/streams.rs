//! The streams and buckets photosync uses, made when missing and brought up to date (subjects
//! added, retention applied) when they exist, and their replicas reported.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use super::{BusError, err};
use crate::names::Names;

/// How long JetStream remembers event ids for duplicate detection.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How long photosync's streams and buckets keep what they hold (zero: for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `PHOTOSYNC_EVENTS`.
    pub events: Duration,
    /// `PHOTOSYNC_RESULTS` and `PHOTOSYNC_CHANGES`.
    pub results: Duration,
    /// `PHOTOSYNC_DEAD`.
    pub dead_letters: Duration,
    /// The photo bucket.
    pub photos: Duration,
}

impl Default for Retention {
    /// What `[retention]` defaults to.
    fn default() -> Self {
        const DAY: u64 = 86_400;
        Self {
            events: Duration::from_secs(14 * DAY),
            results: Duration::from_secs(7 * DAY),
            dead_letters: Duration::from_secs(30 * DAY),
            photos: Duration::from_secs(90 * DAY),
        }
    }
}

/// The Object Store bucket `config` names, created with `config` when it does not exist
/// (another worker may create it at the same time).
pub(crate) async fn object_store(
    js: &jetstream::Context,
    config: object_store::Config,
) -> Result<object_store::ObjectStore, BusError> {
    let bucket = config.bucket.clone();
    if let Ok(store) = js.get_object_store(&bucket).await {
        report_replicas(js, &format!("OBJ_{bucket}"), config.num_replicas).await;
        return Ok(store);
    }
    match js.create_object_store(config).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .get_object_store(&bucket)
            .await
            .map_err(|e| err(&format!("cannot create the bucket {bucket}"), e)),
    }
}

/// The KV bucket `config` names, created with `config` when it does not exist.
pub(crate) async fn key_value(
    js: &jetstream::Context,
    config: kv::Config,
) -> Result<kv::Store, BusError> {
    let bucket = config.bucket.clone();
    if let Ok(store) = js.get_key_value(&bucket).await {
        report_replicas(js, &format!("KV_{bucket}"), config.num_replicas).await;
        return Ok(store);
    }
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .get_key_value(&bucket)
            .await
            .map_err(|e| err(&format!("cannot create the bucket {bucket}"), e)),
    }
}

/// Says clearly when the existing stream `name` keeps fewer replicas than configured: photosync
/// does not change a stream's replicas by itself (moving data between servers is an
/// operator's decision).
async fn report_replicas(js: &jetstream::Context, name: &str, wanted: usize) {
    let Ok(mut stream) = js.get_stream(name).await else {
        return;
    };
    if let Ok(info) = stream.info().await
        && info.config.num_replicas < wanted.max(1)
    {
        tracing::warn!(
            stream = name,
            "The stream {name} keeps {} replica(s) but nats.replicas is {wanted}; photosync leaves it \
             as it is. Raise it with `nats stream edit {name} --replicas {wanted}` (or set nats.replicas \
             to match).",
            info.config.num_replicas
        );
    }
}

/// Sets `stream`'s maximum age to `max_age` when it has another, saying so (or, when NATS does
/// not allow it, warning).
pub(super) async fn apply_retention(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
) -> Result<(), BusError> {
    let mut stream = js
        .get_stream(name)
        .await
        .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
    if info.config.max_age == max_age {
        return Ok(());
    }
    let shown = |d: Duration| match d.as_secs() {
        0 => "for ever".to_owned(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s => format!("{s} s"),
    };
    let was = shown(info.config.max_age);
    let mut updated = info.config.clone();
    updated.max_age = max_age;
    updated.duplicate_window = duplicate_window(info.config.duplicate_window, max_age);
    // A client whose NATS user may not edit streams (a producer) leaves them as they are.
    match js.update_stream(updated).await {
        Ok(_) => tracing::info!(
            stream = name,
            "Retention: {name} now keeps messages {} (it kept them {was}); older ones are removed.",
            shown(max_age)
        ),
        Err(e) => tracing::warn!(
            stream = name,
            "Cannot set the retention of {name} to {} ({e}); it keeps messages {was}.",
            shown(max_age)
        ),
    }
    Ok(())
}

/// The duplicate window `wanted`, at most `max_age` (JetStream's rule) unless that is unlimited.
fn duplicate_window(wanted: Duration, max_age: Duration) -> Duration {
    match max_age.is_zero() {
        true => wanted,
        false => wanted.min(max_age),
    }
}

/// photosync's streams, created when missing with `retention`; with `update_existing`, existing
/// ones get it too.
pub(super) async fn ensure_streams(
    js: &jetstream::Context,
    names: &Names,
    replicas: usize,
    retention: &Retention,
    update_existing: bool,
) -> Result<(), BusError> {
    let events = stream::Config {
        name: names.events_stream.clone(),
        subjects: vec![
            names.photo_uploaded.clone(),
            names.directory_changed.clone(),
        ],
        storage: stream::StorageType::File,
        duplicate_window: duplicate_window(DUPLICATE_WINDOW, retention.events),
        max_age: retention.events,
        num_replicas: replicas,
        ..Default::default()
    };
    let results = stream::Config {
        name: names.results_stream.clone(),
        subjects: vec![format!("{}.>", names.result_prefix)],
        storage: stream::StorageType::File,
        max_age: retention.results,
        num_replicas: replicas,
        ..Default::default()
    };
    let changes = stream::Config {
        name: names.changes_stream.clone(),
        subjects: vec![names.photo_changed.clone()],
        storage: stream::StorageType::File,
        max_age: retention.results,
        duplicate_window: duplicate_window(DUPLICATE_WINDOW, retention.results),
        num_replicas: replicas,
        ..Default::default()
    };
    let dead = stream::Config {
        name: names.dead_stream.clone(),
        subjects: vec![format!("{}.>", names.dead_prefix)],
        storage: stream::StorageType::File,
        max_age: retention.dead_letters,
        num_replicas: replicas,
        ..Default::default()
    };
    for config in [events, results, changes, dead] {
        let name = config.name.clone();
        let mut existing = js
            .get_or_create_stream(config.clone())
            .await
            .map_err(|e| err(&format!("cannot create stream {name}"), e))?;
        // A stream made by an older photosync may lack a subject added since.
        let info = existing
            .info()
            .await
            .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
        report_replicas(js, &name, replicas).await;
        if update_existing {
            apply_retention(js, &name, config.max_age).await?;
        }
        let missing = config
            .subjects
            .iter()
            .any(|s| !info.config.subjects.contains(s));
        if missing {
            let mut updated = info.config.clone();
            for subject in &config.subjects {
                if !updated.subjects.contains(subject) {
                    updated.subjects.push(subject.clone());
                }
            }
            js.update_stream(updated)
                .await
                .map_err(|e| err(&format!("cannot add subjects to stream {name}"), e))?;
        }
    }
    Ok(())
}
