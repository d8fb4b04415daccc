//! NATS and JetStream (async-nats 0.40, which can still create KV and Object Store buckets on
//! nats-server 2.9): the event and result streams, the photo Object Store bucket and the
//! sync-state KV bucket. It knows subjects and buckets, not what events mean.
//!
//! - `connect`: how photosync reaches NATS (servers, credentials, TLS), and what a failed
//!   connection means for the operator;
//! - `streams`: the streams and buckets, made or brought up to date on connecting, and their
//!   retention;
//! - `objects`: photos and plugins in Object Store buckets, and erasing stored records;
//! - `publish`: events, results and dead letters published, and a stream's messages read back.

mod connect;
mod objects;
mod publish;
mod streams;

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use connect::{connect_options, explain_connect_error};
use streams::{apply_retention, ensure_streams};

pub use connect::{Auth, BusOptions, Tls};
pub(crate) use objects::erase_object;
pub use objects::{StoredObject, content_digest};
pub use streams::Retention;
pub(crate) use streams::{key_value, object_store};

use crate::names::Names;

/// A NATS operation failed.
#[derive(Debug, thiserror::Error)]
#[error("NATS: {0}")]
pub struct BusError(pub String);

/// `what` failed because of `e`.
pub(crate) fn err(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError(format!("{what}: {e}"))
}

/// Connected NATS with the streams and buckets photosync uses.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    photos: object_store::ObjectStore,
    state: kv::Store,
    /// Replicas of every stream and bucket photosync creates.
    replicas: usize,
    /// The names of this deployment's subjects, streams and buckets.
    names: Names,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects to `url` and makes sure the streams and buckets exist (one replica each).
    pub async fn connect(url: &str, user: Option<(&str, &str)>) -> Result<Self, BusError> {
        let mut options = BusOptions::url(url);
        if let Some((u, p)) = user {
            options.auth = Auth::UserPassword(u.to_owned(), p.to_owned());
        }
        Self::connect_with(&options).await
    }

    /// Connects to any of `options.servers` (and, on a lost connection, to another) and makes
    /// sure the streams and buckets exist with `options.replicas` replicas.
    pub async fn connect_with(options: &BusOptions) -> Result<Self, BusError> {
        // Reconnects without end (the default), to any server of the list.
        let mut connect = connect_options(&options.auth, &options.tls).await?;
        if let Some(prefix) = &options.inbox_prefix {
            connect = connect.custom_inbox_prefix(prefix);
        }
        let servers: Vec<async_nats::ServerAddr> = options
            .servers
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| BusError(format!("{s} is not a NATS server URL: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let shown = options.servers.join(", ");
        let client = tokio::time::timeout(Duration::from_secs(20), connect.connect(servers))
            .await
            .map_err(|_| BusError(format!("cannot reach NATS at {shown} within 20 s")))?
            .map_err(|e| explain_connect_error(&e, options, &shown))?;
        let js = jetstream::new(client.clone());
        let replicas = options.replicas;
        let retention = options.retention.unwrap_or_default();
        let names = options.names.clone();
        ensure_streams(
            &js,
            &names,
            replicas,
            &retention,
            options.retention.is_some(),
        )
        .await?;
        let photos = object_store(
            &js,
            object_store::Config {
                bucket: names.photos_bucket.clone(),
                description: Some("every uploaded photo, under its file name".into()),
                storage: stream::StorageType::File,
                max_age: retention.photos,
                num_replicas: replicas,
                ..Default::default()
            },
        )
        .await?;
        if options.retention.is_some() {
            apply_retention(
                &js,
                &format!("OBJ_{}", names.photos_bucket),
                retention.photos,
            )
            .await?;
        }
        let state = key_value(
            &js,
            kv::Config {
                bucket: names.state_bucket.clone(),
                description: "photosync's sync state per directory entry".into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            },
        )
        .await?;
        Ok(Self {
            client,
            js,
            photos,
            state,
            replicas,
            names,
        })
    }

    /// Replicas of every stream and bucket photosync creates.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The state bucket.
    pub fn state(&self) -> &kv::Store {
        &self.state
    }

    /// The names of this deployment's subjects, streams and buckets.
    pub fn names(&self) -> &Names {
        &self.names
    }
}
