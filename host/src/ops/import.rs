//! `photosync import DIR`: a folder of photos in one go. The real run publishes a photo-upload
//! event per file (large photos through the Object Store) and follows their results; the dry
//! run puts every file through a pipeline that changes nothing and says what would happen:
//! which file goes to whom, which match nobody or several people, and who in scope would still
//! have no photo.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;

use super::{Progress, Results, Summary, photo_files};
use crate::config::Config;
use crate::events::{Outcome, PhotoRef, PhotoResult, PhotoUpload};

/// The dry run's upload sequences: newer than any the stream has given.
const AFTER_EVERYTHING: u64 = u64::MAX / 2;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    /// Which file names to take (`*` and `?`); photo file endings when `None`.
    pub pattern: Option<String>,
    pub dry_run: bool,
    /// How long to wait for the next result before giving up.
    pub patience: Duration,
}

/// The files to import, checked for names the photo bucket would confuse.
fn files(options: &Options) -> anyhow::Result<Vec<PathBuf>> {
    let files = photo_files(&options.dir, options.pattern.as_deref())
        .map_err(|e| anyhow::anyhow!("cannot read the folder {}: {e}", options.dir.display()))?;
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for f in &files {
        let name = file_name(f);
        if let Some(other) = seen.insert(name.to_lowercase(), f) {
            eprintln!(
                "warning: {} and {} have the same file name; photosync keeps photos by name, so \
                 the later one replaces the earlier one in the photo bucket",
                other.display(),
                f.display()
            );
        }
    }
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Publishes every file and waits for their results; returns the summary.
pub async fn run(config: &Config, options: &Options) -> anyhow::Result<Summary> {
    let files = files(options)?;
    if files.is_empty() {
        anyhow::bail!(
            "no photo files in {} (photo endings: jpg, jpeg, png, gif, bmp, webp, tif, tiff; or give --pattern)",
            options.dir.display()
        );
    }
    let bus = crate::service::connect_bus(config).await?;
    let mut results = Results::subscribe(&bus).await?;
    let mut events = HashMap::new();
    let mut progress = Progress::new("publishing", files.len());
    for (i, path) in files.iter().enumerate() {
        let event =
            crate::publish::publish_file(&bus, path, "photosync-import", &BTreeMap::new()).await?;
        events.insert(event.id, file_name(path));
        progress.show(i + 1, "");
    }
    progress.finish();
    let mut progress = Progress::new("importing", files.len());
    results.wait(&events, &mut progress, options.patience).await
}

/// What the dry run found.
#[derive(Debug, Default)]
pub struct Preview {
    /// Each file's predicted result, in file order.
    pub predictions: Vec<PhotoResult>,
    /// Entries in scope that have no photo now and would get none from this folder.
    pub without_photo: Vec<String>,
    pub summary: Summary,
}

/// Puts every file through a pipeline that changes nothing.
pub async fn preview(config: &Config, options: &Options) -> anyhow::Result<Preview> {
    let files = files(options)?;
    let pipeline = crate::service::pipeline(config, true).await?;
    let mut progress = Progress::new("previewing", files.len());
    let concurrency = config.worker.concurrency.max(1);
    let pipeline = &pipeline;
    let mut done = 0;
    let mut predictions: Vec<PhotoResult> = futures::stream::iter(files.iter().enumerate())
        // A real import's events come after everything already in the stream.
        .map(|(i, path)| async move { predict(pipeline, path, AFTER_EVERYTHING + i as u64).await })
        .buffered(concurrency)
        .inspect(|_| {
            done += 1;
            progress.show(done, "");
        })
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    progress.finish();
    settle_duplicates(&mut predictions);
    let attribute = config
        .profiles()
        .first()
        .map(|p| p.attribute.clone())
        .unwrap_or_else(|| "thumbnailPhoto".into());
    let getting: std::collections::HashSet<&str> = predictions
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Written | Outcome::Unchanged))
        .filter_map(|r| r.entry_dn.as_deref())
        .collect();
    let mut without_photo = Vec::new();
    let key = attribute.to_ascii_lowercase();
    let directory = crate::service::connect_directory(config).await?;
    directory
        .each(std::slice::from_ref(&attribute), |entry| {
            if entry.values.get(&key).is_none_or(Vec::is_empty)
                && !getting.contains(entry.dn.as_str())
            {
                without_photo.push(entry.dn);
            }
            std::future::ready(Ok(()))
        })
        .await?;
    let summary = predictions.iter().collect();
    Ok(Preview {
        predictions,
        without_photo,
        summary,
    })
}

