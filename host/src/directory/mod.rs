//! The directory (LDAP, ldap3): binding, finding the one entry a photo belongs to, writing photo
//! attributes. It turns LDAP result codes into reasons an administrator can act on. It never
//! logs the password.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, ldap_escape};
use tokio::sync::Mutex;

use crate::config::LdapConfig;
use crate::plugins::Criterion;

mod batch;
mod kerberos;
mod reasons;
mod tls;

pub use reasons::describe_rc;

/// Active Directory's Show Deleted control: searches include tombstones.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// Most entries kept from one search; more only matter as a count.
const KEEP_ENTRIES: usize = 10;

/// Why a directory operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// The directory could not be reached or the connection broke; retrying may work.
    #[error("the directory at {url} is unreachable: {reason}")]
    Unavailable { url: String, reason: String },
    /// The server's certificate is not trusted, or not issued to the name photosync expects.
    #[error("the directory's TLS certificate is not trusted ({reason}); {hint}")]
    Untrusted { reason: String, hint: &'static str },
    /// The directory refused an operation.
    #[error("{reason}")]
    Refused { rc: u32, reason: String },
    /// The configuration cannot work (bad CA file, bad URL).
    #[error("{0}")]
    Config(String),
    /// Whoever read the search results stopped it, for this reason.
    #[error("{0}")]
    Stopped(String),
}

impl DirectoryError {
    /// Whether a later retry may succeed without anyone changing the event.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Untrusted { .. } | Self::Config(_) => true,
            Self::Stopped(_) => false,
            // Busy, unavailable, unwilling, rights, bind failures: an admin can fix these.
            Self::Refused { rc, .. } => matches!(rc, 49 | 50 | 51 | 52 | 53 | 80),
        }
    }
}

/// One entry found by a search.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dn: String,
    /// The stable id (entryUUID, or objectGUID in its string form).
    pub id: String,
    /// Values of the requested attributes, by lower-cased name.
    pub values: HashMap<String, Vec<Vec<u8>>>,
}

/// The result of looking for the entry of some criteria.
#[derive(Debug, Clone)]
pub struct Found {
    /// Up to [`KEEP_ENTRIES`] entries.
    pub entries: Vec<Entry>,
    /// How many entries matched in all.
    pub total: usize,
    /// The filter searched with (escaped), for reasons.
    pub filter: String,
}

/// One search: where, what for, which attributes, with which request controls.
struct Query<'a> {
    base: &'a str,
    scope: Scope,
    filter: &'a str,
    attributes: &'a [String],
    controls: Vec<RawControl>,
}

/// How photosync proves who it is to the directory: `ldap.bind-dn`'s password, or the keytab
/// of `[ldap.kerberos]`. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    /// A simple bind as `ldap.bind-dn` with this password.
    Password(String),
    /// A SASL GSSAPI bind with `[ldap.kerberos]`.
    Kerberos,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password(_) => "Password(***)",
            Self::Kerberos => "Kerberos",
        })
    }
}

impl From<String> for Login {
    fn from(password: String) -> Self {
        Self::Password(password)
    }
}

impl From<&str> for Login {
    fn from(password: &str) -> Self {
        Self::Password(password.into())
    }
}

impl Login {
    /// The login `config` asks for, its password read from where it says.
    pub fn of(config: &LdapConfig) -> Result<Self, crate::config::ConfigError> {
        match (&config.kerberos, &config.password) {
            (Some(_), _) => Ok(Self::Kerberos),
            (None, Some(secret)) => secret.resolve().map(Self::Password),
            (None, None) => Err(crate::config::ConfigError::Secret(
                "ldap.password is not given".into(),
            )),
        }
    }
}

/// A connection to the directory, re-established when it breaks.
#[derive(Debug)]
pub struct Directory {
    config: LdapConfig,
    login: Login,
    conn: Mutex<Option<Ldap>>,
    /// The upload path's searches waiting to share one.
    batcher: batch::Batcher,
    /// Search operations sent, for tests and benchmarks.
    searches: AtomicU64,
}

