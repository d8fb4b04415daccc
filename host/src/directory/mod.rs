//! The directory (LDAP, ldap3): binding, finding the one entry a photo belongs to, writing photo
//! attributes. It turns LDAP result codes into reasons an administrator can act on. It never
//! logs the password.
//!
//! One file a part: `connection` (opened, bound and kept), `search` (finding entries), `batch`
//! (one search for many events), `write` (modifying photo attributes), `reasons` (result codes
//! explained), `tls` and `kerberos` (binds).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope};
use tokio::sync::Mutex;

use crate::config::LdapConfig;

mod batch;
mod connection;
mod kerberos;
mod reasons;
mod search;
mod tls;
mod write;

pub use reasons::describe_rc;
pub use search::guid_string;

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

    /// A second client with the same settings and account, with a connection of its own.
    pub fn another(&self) -> Self {
        Self::new(self.config.clone(), self.login.clone())
    }

    /// The configuration this client uses.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use ldap3::ldap_escape;

    use super::connection::url_host;
    use super::search::format_id;
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
