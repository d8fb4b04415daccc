//! The directory watcher: turns directory changes into `photosync.directory.changed` events.
//!
//! On Active Directory it polls each domain controller for entries whose uSNChanged passed the
//! last one handled ([`usn`]). On OpenLDAP it runs an RFC 4533 refreshAndPersist search (the server needs the syncprov
//! overlay). Its place in the change stream, the sync cookie, is kept in the state bucket after
//! each change is published, so a restarted watcher resumes where it stopped. A change
//! published again after a restart (published, then stopped before the cookie was saved) has
//! the same event id, which JetStream's duplicate detection drops.
//!
//! The first run, with no cookie, takes the directory as it is: the entries the server sends
//! to bring an empty copy up to date are not changes and are not published
//! (`photosync export --all` publishes everyone's current photo once).

pub mod sync_values;
mod usn;

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use ldap3::controls::{MakeCritical, RawControl, RefreshMode, SyncRequest};
use ldap3::{Ldap, ResultEntry, Scope, SearchEntry};

use crate::bus::Bus;
use crate::config::WatcherConfig;
use crate::directory::{Directory, DirectoryError};
use crate::events::{ChangeKind, DirectoryChange};
use crate::state;
use crate::timestamps::now_rfc3339;

const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";

/// Why a watch session ended.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    Bus(#[from] crate::bus::BusError),
    #[error("the directory ended the change stream: {0}")]
    Ended(String),
}

