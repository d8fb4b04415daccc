//! Batched entry searches. The criteria of events that arrive while the directory is busy go to
//! it together, as one search for `(&(filter)(|(&(a=v)…)(&(a=w)…)…))`, and each event gets the
//! entries that carry exactly its values: one round trip and one operation of the directory
//! instead of one per event. An event whose share of the answer cannot be told for certain is
//! searched alone, so a batch never changes what an event finds.
//!
//! Certain means: an event gets an entry when the entry holds, byte for byte, every value of
//! its criteria. When an entry holds them only as a directory might compare them (ignoring
//! case, spaces or hyphens; any value outside ASCII counts as possibly equal to anything), that
//! event is searched alone; and when an entry seems to be no event's at all, every event of the
//! batch is.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Directory, DirectoryError, Entry, Found, KEEP_ENTRIES};
use crate::plugins::Criterion;

/// Most searches the directory works on at once for the upload path; events beyond them wait
/// and go in the next batch.
const IN_FLIGHT: usize = 2;

/// One event's search: its criteria and the attributes it wants.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub criteria: Vec<Criterion>,
    pub attributes: Vec<String>,
    /// The criteria's attribute names lower-cased, as entries' values are keyed.
    keys: Vec<String>,
}

impl Ask {
    pub fn new(criteria: &[Criterion], attributes: &[String]) -> Self {
        Self {
            keys: criteria
                .iter()
                .map(|c| c.attribute.to_ascii_lowercase())
                .collect(),
            criteria: criteria.to_vec(),
            attributes: attributes.to_vec(),
        }
    }

    /// Whether `other` may share this ask's search: the same attributes wanted, and the same
    /// criteria attributes named (the batch asks for those to tell the shares apart).
    fn same_shape(&self, other: &Ask) -> bool {
        self.attributes == other.attributes
            && self.keys.iter().all(|k| other.keys.contains(k))
            && other.keys.iter().all(|k| self.keys.contains(k))
    }

    /// Whether `entry` holds, for every criterion, a value that `equal` says is its value.
    fn held_by(&self, entry: &Entry, equal: impl Fn(&[u8], &[u8]) -> bool) -> bool {
        self.keys.iter().zip(&self.criteria).all(|(key, c)| {
            entry
                .values
                .get(key)
                .is_some_and(|values| values.iter().any(|v| equal(v, c.value.as_bytes())))
        })
    }

    /// Whether `entry` holds every value of the criteria exactly.
    fn holds(&self, entry: &Entry) -> bool {
        self.held_by(entry, |a, b| a == b)
    }

    /// Whether `entry` may hold every value of the criteria as the directory compares them.
    fn may_hold(&self, entry: &Entry) -> bool {
        self.held_by(entry, loosely_equal)
    }
}

/// Whether a directory's equality rules might find `a` and `b` equal: ASCII case, spaces and
/// hyphens ignored; anything outside ASCII may be equal to anything (Unicode's foldings).
fn loosely_equal(a: &[u8], b: &[u8]) -> bool {
    if !a.is_ascii() || !b.is_ascii() {
        return true;
    }
    significant(a).eq(significant(b))
}

/// The bytes of `value` that a directory's equality rules compare, lower-cased.
fn significant(value: &[u8]) -> impl Iterator<Item = u8> + '_ {
    value
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && **b != b'-')
        .map(u8::to_ascii_lowercase)
}

/// What a waiting search is told when its turn comes.
enum Turn {
    /// Its entries, from a batch another search led.
    Found(Result<Found, DirectoryError>),
    /// Lead the next batch, with this place among those in flight.
    Lead(Slot),
    /// Search alone: the batch could not tell its share for certain.
    Alone,
}

struct Waiter {
    ask: Ask,
    turn: oneshot::Sender<Turn>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiter>,
    in_flight: usize,
}