impl Directory {
    /// Prepares a directory client; nothing connects until the first operation.
    pub fn new(config: LdapConfig, login: Login) -> Self {
        Self {
            batcher: batch::Batcher::new(config.search_batch),
            config,
            login,
            conn: Mutex::new(None),
            searches: AtomicU64::new(0),
        }
    }

    /// Connects and binds now, to fail early on a bad configuration.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        self.handle().await.map(|_| ())
    }

    async fn handle(&self) -> Result<Ldap, DirectoryError> {
        let mut guard = self.conn.lock().await;
        if let Some(ldap) = guard.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let ldap = self.connect().await?;
        *guard = Some(ldap.clone());
        Ok(ldap)
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let timeout = Duration::from_secs(self.config.timeout_secs);
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(self.config.starttls);
        if self.config.url.starts_with("ldaps://") || self.config.starttls {
            settings = settings.set_config(tls::client_config(
                self.config.ca_file.as_deref(),
                self.config.tls_server_name.as_deref(),
            )?);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| self.connect_error(e))?;
        ldap3::drive!(conn);
        match &self.login {
            Login::Password(password) => {
                let dn = self.config.bind_dn.as_deref().unwrap_or_default();
                let bind = ldap
                    .with_timeout(timeout)
                    .simple_bind(dn, password)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                if bind.rc != 0 {
                    return Err(DirectoryError::Refused {
                        rc: bind.rc,
                        reason: format!(
                            "cannot bind as {dn}: {} — check ldap.bind-dn and the password",
                            describe_rc(bind.rc, &bind.text)
                        ),
                    });
                }
            }
            Login::Kerberos => self.kerberos_bind(&mut ldap, timeout).await?,
        }
        Ok(ldap)
    }

    /// A SASL GSSAPI bind with the keytab's ticket for `ldap/<service host>`.
    async fn kerberos_bind(
        &self,
        ldap: &mut Ldap,
        timeout: Duration,
    ) -> Result<(), DirectoryError> {
        let k = self.config.kerberos.as_ref().ok_or_else(|| {
            DirectoryError::Config("a Kerberos bind needs [ldap.kerberos]".into())
        })?;
        let host = k
            .service_host
            .as_deref()
            .or(self.config.tls_server_name.as_deref())
            .map(str::to_owned)
            .or_else(|| url_host(&self.config.url))
            .ok_or_else(|| {
                DirectoryError::Config(
                    "ldap.url names no host for the server's principal: set \
                     ldap.kerberos.service-host"
                        .into(),
                )
            })?;
        let who = k.principal.as_deref().unwrap_or("the keytab's principal");
        let cred = kerberos::credential(&k.keytab, k.principal.as_deref())
            .map_err(DirectoryError::Config)?;
        let bind = ldap
            .with_timeout(timeout)
            .sasl_gssapi_cred_bind(cred, &host)
            .await
            .map_err(|e| match e {
                ldap3::LdapError::GssapiOperationError(reason) => DirectoryError::Config(format!(
                    "the Kerberos bind as {who} to ldap/{host} failed: {reason} — check \
                     ldap.kerberos (the principal, and service-host: the server's name in its \
                     principal) and krb5.conf's realm and KDCs"
                )),
                other => self.connect_error(other),
            })?;
        if bind.rc != 0 {
            return Err(DirectoryError::Refused {
                rc: bind.rc,
                reason: format!(
                    "cannot bind with Kerberos as {who} to ldap/{host}: {}",
                    reasons::describe_kerberos_rc(bind.rc, &bind.text)
                ),
            });
        }
        Ok(())
    }

    fn connect_error(&self, e: ldap3::LdapError) -> DirectoryError {
        let reason = e.to_string();
        if reason.contains("NotValidForName") || reason.contains("not valid for name") {
            return DirectoryError::Untrusted {
                reason,
                hint: "it is not issued to the host in ldap.url: set ldap.tls-server-name to the \
                       name it carries (for a domain controller, its DNS name)",
            };
        }
        if reason.contains("certificate")
            || reason.contains("UnknownIssuer")
            || reason.contains("invalid peer")
        {
            return DirectoryError::Untrusted {
                reason,
                hint: "set ldap.ca-file to the PEM file of the CA that signed it",
            };
        }
        DirectoryError::Unavailable {
            url: self.config.url.clone(),
            reason,
        }
    }

    /// Drops the connection after an error that may have broken it.
    async fn forget(&self) {
        *self.conn.lock().await = None;
    }

    /// Finds the entries matching all `criteria` (values escaped per RFC 4515) within the
    /// configured base and filter, with a paged search; referrals are ignored. Returns the
    /// requested `attributes` plus the id attribute. Searches made at the same time share one
    /// operation, up to `ldap.search-batch` of them (see [`batch`]).
    pub async fn find(
        &self,
        criteria: &[Criterion],
        attributes: &[String],
    ) -> Result<Found, DirectoryError> {
        if self.batcher.max <= 1 {
            return self.find_one(criteria, attributes).await;
        }
        self.find_batched(batch::Ask::new(criteria, attributes))
            .await
    }

    /// [`Directory::find`] in a search of its own.
    async fn find_one(
        &self,
        criteria: &[Criterion],
        attributes: &[String],
    ) -> Result<Found, DirectoryError> {
        let filter = self.filter_for(criteria);
        let mut entries = Vec::new();
        let total = self
            .search(self.in_scope(&filter, attributes), |entry| {
                if entries.len() < KEEP_ENTRIES {
                    entries.push(entry);
                }
                std::future::ready(Ok(()))
            })
            .await?;
        Ok(Found {
            entries,
            total,
            filter,
        })
    }

    /// A search for `filter` under the base DN.
    fn in_scope<'a>(&'a self, filter: &'a str, attributes: &'a [String]) -> Query<'a> {
        Query {
            base: &self.config.base_dn,
            scope: Scope::Subtree,
            filter,
            attributes,
            controls: vec![],
        }
    }

    /// The configured filter and `criteria`, as one search filter.
    fn filter_for(&self, criteria: &[Criterion]) -> String {
        format!("(&{}{})", self.config.filter, terms(criteria))
    }

    /// How many search operations this client has sent.
    pub fn searches_made(&self) -> u64 {
        self.searches.load(Ordering::Relaxed)
    }

    /// The entry at `dn` if it exists and is in scope (under the base DN, matching the
    /// filter), with `attributes` (`*` for all user attributes) plus the id attribute.
    pub async fn read(
        &self,
        dn: &str,
        attributes: &[String],
    ) -> Result<Option<Entry>, DirectoryError> {
        let mut found = None;
        let query = Query {
            base: dn,
            scope: Scope::Base,
            filter: &self.config.filter,
            attributes,
            controls: vec![],
        };
        match self
            .search(query, |entry| {
                found = Some(entry);
                std::future::ready(Ok(()))
            })
            .await
        {
            Ok(_) => {}
            // noSuchObject: deleted or renamed since.
            Err(DirectoryError::Refused { rc: 32, .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        let base = self.config.base_dn.to_ascii_lowercase();
        Ok(found.filter(|e| e.dn.to_ascii_lowercase().ends_with(&base)))
    }

    /// Awaits `each` for every entry in scope (paged), with `attributes` plus the id
    /// attribute; returns how many there were. An error from `each` stops the search.
    pub async fn each<F>(
        &self,
        attributes: &[String],
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let base = self.config.base_dn.clone();
        let filter = self.config.filter.clone();
        self.each_under(&base, Scope::Subtree, &filter, attributes, false, each)
            .await
    }

    /// Awaits `each` for every entry under `base` (any base, not only the configured one)
    /// matching `filter`, paged, with `attributes` plus the id attribute. With `show_deleted`,
    /// Active Directory's tombstones are included (the Show Deleted control).
    pub async fn each_under<F>(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[String],
        show_deleted: bool,
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let controls = if show_deleted {
            vec![RawControl {
                ctype: SHOW_DELETED_OID.into(),
                crit: true,
                val: None,
            }]
        } else {
            vec![]
        };
        let query = Query {
            base,
            scope,
            filter,
            attributes,
            controls,
        };
        self.search(query, each).await
    }

    /// A new connection of its own, bound, for a long-running operation (the watcher's
    /// persistent search) that should not share the pipeline's.
    pub async fn open(&self) -> Result<Ldap, DirectoryError> {
        self.connect().await
    }

    /// A second client with the same settings and account, with a connection of its own.
    pub fn another(&self) -> Self {
        Self::new(self.config.clone(), self.login.clone())
    }

    /// The configuration this client uses.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// The entry's id in its display form, from the id attribute's raw value.
    pub fn id_of(&self, raw: &[u8]) -> String {
        format_id(&self.config.id_attribute.to_ascii_lowercase(), raw)
    }

    /// A paged search for `query`'s attributes plus the id attribute; referrals are ignored.
    /// Drops the shared connection when it broke.
    async fn search<F>(
        &self,
        query: Query<'_>,
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let mut attrs: Vec<String> = query.attributes.to_vec();
        attrs.push(self.config.id_attribute.clone());
        self.searches.fetch_add(1, Ordering::Relaxed);
        let result = self
            .search_inner(
                query.base,
                query.scope,
                query.filter,
                attrs,
                query.controls,
                each,
            )
            .await;
        if matches!(result, Err(DirectoryError::Unavailable { .. })) {
            self.forget().await;
        }
        result
    }

    async fn search_inner<F>(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
        mut each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let mut ldap = self.handle().await?;
        if !controls.is_empty() {
            ldap.with_controls(controls);
        }
        let unavailable = |e: ldap3::LdapError| DirectoryError::Unavailable {
            url: self.config.url.clone(),
            reason: e.to_string(),
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.config.page_size)),
        ];
        let mut stream = ldap
            .with_timeout(Duration::from_secs(self.config.timeout_secs))
            .streaming_search_with(adapters, base, scope, filter, attrs)
            .await
            .map_err(unavailable)?;
        let mut total = 0;
        while let Some(raw) = stream.next().await.map_err(unavailable)? {
            total += 1;
            if let Err(reason) = each(self.entry(SearchEntry::construct(raw))).await {
                let _ = stream.finish().await;
                return Err(DirectoryError::Stopped(reason));
            }
        }
        let done = stream.finish().await;
        if done.rc != 0 {
            return Err(DirectoryError::Refused {
                rc: done.rc,
                reason: format!(
                    "searching {base} for {filter} failed: {}",
                    describe_rc(done.rc, &done.text)
                ),
            });
        }
        Ok(total)
    }

    fn entry(&self, e: SearchEntry) -> Entry {
        let mut values: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (name, vals) in e.attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(vals.into_iter().map(String::into_bytes));
        }
        for (name, vals) in e.bin_attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(vals);
        }
        let id_key = self.config.id_attribute.to_ascii_lowercase();
        let id = values
            .get(&id_key)
            .and_then(|v| v.first())
            .map(|raw| format_id(&id_key, raw))
            .unwrap_or_default();
        Entry {
            dn: e.dn,
            id,
            values,
        }
    }

    /// Replaces `changes` (attribute, value) on `dn` in one modify operation.
    pub async fn replace(
        &self,
        dn: &str,
        changes: &[(String, Vec<u8>)],
    ) -> Result<(), DirectoryError> {
        let changes: Vec<(String, Vec<Vec<u8>>)> = changes
            .iter()
            .map(|(attr, value)| (attr.clone(), vec![value.clone()]))
            .collect();
        self.replace_values(dn, &changes).await
    }

    /// Replaces each attribute's values on `dn` in one modify operation; an empty list removes
    /// the attribute.
    pub async fn replace_values(
        &self,
        dn: &str,
        changes: &[(String, Vec<Vec<u8>>)],
    ) -> Result<(), DirectoryError> {
        let mut ldap = self.handle().await?;
        let mods: Vec<Mod<Vec<u8>>> = changes
            .iter()
            .map(|(attr, values)| {
                Mod::Replace(attr.clone().into_bytes(), values.iter().cloned().collect())
            })
            .collect();
        let outcome = ldap
            .with_timeout(Duration::from_secs(self.config.timeout_secs))
            .modify(dn, mods)
            .await;
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                self.forget().await;
                return Err(DirectoryError::Unavailable {
                    url: self.config.url.clone(),
                    reason: e.to_string(),
                });
            }
        };
        if result.rc == 0 {
            return Ok(());
        }
        let attrs: Vec<&str> = changes.iter().map(|(a, _)| a.as_str()).collect();
        let attrs = attrs.join(" and ");
        let reason = match result.rc {
            50 => format!(
                "the bind account may not write {attrs} on {dn}: insufficientAccessRights — grant it Write {attrs}"
            ),
            _ => format!(
                "writing {attrs} on {dn} failed: {}",
                describe_rc(result.rc, &result.text)
            ),
        };
        Err(DirectoryError::Refused {
            rc: result.rc,
            reason,
        })
    }
}

