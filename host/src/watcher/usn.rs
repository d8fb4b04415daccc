//! Active Directory: changes found by polling a domain controller for entries whose uSNChanged
//! is above the last one handled.
//!
//! USNs are numbered by each domain controller on its own, so the place is kept per DC (its
//! `dsServiceName`), together with the DC's `invocationId`. A DC restored from a backup gets a
//! new invocationId and may number changes again from below the saved USN: then every entry in
//! scope is published once (a full rescan) rather than changes being missed.
//!
//! The first poll of a DC takes the directory as it is. Each pass covers the USNs up to the
//! DC's `highestCommittedUSN` read before it; the place is saved after the pass, so a watcher
//! stopped mid-pass publishes the rest again, under the same event ids, which JetStream drops.
//! Deleted entries are found among the tombstones (the Show Deleted control) by the parent they
//! were last in.

use std::time::Duration;

use ldap3::Scope;
use serde::{Deserialize, Serialize};

use super::{WatchError, Watcher};
use crate::bus::BusError;
use crate::directory::{DirectoryError, Entry, guid_string};
use crate::events::ChangeKind;
use crate::state;

/// Where the watcher is in one DC's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    /// The DC's invocationId when the place was saved.
    invocation_id: String,
    /// Every change up to this USN has been published.
    usn: u64,
}

/// What a DC says about itself.
#[derive(Debug)]
struct Dc {
    service_name: String,
    invocation_id: String,
    highest_usn: u64,
    naming_context: String,
}

