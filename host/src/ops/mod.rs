//! Operators' tools: `import` (with `--dry-run`), `watch-folder`, `resync`, `rollback` and
//! `report`. They publish events and wait for their results like any producer, or, for a dry
//! run, drive a pipeline that changes nothing. What they share lives here: finding photo
//! files, following results with a progress line, and the summary an import or resync ends with.

pub mod folder;
pub mod import;
pub mod report;
pub mod resync;
pub mod rollback;

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::events::{Outcome, PhotoResult, RESULT_PREFIX};

/// Every outcome, in the order summaries list them.
pub const OUTCOMES: [Outcome; 7] = [
    Outcome::Written,
    Outcome::Unchanged,
    Outcome::NoMatch,
    Outcome::Ambiguous,
    Outcome::Rejected,
    Outcome::Failed,
    Outcome::Superseded,
];

/// File name endings photosync imports by default.
const PHOTO_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "jfif",
];

/// Whether a file name is one to skip whatever the pattern: hidden files and the names editors
/// and copy tools give files they are still writing.
pub fn is_partial_or_hidden(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with('~')
        || name.ends_with('~')
        || [
            ".part",
            ".partial",
            ".tmp",
            ".crdownload",
            ".download",
            ".swp",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character, case
/// ignored), or, without a pattern, has a photo file ending.
pub fn wanted(name: &str, pattern: Option<&str>) -> bool {
    if is_partial_or_hidden(name) {
        return false;
    }
    match pattern {
        Some(p) => glob(&p.to_lowercase(), &name.to_lowercase()),
        None => name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| PHOTO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())),
    }
}

fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The photo files under `dir` (recursively) that `pattern` accepts, sorted by path. Only `dir`
/// itself must be readable: a subfolder or file that cannot be read is skipped with a warning.
pub fn photo_files(dir: &Path, pattern: Option<&str>) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if d != dir => {
                tracing::warn!("Skipping the folder {} ({e}).", d.display());
                continue;
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let Ok((entry, kind)) = entry.and_then(|e| e.file_type().map(|k| (e, k))) else {
                tracing::warn!("Skipping an entry of {} that cannot be read.", d.display());
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() && !name.starts_with('.') {
                dirs.push(entry.path());
            } else if kind.is_file() && wanted(&name, pattern) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Counts of final results by outcome, and the results that need an operator's eye.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub counts: HashMap<Outcome, usize>,
    /// Results other than written and unchanged, in arrival order.
    pub problems: Vec<PhotoResult>,
}

impl<'a> FromIterator<&'a PhotoResult> for Summary {
    fn from_iter<I: IntoIterator<Item = &'a PhotoResult>>(results: I) -> Self {
        let mut summary = Summary::default();
        for result in results {
            summary.add(result);
        }
        summary
    }
}

