//! Backups of the photos photosync replaces: before a photo attribute is written, the values it
//! replaces and the value written are kept in the `photosync-backups` Object Store bucket for
//! `backup.retention-days`. `photosync rollback` puts the values before back; `photosync report`
//! shows both. It never decides what to write; the pipeline does.
//!
//! One write of one attribute is one record: objects named
//! `<entry id>/<micros>/<attribute>/before/<i>` (one per value replaced, none when the attribute
//! was empty) and `<entry id>/<micros>/<attribute>/after`, each carrying the record (JSON) as its
//! description, so listing the bucket lists the records without reading any photo.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{object_store, stream};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;

use crate::bus::{Bus, BusError, err};

/// One write of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The entry's stable id.
    pub entry_id: String,
    /// The entry's DN when it was written.
    pub dn: String,
    /// The attribute written.
    pub attribute: String,
    /// When, in microseconds since 1970 (orders the records of an entry).
    pub at_micros: u64,
    /// The event whose write this was (`rollback/...` for a rollback's own write).
    pub event_id: String,
    /// How many values the attribute had before (0: it was empty).
    pub values_before: usize,
    /// MD5 (hex) of each value before, in order.
    pub md5_before: Vec<String>,
    /// MD5 (hex) of the value written; empty when the write removed the attribute.
    pub md5_after: String,
}

impl Record {
    fn prefix(&self) -> String {
        format!(
            "{}/{:020}/{}",
            self.entry_id, self.at_micros, self.attribute
        )
    }

    /// The names of its objects: each value before, then the value after.
    fn names(&self) -> Vec<String> {
        let prefix = self.prefix();
        let mut names: Vec<String> = (0..self.values_before)
            .map(|i| format!("{prefix}/before/{i}"))
            .collect();
        names.push(format!("{prefix}/after"));
        names
    }
}

/// The backup bucket, opened (or created with the retention) on first use.
#[derive(Clone)]
pub struct Backups {
    store: object_store::ObjectStore,
    js: async_nats::jetstream::Context,
    /// The bucket's name (`<prefix>-backups`).
    bucket: String,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups").finish_non_exhaustive()
    }
}

impl Backups {
    /// Opens the bucket, creating it with `retention` (records older than that are dropped by
    /// NATS) when it does not exist, and updating its retention when it differs.
    pub async fn open(bus: &Bus, retention: Duration) -> Result<Self, BusError> {
        let bucket = bus.names().backups_bucket.clone();
        let store = crate::bus::object_store(
            &bus.js,
            object_store::Config {
                bucket: bucket.clone(),
                description: Some("photos replaced by photosync, for rollback".into()),
                max_age: retention,
                storage: stream::StorageType::File,
                num_replicas: bus.replicas(),
                ..Default::default()
            },
        )
        .await?;
        let name = format!("OBJ_{bucket}");
        if let Ok(mut s) = bus.js.get_stream(&name).await
            && let Ok(info) = s.info().await
            && info.config.max_age != retention
        {
            let mut config = info.config.clone();
            config.max_age = retention;
            bus.js
                .update_stream(config)
                .await
                .map_err(|e| err("cannot set the backup retention", e))?;
        }
        Ok(Self {
            store,
            js: bus.js.clone(),
            bucket,
        })
    }

    /// Keeps `before` (the values replaced) and `after` (the value written) as `record`.
    pub async fn save(
        &self,
        record: &Record,
        before: &[Vec<u8>],
        after: &[u8],
    ) -> Result<(), BusError> {
        let description = serde_json::to_string(record).map_err(|e| err("backup record", e))?;
        let prefix = record.prefix();
        let mut objects: Vec<(String, &[u8])> = before
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{prefix}/before/{i}"), v.as_slice()))
            .collect();
        objects.push((format!("{prefix}/after"), after));
        for (name, mut bytes) in objects {
            let meta = object_store::ObjectMetadata {
                name: name.clone(),
                description: Some(description.clone()),
                ..Default::default()
            };
            self.store
                .put(meta, &mut bytes)
                .await
                .map_err(|e| err(&format!("cannot keep the backup {name}"), e))?;
        }
        Ok(())
    }

    /// Removes `record` (a write that did not happen after all).
    pub async fn discard(&self, record: &Record) -> Result<(), BusError> {
        for name in record.names() {
            self.store
                .delete(&name)
                .await
                .map_err(|e| err(&format!("cannot remove the backup {name}"), e))?;
        }
        Ok(())
    }

    /// Erases `record` for good: its objects and every record of their names.
    pub async fn erase(&self, record: &Record) -> Result<(), BusError> {
        for name in record.names() {
            crate::bus::erase_object(&self.js, &self.store, &self.bucket, &name).await?;
        }
        Ok(())
    }

    /// Every record in the bucket, oldest first.
    pub async fn records(&self) -> Result<Vec<Record>, BusError> {
        let mut list = self
            .store
            .list()
            .await
            .map_err(|e| err("cannot list the backups", e))?;
        let mut records = BTreeMap::new();
        while let Some(info) = list.next().await {
            let info = info.map_err(|e| err("cannot list the backups", e))?;
            if info.deleted || !info.name.ends_with("/after") {
                continue;
            }
            let Some(record) = info
                .description
                .as_deref()
                .and_then(|d| serde_json::from_str::<Record>(d).ok())
            else {
                tracing::warn!(object = %info.name, "Skipping a backup object without a readable record.");
                continue;
            };
            records.insert((record.at_micros, record.prefix()), record);
        }
        Ok(records.into_values().collect())
    }

    /// The values `record` replaced, in order.
    pub async fn before(&self, record: &Record) -> Result<Vec<Vec<u8>>, BusError> {
        let mut values = Vec::with_capacity(record.values_before);
        for i in 0..record.values_before {
            values.push(
                self.read(&format!("{}/before/{i}", record.prefix()))
                    .await?,
            );
        }
        Ok(values)
    }

    /// The first value `record` replaced, if there was one (for showing, not restoring).
    pub async fn first_before(&self, record: &Record) -> Result<Option<Vec<u8>>, BusError> {
        match record.values_before {
            0 => Ok(None),
            _ => Ok(Some(
                self.read(&format!("{}/before/0", record.prefix())).await?,
            )),
        }
    }

    /// The value `record` wrote.
    pub async fn after(&self, record: &Record) -> Result<Vec<u8>, BusError> {
        self.read(&format!("{}/after", record.prefix())).await
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, BusError> {
        let mut object = self
            .store
            .get(name)
            .await
            .map_err(|e| err(&format!("cannot read the backup {name}"), e))?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| err(&format!("cannot read the backup {name}"), e))?;
        Ok(bytes)
    }
}
