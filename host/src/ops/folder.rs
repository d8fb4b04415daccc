//! `photosync watch-folder DIR`: a folder that feeds photosync continuously. A photo dropped in
//! (or replaced) is published once its size and modification time have stayed the same for the
//! settle time, so a file still being copied is not picked up half-written; names of files in
//! progress (`.part`, `~`, hidden) are never picked up. Photos already in the folder at start
//! are published too: the dedup makes that free for unchanged ones, and nothing dropped while
//! the watcher was stopped is missed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::photo_files;
use crate::bus::Bus;

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub pattern: Option<String>,
    /// How often the folder is looked at.
    pub interval: Duration,
    /// How long a file must stay unchanged before it is published.
    pub settle: Duration,
}

/// What the watcher knows of one file.
#[derive(Debug)]
struct Seen {
    /// Size and modification time when last looked at.
    looks: (u64, Option<SystemTime>),
    /// Since when it has looked like that.
    since: Instant,
    /// What it looked like when it was last published.
    published: Option<(u64, Option<SystemTime>)>,
}

/// Watches until `shutdown` resolves.
pub async fn run(
    bus: &Bus,
    options: &Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if !options.dir.is_dir() {
        anyhow::bail!("{} is not a folder", options.dir.display());
    }
    tracing::info!(folder = %options.dir.display(), "Watching the folder for photos.");
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = look(bus, options, &mut seen).await {
            tracing::warn!(
                "Cannot read the folder {} ({e}); trying again.",
                options.dir.display()
            );
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(options.interval) => {}
        }
    }
}

/// One look at the folder: notes changes, publishes files that have settled.
async fn look(
    bus: &Bus,
    options: &Options,
    seen: &mut HashMap<PathBuf, Seen>,
) -> std::io::Result<()> {
    let files = photo_files(&options.dir, options.pattern.as_deref())?;
    let present: std::collections::HashSet<&PathBuf> = files.iter().collect();
    seen.retain(|path, _| present.contains(path));
    for path in &files {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        let looks = (meta.len(), meta.modified().ok());
        let now = Instant::now();
        let s = seen.entry(path.clone()).or_insert(Seen {
            looks,
            since: now,
            published: None,
        });
        if s.looks != looks {
            s.looks = looks;
            s.since = now;
        }
        if s.published == Some(looks)
            || now.duration_since(s.since) < options.settle
            || looks.0 == 0
        {
            continue;
        }
        match crate::publish::publish_file(bus, path, "photosync-watch-folder", &BTreeMap::new())
            .await
        {
            Ok(event) => {
                s.published = Some(looks);
                tracing::info!(file = %event.file_name, event = %event.id, "Published a photo from the folder.");
            }
            Err(e) => tracing::warn!("Cannot publish {} ({e}); trying again.", path.display()),
        }
    }
    Ok(())
}