impl Summary {
    pub fn add(&mut self, result: &PhotoResult) {
        *self.counts.entry(result.outcome).or_default() += 1;
        if !matches!(result.outcome, Outcome::Written | Outcome::Unchanged) {
            self.problems.push(result.clone());
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.counts.get(&outcome).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// Whether anything failed: a `failed` or `rejected` result.
    pub fn any_failed(&self) -> bool {
        self.count(Outcome::Failed) + self.count(Outcome::Rejected) > 0
    }

    /// `written 812 · unchanged 100 · …` for the outcomes seen.
    pub fn one_line(&self) -> String {
        OUTCOMES
            .iter()
            .filter(|o| self.count(**o) > 0)
            .map(|o| format!("{} {}", o.as_str(), self.count(*o)))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The table of counts, then up to `shown` problems of each outcome with their reasons.
    pub fn render(&self, shown: usize) -> String {
        let mut out = String::new();
        for o in OUTCOMES {
            out.push_str(&format!("  {:<11} {:>6}\n", o.as_str(), self.count(o)));
        }
        for o in OUTCOMES {
            let of: Vec<&PhotoResult> = self.problems.iter().filter(|r| r.outcome == o).collect();
            if of.is_empty() {
                continue;
            }
            out.push_str(&format!("{}:\n", o.as_str()));
            for r in of.iter().take(shown) {
                out.push_str(&format!(
                    "  {} — {}\n",
                    r.file_name
                        .as_deref()
                        .or(r.entry_dn.as_deref())
                        .unwrap_or(&r.event_id),
                    r.reason.as_deref().unwrap_or("")
                ));
            }
            if of.len() > shown {
                out.push_str(&format!("  … and {} more\n", of.len() - shown));
            }
        }
        out
    }
}

/// A progress line on stderr: a bar, counts, rate and time left; redrawn in place on a
/// terminal, printed every few seconds otherwise.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: usize,
    started: Instant,
    last: Option<Instant>,
    terminal: bool,
}

impl Progress {
    pub fn new(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            started: Instant::now(),
            last: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Shows `done` of the total, with `detail`, unless shown very recently.
    pub fn show(&mut self, done: usize, detail: &str) {
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|l| l.elapsed() < every) && done < self.total {
            return;
        }
        self.last = Some(Instant::now());
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        };
        let left = if rate > 0.0 {
            format!("{:.0} s", (self.total.saturating_sub(done)) as f64 / rate)
        } else {
            "?".into()
        };
        let width = 30;
        let filled = (done * width).checked_div(self.total).unwrap_or(width);
        let line = format!(
            "{} [{}{}] {done}/{} {:.1}/s ETA {left}  {detail}",
            self.what,
            "=".repeat(filled),
            " ".repeat(width - filled.min(width)),
            self.total,
            rate
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Ends the progress line.
    pub fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

/// Final results of a set of events, followed as they arrive on NATS. Subscribe before the
/// events are published, so no result is missed.
pub struct Results {
    subscription: async_nats::Subscriber,
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Results").finish_non_exhaustive()
    }
}

impl Results {
    pub async fn subscribe(bus: &crate::bus::Bus) -> anyhow::Result<Self> {
        let subscription = bus.client.subscribe(format!("{RESULT_PREFIX}.>")).await?;
        bus.client.flush().await?;
        Ok(Self { subscription })
    }

    /// Waits for one final result for each of `events` (event id → label, e.g. the file name),
    /// showing progress; gives up when no result has come for `patience`.
    pub async fn wait(
        &mut self,
        events: &HashMap<String, String>,
        progress: &mut Progress,
        patience: Duration,
    ) -> anyhow::Result<Summary> {
        let mut pending: HashSet<&String> = events.keys().collect();
        let mut done = 0;
        let mut summary = Summary::default();
        progress.show(0, "waiting for results");
        while !pending.is_empty() {
            let message = match tokio::time::timeout(patience, self.subscription.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => anyhow::bail!("the connection to NATS closed"),
                Err(_) => anyhow::bail!(
                    "no result for {} s with {} of {} events still open; are the workers \
                     (photosync run) running?",
                    patience.as_secs(),
                    pending.len(),
                    events.len()
                ),
            };
            let Ok(result) = serde_json::from_slice::<PhotoResult>(&message.payload) else {
                continue;
            };
            if !result.is_final || !pending.remove(&result.event_id) {
                continue;
            }
            summary.add(&result);
            done += 1;
            progress.show(done, &summary.one_line());
        }
        progress.finish();
        Ok(summary)
    }
}

/// Parses `--since`: an RFC 3339 time (`2026-11-21T09:00:00Z`) or an age (`90m`, `2h`, `7d`).
/// Returns seconds since 1970.
pub fn parse_since(text: &str) -> Result<u64, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let bad = || {
        format!(
            "{text:?} is neither a time like 2026-11-21T09:00:00Z nor an age like 90m, 2h or 7d"
        )
    };
    if let Some((n, unit)) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        && !n.is_empty()
        && matches!(unit, "s" | "m" | "h" | "d")
    {
        let n: u64 = n.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => n * 86_400,
        };
        return Ok(now.saturating_sub(secs));
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    u64::try_from(t.unix_timestamp()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_partial_files() {
        assert!(wanted("12345.jpg", None));
        assert!(wanted("John_Smith.JPEG", None));
        assert!(!wanted("notes.txt", None));
        assert!(!wanted(".12345.jpg", None));
        assert!(!wanted("12345.jpg.part", None));
        assert!(!wanted("12345.jpg~", None));
        assert!(wanted("emp-42.png", Some("emp-*.png")));
        assert!(!wanted("emp-42.jpg", Some("emp-*.png")));
        assert!(wanted("a1.jpg", Some("a?.JPG")));
        assert!(!wanted("a12.jpg", Some("a?.jpg")));
        assert!(wanted("anything", Some("*")));
    }

    #[test]
    fn since_takes_times_and_ages() {
        assert_eq!(parse_since("2026-11-21T00:00:00Z"), Ok(1_795_219_200));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let two_hours = parse_since("2h").expect("an age");
        assert!((now - 7200).abs_diff(two_hours) <= 2);
        assert!(
            parse_since("yesterday")
                .expect_err("not a time")
                .contains("neither")
        );
        assert!(parse_since("5w").is_err());
    }
}