/// The queue of searches waiting for the directory, shared by everyone searching through one
/// [`Directory`].
#[derive(Debug)]
pub(super) struct Batcher {
    /// Most events one search serves; 1 searches each alone.
    pub max: usize,
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("waiting", &self.waiting.len())
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

/// A place among the searches in flight. Dropping it (its search done, or its event given up)
/// hands it to the first search still waiting, or frees it.
struct Slot {
    queue: Arc<Mutex<Queue>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        loop {
            let next = {
                let mut q = lock(&self.queue);
                match q.waiting.pop_front() {
                    Some(next) => next,
                    None => {
                        q.in_flight -= 1;
                        return;
                    }
                }
            };
            let handed = Slot {
                queue: Arc::clone(&self.queue),
            };
            match next.turn.send(Turn::Lead(handed)) {
                Ok(()) => return,
                // That event was given up: its place goes to the next one. The place came back
                // with the message; forgetting it keeps it counted as this one.
                Err(Turn::Lead(back)) => std::mem::forget(back),
                Err(_) => unreachable!("the turn sent was a lead"),
            }
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Batcher {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            queue: Arc::default(),
        }
    }

    /// A place in flight now, or a place in the queue.
    fn enter(&self, ask: &Ask) -> Result<Slot, oneshot::Receiver<Turn>> {
        let mut q = lock(&self.queue);
        if q.in_flight < IN_FLIGHT {
            q.in_flight += 1;
            return Ok(Slot {
                queue: Arc::clone(&self.queue),
            });
        }
        let (turn, receiver) = oneshot::channel();
        q.waiting.push_back(Waiter {
            ask: ask.clone(),
            turn,
        });
        Err(receiver)
    }

    /// The waiting searches that may share `lead`'s search, taken out of the queue.
    fn companions(&self, lead: &Ask) -> Vec<Waiter> {
        let mut q = lock(&self.queue);
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(q.waiting.len());
        while let Some(w) = q.waiting.pop_front() {
            if taken.len() + 1 < self.max && lead.same_shape(&w.ask) {
                taken.push(w);
            } else {
                kept.push_back(w);
            }
        }
        q.waiting = kept;
        taken
    }
}

impl Directory {
    /// [`Directory::find`] through the batcher.
    pub(super) async fn find_batched(&self, ask: Ask) -> Result<Found, DirectoryError> {
        let slot = match self.batcher.enter(&ask) {
            Ok(slot) => slot,
            Err(receiver) => match receiver.await {
                Ok(Turn::Found(found)) => return found,
                Ok(Turn::Lead(slot)) => slot,
                Ok(Turn::Alone) | Err(_) => {
                    return self.find_one(&ask.criteria, &ask.attributes).await;
                }
            },
        };
        let others = self.batcher.companions(&ask);
        let found = if others.is_empty() {
            self.find_one(&ask.criteria, &ask.attributes).await
        } else {
            self.lead(ask, others).await
        };
        drop(slot);
        found
    }

    /// One search for `ask` and `others`; each of the others is told its entries, or to
    /// search alone.
    async fn lead(&self, ask: Ask, others: Vec<Waiter>) -> Result<Found, DirectoryError> {
        let asks: Vec<&Ask> = std::iter::once(&ask)
            .chain(others.iter().map(|w| &w.ask))
            .collect();
        let shares = match self.search_together(&asks).await {
            Ok(entries) => share_out(&asks, entries),
            // Unreachable is the same answer for everyone, and names no one's criteria.
            Err(e @ DirectoryError::Unavailable { .. }) => {
                for w in others {
                    let _ = w.turn.send(Turn::Found(Err(e.clone())));
                }
                return Err(e);
            }
            // Any other refusal would quote the whole filter: each finds its own reason.
            Err(_) => None,
        };
        let mut shares = shares.unwrap_or_else(|| vec![None; asks.len()]).into_iter();
        let mine = shares.next().flatten();
        for (w, share) in others.into_iter().zip(shares) {
            let turn = match share {
                Some((total, entries)) => Turn::Found(Ok(Found {
                    entries,
                    total,
                    filter: self.filter_for(&w.ask.criteria),
                })),
                None => Turn::Alone,
            };
            let _ = w.turn.send(turn);
        }
        match mine {
            Some((total, entries)) => Ok(Found {
                entries,
                total,
                filter: self.filter_for(&ask.criteria),
            }),
            None => self.find_one(&ask.criteria, &ask.attributes).await,
        }
    }