/// Watches the directory until `shutdown` resolves, reconnecting after failures.
pub async fn watch(
    directory: &Directory,
    bus: &Bus,
    settings: &WatcherConfig,
    shutdown: impl Future<Output = ()>,
) {
    let watcher = Watcher::new(directory, bus);
    let retry = Duration::from_secs(settings.retry_secs);
    let poll = Duration::from_secs(settings.poll_secs);
    let usn = settings.mode == "usn";
    tokio::pin!(shutdown);
    loop {
        let session = async {
            if usn {
                usn::session(&watcher, poll).await
            } else {
                watcher.session().await
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            outcome = session => match outcome {
                Ok(()) => {}
                Err(e) => tracing::warn!(
                    "The directory watcher stopped ({e}); trying again in {} s.",
                    retry.as_secs()
                ),
            },
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

/// One watcher: where it keeps its cookie and what it publishes.
struct Watcher<'a> {
    directory: &'a Directory,
    bus: &'a Bus,
    /// The state-bucket key of the cookie: one per directory URL and base DN.
    cookie_key: String,
    source: String,
}

/// Where a session is in the RFC 4533 stages.
struct Session {
    ldap: Ldap,
    cookie: Option<Vec<u8>>,
    /// Still in the refresh stage of a first run: entries are the starting point, not changes.
    baseline: bool,
    skipped: usize,
}

impl<'a> Watcher<'a> {
    fn new(directory: &'a Directory, bus: &'a Bus) -> Self {
        let config = directory.config();
        let place = format!("{} {}", config.url, config.base_dn.to_ascii_lowercase());
        Self {
            directory,
            bus,
            cookie_key: format!(
                "watcher.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(place)
            ),
            source: format!("watcher:{}", config.url),
        }
    }

    async fn load_cookie(&self) -> Result<Option<Vec<u8>>, WatchError> {
        self.bus
            .state()
            .get(&self.cookie_key)
            .await
            .map(|v| v.map(|b| b.to_vec()))
            .map_err(|e| {
                crate::bus::BusError(format!("cannot read the watcher's cookie: {e}")).into()
            })
    }

    async fn save_cookie(&self, cookie: &[u8]) -> Result<(), WatchError> {
        self.bus
            .state()
            .put(&self.cookie_key, cookie.to_vec().into())
            .await
            .map(|_| ())
            .map_err(|e| {
                crate::bus::BusError(format!("cannot save the watcher's cookie: {e}")).into()
            })
    }

    /// One persistent search, from the saved cookie until the connection ends.
    async fn session(&self) -> Result<(), WatchError> {
        let config = self.directory.config();
        let cookie = self.load_cookie().await?;
        let mut session = Session {
            ldap: self.directory.open().await?,
            baseline: cookie.is_none(),
            cookie,
            skipped: 0,
        };
        let request = SyncRequest {
            mode: RefreshMode::RefreshAndPersist,
            cookie: session.cookie.clone(),
            reload_hint: false,
        };
        let control: RawControl = request.critical().into();
        let attrs = vec!["entryCSN".to_owned(), config.id_attribute.clone()];
        let mut ldap = session.ldap.clone();
        let mut stream = ldap
            .with_controls(vec![control])
            .streaming_search(&config.base_dn, Scope::Subtree, &config.filter, attrs)
            .await
            .map_err(|e| self.unavailable(e))?;
        tracing::info!(
            resumed = session.cookie.is_some(),
            base = %config.base_dn,
            "Watching the directory for changes."
        );
        while let Some(item) = stream.next().await.map_err(|e| self.unavailable(e))? {
            self.item(&mut session, item).await?;
        }
        let done = stream.finish().await;
        for control in &done.ctrls {
            if control.1.ctype == SYNC_DONE_OID
                && let Some(value) = &control.1.val
            {
                match sync_values::sync_done(value) {
                    Ok(Some(cookie)) => self.save_cookie(&cookie).await?,
                    Ok(None) => {}
                    Err(e) => tracing::warn!("Ignoring a sync done control: {e}."),
                }
            }
        }
        let _ = session.ldap.unbind().await;
        if done.rc == 0x1000 {
            // e-syncRefreshRequired: the server cannot resume from the cookie.
            tracing::warn!(
                "The directory cannot resume from the saved place; starting again from the current content."
            );
            self.bus
                .state()
                .purge(&self.cookie_key)
                .await
                .map_err(|e| {
                    crate::bus::BusError(format!("cannot reset the watcher's cookie: {e}"))
                })?;
        }
        Err(WatchError::Ended(format!(
            "result code {}{}",
            done.rc,
            if done.text.is_empty() {
                String::new()
            } else {
                format!(", {}", done.text)
            }
        )))
    }

    fn unavailable(&self, e: ldap3::LdapError) -> WatchError {
        WatchError::Directory(DirectoryError::Unavailable {
            url: self.directory.config().url.clone(),
            reason: e.to_string(),
        })
    }

    /// Handles one message of the search: an entry with its sync state, or a sync info message.
    async fn item(&self, session: &mut Session, item: ResultEntry) -> Result<(), WatchError> {
        if item.is_intermediate() {
            let Some(value) = intermediate_value(&item) else {
                tracing::warn!("Ignoring an intermediate message without a value.");
                return Ok(());
            };
            return match sync_values::sync_info(&value) {
                Ok(info) => self.info(session, info).await,
                Err(e) => {
                    tracing::warn!("Ignoring a sync info message: {e}.");
                    Ok(())
                }
            };
        }
        if item.is_ref() {
            return Ok(());
        }
        let state = item
            .1
            .iter()
            .find(|c| c.1.ctype == SYNC_STATE_OID)
            .and_then(|c| c.1.val.as_deref())
            .map(sync_values::sync_state);
        let state = match state {
            Some(Ok(state)) => state,
            Some(Err(e)) => {
                tracing::warn!("Ignoring an entry with a malformed sync state: {e}.");
                return Ok(());
            }
            None => {
                tracing::warn!("Ignoring an entry without a sync state control.");
                return Ok(());
            }
        };
        let entry = SearchEntry::construct(item);
        let entry_id = sync_values::uuid_string(&state.entry_uuid);
        let csn = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("entryCSN"))
            .and_then(|(_, v)| v.first().cloned());
        let kind = match state.state {
            sync_values::EntryState::Present => None,
            _ if session.baseline => {
                session.skipped += 1;
                None
            }
            sync_values::EntryState::Add => Some(ChangeKind::Add),
            sync_values::EntryState::Modify => Some(ChangeKind::Modify),
            sync_values::EntryState::Delete => Some(ChangeKind::Delete),
        };
        if let Some(kind) = kind {
            let stamp = csn
                .clone()
                .or_else(|| state.cookie.as_deref().map(cookie_csn))
                .unwrap_or_else(now_rfc3339);
            self.publish(&entry_id, &entry.dn, kind, &stamp).await?;
        }
        if let Some(cookie) = state.cookie {
            self.advance(session, cookie).await?;
        }
        Ok(())
    }

    async fn info(
        &self,
        session: &mut Session,
        info: sync_values::SyncInfo,
    ) -> Result<(), WatchError> {
        match info {
            sync_values::SyncInfo::NewCookie(cookie) => self.advance(session, cookie).await,
            sync_values::SyncInfo::RefreshEnd { cookie, done } => {
                if done && session.baseline {
                    tracing::info!(
                        entries = session.skipped,
                        "First run: took the directory's current content as the starting point."
                    );
                    session.baseline = false;
                }
                match cookie {
                    Some(cookie) => self.advance(session, cookie).await,
                    None => Ok(()),
                }
            }
            sync_values::SyncInfo::IdSet {
                cookie,
                deletes,
                uuids,
            } => {
                if deletes && !session.baseline {
                    let stamp = cookie
                        .as_deref()
                        .map(cookie_csn)
                        .unwrap_or_else(now_rfc3339);
                    for uuid in &uuids {
                        let entry_id = sync_values::uuid_string(uuid);
                        let dn = state::load(self.bus, &entry_id)
                            .await?
                            .map(|s| s.dn)
                            .unwrap_or_default();
                        self.publish(&entry_id, &dn, ChangeKind::Delete, &stamp)
                            .await?;
                    }
                } else if !deletes && !session.baseline {
                    tracing::warn!(
                        count = uuids.len(),
                        "The directory listed present entries instead of deleted ones; deletions \
                         while the watcher was stopped are not seen. Configure syncprov-sessionlog."
                    );
                }
                match cookie {
                    Some(cookie) => self.advance(session, cookie).await,
                    None => Ok(()),
                }
            }
        }
    }

    async fn advance(&self, session: &mut Session, cookie: Vec<u8>) -> Result<(), WatchError> {
        if session.cookie.as_ref() != Some(&cookie) {
            self.save_cookie(&cookie).await?;
            session.cookie = Some(cookie);
        }
        Ok(())
    }

    /// Publishes one change. Its id is the entry and the change's sequence number, the same
    /// whether the server reports it live (modify) or while catching up after a restart (add).
    /// An entry photosync already knows is modified, not added; one that moved is renamed.
    async fn publish(
        &self,
        entry_id: &str,
        dn: &str,
        kind: ChangeKind,
        stamp: &str,
    ) -> Result<(), WatchError> {
        let mut change = kind;
        let mut previous_dn = None;
        if kind != ChangeKind::Delete
            && let Some(known) = state::load(self.bus, entry_id).await?
        {
            change = ChangeKind::Modify;
            if !known.dn.is_empty() && !known.dn.eq_ignore_ascii_case(dn) {
                change = ChangeKind::Rename;
                previous_dn = Some(known.dn);
            }
        }
        let id = match kind {
            ChangeKind::Delete => format!("{entry_id}/delete/{stamp}"),
            _ => format!("{entry_id}/{stamp}"),
        };
        let event = DirectoryChange {
            id,
            entry_id: entry_id.to_owned(),
            dn: dn.to_owned(),
            change,
            previous_dn,
            attributes: Vec::new(),
            seen_at: now_rfc3339(),
            source: self.source.clone(),
        };
        self.bus.publish_directory_change(&event).await?;
        tracing::debug!(
            entry = dn,
            change = change.as_str(),
            "Directory change published."
        );
        Ok(())
    }
}

/// The value of an intermediate response (`[1]` inside the message).
fn intermediate_value(item: &ResultEntry) -> Option<Vec<u8>> {
    use ldap3::asn1::{PL, TagClass};
    let PL::C(parts) = &item.0.payload else {
        return None;
    };
    parts
        .iter()
        .find(|t| t.class == TagClass::Context && t.id == 1)
        .and_then(|t| match &t.payload {
            PL::P(bytes) => Some(bytes.clone()),
            PL::C(_) => None,
        })
}

/// The change sequence number in an OpenLDAP cookie (`rid=000,csn=…`), or the whole cookie.
fn cookie_csn(cookie: &[u8]) -> String {
    let text = String::from_utf8_lossy(cookie);
    text.split(',')
        .find_map(|part| part.strip_prefix("csn="))
        .map(|csn| csn.split(';').next().unwrap_or(csn).to_owned())
        .unwrap_or_else(|| text.into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookie_csn_is_found() {
        assert_eq!(
            super::cookie_csn(b"rid=000,csn=20261121160000.123456Z#000000#000#000000"),
            "20261121160000.123456Z#000000#000#000000"
        );
        assert_eq!(super::cookie_csn(b"opaque"), "opaque");
    }
}
