//! `photosync watch` (the directory watcher alone) and `photosync export --all` (everyone's
//! current photo as photo-changed events).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::wiring::connect_servers;
use crate::config::Config;
use crate::events;
use crate::publish::photo_changed_event;

/// Runs only the directory watcher until `shutdown` resolves.
pub async fn watch(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (bus, directory) = connect_servers(&config).await?;
    crate::watcher::watch(&directory, &bus, &config.watcher, shutdown).await;
    Ok(())
}

/// Publishes a photo-changed event for the current photo of every entry in scope; returns
/// (entries, events).
pub async fn export_all(config: &Config) -> anyhow::Result<(usize, usize)> {
    let (bus, directory) = connect_servers(config).await?;
    let attributes: Vec<String> = config
        .profiles()
        .iter()
        .map(|p| p.attribute.clone())
        .collect();
    let run = crate::timestamps::now_rfc3339();
    let published = AtomicUsize::new(0);
    let published_ref = &published;
    let entries = directory
        .each(&attributes, |entry| {
            let bus = bus.clone();
            let attributes = attributes.clone();
            let run = run.clone();
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
                    let event = photo_changed_event(
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
                    published_ref.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
        })
        .await?;
    Ok((entries, published.into_inner()))
}