    /// The entries of one search for any of `asks`, with only the attributes each would get
    /// searching alone.
    async fn search_together(&self, asks: &[&Ask]) -> Result<Vec<Entry>, DirectoryError> {
        let mut either = String::from("(|");
        for a in asks {
            either.push_str(&criteria_filter(&a.criteria));
        }
        either.push(')');
        let filter = format!("(&{}{either})", self.config.filter);
        let mut attributes = asks[0].attributes.clone();
        attributes.extend(asks[0].criteria.iter().map(|c| c.attribute.clone()));
        let most = asks.len() * KEEP_ENTRIES;
        let mut entries = Vec::new();
        self.search(self.in_scope(&filter, &attributes), |entry| {
            entries.push(entry);
            std::future::ready(if entries.len() > most {
                Err("more entries than a batch keeps".into())
            } else {
                Ok(())
            })
        })
        .await?;
        Ok(entries)
    }
}

/// Each ask's share of one search's `entries`: its total and up to [`KEEP_ENTRIES`] entries
/// (stripped of the criteria attributes it did not ask for), or `None` where it must search
/// alone; `None` for all when an entry seems to be no ask's.
#[allow(clippy::type_complexity)]
fn share_out(asks: &[&Ask], entries: Vec<Entry>) -> Option<Vec<Option<(usize, Vec<Entry>)>>> {
    let mut shares: Vec<Option<(usize, Vec<Entry>)>> = vec![Some((0, Vec::new())); asks.len()];
    for entry in entries {
        let mut anyone = false;
        for (i, ask) in asks.iter().enumerate() {
            if ask.holds(&entry) {
                anyone = true;
                if let Some((total, kept)) = &mut shares[i] {
                    *total += 1;
                    if kept.len() < KEEP_ENTRIES {
                        kept.push(entry.clone());
                    }
                }
            } else if ask.may_hold(&entry) {
                anyone = true;
                shares[i] = None;
            }
        }
        if !anyone {
            return None;
        }
    }
    for (share, ask) in shares.iter_mut().zip(asks) {
        if let Some((_, kept)) = share {
            let wanted: Vec<String> = ask
                .attributes
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            let criteria: Vec<String> = ask
                .criteria
                .iter()
                .map(|c| c.attribute.to_ascii_lowercase())
                .filter(|c| !wanted.contains(c))
                .collect();
            for entry in kept {
                entry.values.retain(|name, _| !criteria.contains(name));
            }
        }
    }
    Some(shares)
}

/// `(a=v)`, or `(&(a=v)(b=w)…)` for several criteria; values escaped per RFC 4515.
fn criteria_filter(criteria: &[Criterion]) -> String {
    let each = super::search::terms(criteria);
    if criteria.len() == 1 {
        each
    } else {
        format!("(&{each})")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn ask(pairs: &[(&str, &str)]) -> Ask {
        let criteria: Vec<Criterion> = pairs
            .iter()
            .map(|(a, v)| Criterion {
                attribute: (*a).into(),
                value: (*v).into(),
            })
            .collect();
        Ask::new(&criteria, &["jpegPhoto".into()])
    }

    fn entry(values: &[(&str, &str)]) -> Entry {
        let mut map: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (a, v) in values {
            map.entry(a.to_ascii_lowercase())
                .or_default()
                .push(v.as_bytes().to_vec());
        }
        Entry {
            dn: "uid=x".into(),
            id: "1".into(),
            values: map,
        }
    }

    #[test]
    fn an_entry_belongs_to_an_ask_only_when_it_holds_every_value_exactly() {
        let a = ask(&[("employeeNumber", "12345"), ("o", "Acme")]);
        assert!(a.holds(&entry(&[("employeeNumber", "12345"), ("o", "Acme")])));
        assert!(!a.holds(&entry(&[("employeeNumber", "12345"), ("o", "acme")])));
        assert!(!a.holds(&entry(&[("employeeNumber", "12345")])));
        assert!(a.holds(&entry(&[
            ("employeeNumber", "99"),
            ("employeeNumber", "12345"),
            ("o", "Acme")
        ])));
    }

    fn shares(asks: &[Ask], entries: Vec<Entry>) -> Option<Vec<Option<usize>>> {
        let asks: Vec<&Ask> = asks.iter().collect();
        share_out(&asks, entries).map(|s| s.into_iter().map(|s| s.map(|(n, _)| n)).collect())
    }

    #[test]
    fn an_entry_held_only_as_the_directory_might_compare_sends_that_search_alone() {
        let asks = [
            ask(&[("employeeNumber", "AB-12")]),
            ask(&[("employeeNumber", "ab 12")]),
            ask(&[("employeeNumber", "7")]),
            ask(&[("employeeNumber", "8")]),
        ];
        // A multi-valued attribute: the entry is "AB-12"'s exactly, and may be "ab 12"'s.
        let found = vec![
            entry(&[("employeeNumber", "AB-12"), ("employeeNumber", "x")]),
            entry(&[("employeeNumber", "7")]),
            entry(&[("employeeNumber", "7")]),
        ];
        assert_eq!(
            shares(&asks, found),
            Some(vec![Some(1), None, Some(2), Some(0)])
        );
        // Outside ASCII, anything may be equal.
        let found = vec![entry(&[("employeeNumber", "7"), ("employeeNumber", "ﬁ")])];
        assert_eq!(shares(&asks, found), Some(vec![None, None, Some(1), None]));
        // An entry no one's values explain: everyone searches alone.
        assert_eq!(shares(&asks, vec![entry(&[("employeeNumber", "9")])]), None);
    }

    #[test]
    fn shared_entries_carry_only_the_attributes_asked_for() {
        let a = ask(&[("employeeNumber", "7")]);
        let found = vec![entry(&[("employeeNumber", "7"), ("jpegPhoto", "bytes")])];
        let shared = share_out(&[&a], found).expect("certain");
        let (_, entries) = shared[0].as_ref().expect("a share");
        let keys: Vec<&String> = entries[0].values.keys().collect();
        assert_eq!(keys, ["jpegphoto"]);
    }

    #[test]
    fn a_batch_takes_only_searches_of_its_shape_and_at_most_its_size() {
        let batcher = Batcher::new(3);
        let lead = ask(&[("employeeNumber", "1")]);
        for a in [
            ask(&[("uid", "2")]),
            ask(&[("employeeNumber", "3")]),
            ask(&[("employeeNumber", "4")]),
            ask(&[("employeeNumber", "5")]),
        ] {
            let (turn, _receiver) = oneshot::channel();
            lock(&batcher.queue)
                .waiting
                .push_back(Waiter { ask: a, turn });
        }
        let taken: Vec<String> = batcher
            .companions(&lead)
            .iter()
            .map(|w| w.ask.criteria[0].value.clone())
            .collect();
        assert_eq!(taken, ["3", "4"]);
    }

    #[test]
    fn a_place_given_up_passes_to_the_next_waiting_search() {
        let batcher = Batcher::new(8);
        let a = ask(&[("uid", "a")]);
        let first = batcher.enter(&a).ok().expect("a place");
        let second = batcher.enter(&a).ok().expect("a place");
        let gone = batcher.enter(&a).err().expect("waits");
        let mut waiting = batcher.enter(&a).err().expect("waits");
        drop(gone);
        drop(first);
        assert!(matches!(waiting.try_recv(), Ok(Turn::Lead(_))));
        drop(second);
        assert_eq!(lock(&batcher.queue).in_flight, 0);
    }
}