/// The id in its display form: objectGUID as the standard GUID string, others as text.
/// The host an `ldap://` or `ldaps://` URL names: `dc1.example.com` of
/// `ldaps://dc1.example.com:636/`.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// `(a=v)(b=w)…` for `criteria`, values escaped per RFC 4515.
fn terms(criteria: &[Criterion]) -> String {
    criteria
        .iter()
        .map(|c| format!("({}={})", c.attribute, ldap_escape(c.value.as_str())))
        .collect()
}

fn format_id(attribute: &str, raw: &[u8]) -> String {
    if attribute == "objectguid"
        && let Some(guid) = guid_string(raw)
    {
        return guid;
    }
    String::from_utf8_lossy(raw).into_owned()
}

/// A 16-byte Windows GUID (objectGUID, invocationId) in its standard string form.
pub fn guid_string(raw: &[u8]) -> Option<String> {
    let b: &[u8; 16] = raw.try_into().ok()?;
    // The first three fields are little-endian, the last two are bytes in order.
    let hex = |bytes: &[u8]| bytes.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let swapped = |bytes: &[u8]| hex(&bytes.iter().rev().copied().collect::<Vec<u8>>());
    Some(format!(
        "{}-{}-{}-{}-{}",
        swapped(&b[0..4]),
        swapped(&b[4..6]),
        swapped(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_guid_string_form() {
        let raw = [
            0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
            0xde, 0xf0,
        ];
        assert_eq!(
            format_id("objectguid", &raw),
            "12345678-1234-5678-1234-56789abcdef0"
        );
    }

    #[test]
    fn the_service_host_defaults_to_the_urls_host() {
        for (url, host) in [
            ("ldap://dc1.example.com", Some("dc1.example.com")),
            ("ldaps://dc1.example.com:636/", Some("dc1.example.com")),
            ("ldap://[::1]:389", Some("::1")),
            ("ldap://:389", None),
        ] {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn a_logins_debug_never_shows_the_password() {
        let text = format!("{:?}", Login::from("s3cret-Passw0rd"));
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(ldap_escape("x)(employeeID=*"), "x\\29\\28employeeID=\\2a");
        assert_eq!(ldap_escape("a\\b\0"), "a\\5cb\\00");
    }
}