/// Polls the DC until the connection fails.
pub(super) async fn session(watcher: &Watcher<'_>, poll: Duration) -> Result<(), WatchError> {
    let mut announced = false;
    loop {
        let dc = read_dc(watcher).await?;
        let key = place_key(watcher, Some(&dc.service_name));
        let from = match load(watcher, &key).await? {
            // Another DC of this directory was watched before: its place says nothing about
            // this one's USNs, so everything is published once.
            None if watched_before(watcher).await? => {
                tracing::warn!(
                    dc = %dc.service_name,
                    "First watch of this domain controller, after others: publishing every entry in scope once."
                );
                Some(0)
            }
            None => {
                tracing::info!(
                    dc = %dc.service_name,
                    usn = dc.highest_usn,
                    "First watch of this domain controller: its current content is the starting point."
                );
                None
            }
            Some(place) if place.invocation_id != dc.invocation_id => {
                tracing::warn!(
                    dc = %dc.service_name,
                    "The domain controller's invocationId changed (restored from a backup?); publishing every entry in scope again."
                );
                Some(0)
            }
            Some(place) => Some(place.usn),
        };
        if !announced {
            tracing::info!(dc = %dc.service_name, "Watching the directory for changes (uSNChanged).");
            announced = true;
        }
        if let Some(from) = from
            && dc.highest_usn > from
        {
            pass(watcher, &dc, from).await?;
            // A connection that broke and came back may have reached another DC (a name with
            // several addresses): then the pass mixed two DCs' USNs and is not saved.
            let after = read_dc(watcher).await?;
            if after.service_name != dc.service_name {
                return Err(WatchError::Ended(format!(
                    "the connection moved from {} to {} during a pass; it is done again",
                    dc.service_name, after.service_name
                )));
            }
        }
        if from != Some(dc.highest_usn) {
            let place = Place {
                invocation_id: dc.invocation_id.clone(),
                usn: dc.highest_usn,
            };
            save(watcher, &key, &place).await?;
            watcher
                .bus
                .state()
                .put(place_key(watcher, None), "watched".into())
                .await
                .map_err(|e| BusError(format!("cannot save the watcher's place: {e}")))?;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Publishes the changes with USNs in `from + 1 ..= dc.highest_usn`.
async fn pass(watcher: &Watcher<'_>, dc: &Dc, from: u64) -> Result<(), WatchError> {
    let directory = watcher.directory;
    let config = directory.config();
    let range = format!("(uSNChanged>={})(uSNChanged<={})", from + 1, dc.highest_usn);
    let attrs = ["uSNChanged".to_owned(), "uSNCreated".to_owned()];
    let changed = directory
        .each_under(
            &config.base_dn,
            Scope::Subtree,
            &format!("(&{}{range})", config.filter),
            &attrs,
            false,
            |entry| async move {
                let created = number(&entry, "usncreated").unwrap_or(0);
                let kind = if created > from {
                    ChangeKind::Add
                } else {
                    ChangeKind::Modify
                };
                let stamp = stamp(dc, &entry);
                watcher
                    .publish(&entry.id, &entry.dn, kind, &stamp)
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .await
        .map_err(stopped)?;
    let base = config.base_dn.to_ascii_lowercase();
    let base = base.as_str();
    let deleted = directory
        .each_under(
            &dc.naming_context,
            Scope::Subtree,
            &format!("(&(isDeleted=TRUE){range})"),
            &["lastKnownParent".to_owned(), "uSNChanged".to_owned()],
            true,
            |entry| async move {
                let parent = text(&entry, "lastknownparent").to_ascii_lowercase();
                let in_scope = parent.ends_with(base)
                    || state::load(watcher.bus, &entry.id)
                        .await
                        .map_err(|e| e.to_string())?
                        .is_some();
                if in_scope && !entry.id.is_empty() {
                    let stamp = stamp(dc, &entry);
                    watcher
                        .publish(&entry.id, "", ChangeKind::Delete, &stamp)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            },
        )
        .await
        .map_err(stopped)?;
    tracing::debug!(
        changed,
        deleted,
        from,
        to = dc.highest_usn,
        "Polled the domain controller."
    );
    Ok(())
}

/// The change's place in the event id: the DC (its invocationId) and the entry's uSNChanged.
fn stamp(dc: &Dc, entry: &Entry) -> String {
    let usn = number(entry, "usnchanged").unwrap_or(0);
    format!("{}-{usn}", dc.invocation_id)
}

/// The rootDSE and the DC's NTDS Settings object.
async fn read_dc(watcher: &Watcher<'_>) -> Result<Dc, WatchError> {
    let directory = watcher.directory;
    let root = one(
        watcher,
        "",
        &[
            "dsServiceName",
            "highestCommittedUSN",
            "defaultNamingContext",
        ],
    )
    .await?;
    let service_name = text(&root, "dsservicename");
    let highest_usn = number(&root, "highestcommittedusn");
    let naming_context = text(&root, "defaultnamingcontext");
    let (false, Some(highest_usn), false) = (
        service_name.is_empty(),
        highest_usn,
        naming_context.is_empty(),
    ) else {
        return Err(WatchError::Ended(format!(
            "{} does not look like Active Directory (no dsServiceName, highestCommittedUSN or \
             defaultNamingContext in its rootDSE); watcher.mode = \"usn\" needs a domain controller",
            directory.config().url
        )));
    };
    let settings = one(watcher, &service_name, &["invocationId"]).await?;
    let invocation_id = settings
        .values
        .get("invocationid")
        .and_then(|v| v.first())
        .and_then(|raw| guid_string(raw))
        .ok_or_else(|| WatchError::Ended(format!("{service_name} has no readable invocationId")))?;
    Ok(Dc {
        service_name,
        invocation_id,
        highest_usn,
        naming_context,
    })
}

/// The one entry at `dn` (base scope), with `attributes`.
async fn one(watcher: &Watcher<'_>, dn: &str, attributes: &[&str]) -> Result<Entry, WatchError> {
    let attrs: Vec<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
    let mut found = None;
    watcher
        .directory
        .each_under(dn, Scope::Base, "(objectClass=*)", &attrs, false, |e| {
            found = Some(e);
            std::future::ready(Ok(()))
        })
        .await?;
    found.ok_or_else(|| WatchError::Ended(format!("cannot read {dn:?} on the domain controller")))
}

fn text(entry: &Entry, attribute: &str) -> String {
    entry
        .values
        .get(attribute)
        .and_then(|v| v.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn number(entry: &Entry, attribute: &str) -> Option<u64> {
    text(entry, attribute).trim().parse().ok()
}

/// A failure inside a pass's callback is the bus's; the search's own errors stay the
/// directory's.
fn stopped(e: DirectoryError) -> WatchError {
    match e {
        DirectoryError::Stopped(reason) => WatchError::Bus(BusError(reason)),
        other => other.into(),
    }
}

/// The state-bucket key of one DC's place under the configured base DN; without a DC, the key
/// that says some DC of this directory has been watched.
fn place_key(watcher: &Watcher<'_>, service_name: Option<&str>) -> String {
    use base64::Engine as _;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let base = b64(&watcher.directory.config().base_dn.to_ascii_lowercase());
    match service_name {
        Some(dc) => format!("watcher.usn.{base}.{}", b64(&dc.to_ascii_lowercase())),
        None => format!("watcher.usn.{base}"),
    }
}

/// Whether some DC of this directory has been watched before.
async fn watched_before(watcher: &Watcher<'_>) -> Result<bool, WatchError> {
    let key = place_key(watcher, None);
    let value = watcher
        .bus
        .state()
        .get(&key)
        .await
        .map_err(|e| BusError(format!("cannot read the watcher's place: {e}")))?;
    Ok(value.is_some())
}

async fn load(watcher: &Watcher<'_>, key: &str) -> Result<Option<Place>, WatchError> {
    let value = watcher
        .bus
        .state()
        .get(key)
        .await
        .map_err(|e| BusError(format!("cannot read the watcher's place: {e}")))?;
    Ok(value.and_then(|v| match serde_json::from_slice(&v) {
        Ok(place) => Some(place),
        Err(e) => {
            tracing::warn!("The watcher's saved place is unreadable ({e}); starting again.");
            None
        }
    }))
}

async fn save(watcher: &Watcher<'_>, key: &str, place: &Place) -> Result<(), WatchError> {
    let value = serde_json::to_vec(place).map_err(|e| BusError(e.to_string()))?;
    watcher
        .bus
        .state()
        .put(key, value.into())
        .await
        .map(|_| ())
        .map_err(|e| BusError(format!("cannot save the watcher's place: {e}")).into())
}
