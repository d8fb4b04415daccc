//! Following results: the summary an import or resync ends with, its progress line, and the
//! subscription that waits for one final result per event.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::events::{Outcome, PhotoResult};

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
        let subjects = format!("{}.>", bus.names().result_prefix);
        let subscription = bus.client.subscribe(subjects).await?;
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
