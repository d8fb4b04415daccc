//! `photosync resync`: the full resync other tools need "clear the connector space" for. Every
//! entry in scope (or one) gets a `resync` directory-change event; the workers forget its sync
//! state and apply its stored photo again, comparing bytes with the directory, so a photo that is
//! already right is not rewritten and a missing or wrong one is repaired.

use std::collections::HashMap;
use std::time::Duration;

use super::{Progress, Results, Summary};
use crate::config::Config;
use crate::events::{ChangeKind, DirectoryChange};

/// Which entries to resync.
#[derive(Debug, Clone)]
pub enum Target {
    All,
    Entry(String),
}

/// Publishes the resync events and waits for their results.
pub async fn run(config: &Config, target: &Target, patience: Duration) -> anyhow::Result<Summary> {
    let (bus, directory) = crate::service::connect_servers(config).await?;
    let mut entries: Vec<(String, String)> = Vec::new();
    match target {
        Target::All => {
            directory
                .each(&[], |e| {
                    entries.push((e.id, e.dn));
                    std::future::ready(Ok(()))
                })
                .await?;
        }
        Target::Entry(dn) => {
            let entry = directory.read(dn, &[]).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "there is no entry {dn} under {} matching {}",
                    config.ldap.base_dn,
                    config.ldap.filter
                )
            })?;
            entries.push((entry.id, entry.dn));
        }
    }
    let mut results = Results::subscribe(&bus).await?;
    let run = crate::timestamps::now_micros();
    let mut events = HashMap::new();
    for (entry_id, dn) in entries.into_iter().filter(|(id, _)| !id.is_empty()) {
        let change = DirectoryChange {
            id: format!("resync/{run}/{entry_id}"),
            entry_id,
            dn: dn.clone(),
            change: ChangeKind::Resync,
            previous_dn: None,
            attributes: vec![],
            seen_at: crate::timestamps::now_rfc3339(),
            source: "photosync-resync".into(),
        };
        bus.publish_directory_change(&change).await?;
        events.insert(change.id, dn);
    }
    let mut progress = Progress::new("resyncing", events.len());
    results.wait(&events, &mut progress, patience).await
}