/// One file through the dry-run pipeline, as the event a real import would publish.
async fn predict(
    pipeline: &crate::pipeline::Pipeline,
    path: &Path,
    sequence: u64,
) -> anyhow::Result<PhotoResult> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let event = PhotoUpload {
        id: format!("dry-run/{sequence}"),
        file_name: file_name(path),
        source: "photosync-import".into(),
        content_type: String::new(),
        uploaded_at: crate::timestamps::now_rfc3339(),
        attributes: BTreeMap::new(),
        // The bytes go to the pipeline as they are: nothing is published.
        photo: PhotoRef::Inline(String::new()),
        photo_digest: None,
    };
    Ok(pipeline.predict(event, bytes, sequence).await)
}

/// Several files for one entry, as the real run settles them: the same photo again is
/// unchanged; of different photos, the last published wins and the others are superseded.
fn settle_duplicates(predictions: &mut [PhotoResult]) {
    let mut by_entry: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in predictions.iter().enumerate() {
        if matches!(r.outcome, Outcome::Written | Outcome::Unchanged)
            && let Some(dn) = &r.entry_dn
        {
            by_entry.entry(dn.to_lowercase()).or_default().push(i);
        }
    }
    for indices in by_entry.values().filter(|v| v.len() > 1) {
        let digests: HashMap<usize, String> = indices
            .iter()
            .map(|&i| (i, predictions[i].source_digest.clone().unwrap_or_default()))
            .collect();
        let digest = |i: usize| digests[&i].clone();
        let last = indices[indices.len() - 1];
        let (winner, winner_name) = (digest(last), predictions[last].file_name.clone());
        let mut first_of: HashMap<String, String> = HashMap::new();
        for &i in indices {
            let d = digest(i);
            let name = predictions[i].file_name.clone().unwrap_or_default();
            let (outcome, reason) = match first_of.get(&d) {
                Some(first) => (Outcome::Unchanged, format!("the same photo as {first}")),
                None if d != winner => (
                    Outcome::Superseded,
                    format!(
                        "a later file for the same entry, {}, wins",
                        winner_name.as_deref().unwrap_or("?")
                    ),
                ),
                None => {
                    first_of.insert(d, name);
                    continue;
                }
            };
            first_of.entry(digest(i)).or_insert(name);
            let r = &mut predictions[i];
            r.outcome = outcome;
            r.reason = Some(reason);
            r.attributes.iter_mut().for_each(|a| a.written = false);
        }
    }
}

/// The dry run's report: one line per file, the people left without a photo, the counts.
pub fn render_preview(preview: &Preview, shown: usize) -> String {
    let mut out = String::new();
    for r in &preview.predictions {
        let name = r.file_name.as_deref().unwrap_or("?");
        let line = match r.outcome {
            Outcome::Written | Outcome::Unchanged => format!(
                "{name:<28} → {} ({}{})\n",
                r.entry_dn.as_deref().unwrap_or("?"),
                r.outcome.as_str(),
                r.reason
                    .as_deref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            ),
            other => format!(
                "{name:<28} ✗ {}: {}\n",
                other.as_str(),
                r.reason.as_deref().unwrap_or("")
            ),
        };
        out.push_str(&line);
    }
    if !preview.without_photo.is_empty() {
        let n = preview.without_photo.len();
        out.push_str(&format!(
            "\n{n} {} in scope {} no photo and would get none from this folder:\n",
            if n == 1 { "person" } else { "people" },
            if n == 1 { "has" } else { "have" },
        ));
        for dn in preview.without_photo.iter().take(shown) {
            out.push_str(&format!("  {dn}\n"));
        }
        if preview.without_photo.len() > shown {
            out.push_str(&format!(
                "  … and {} more\n",
                preview.without_photo.len() - shown
            ));
        }
    }
    out.push_str(&format!(
        "\ndry run: nothing was written. An import now would give, for {} files:\n{}",
        preview.predictions.len(),
        preview.summary.render(shown)
    ));
    out
}
