//! `[ldap]`: the directory photos are written to, how photosync binds and what it searches.

use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

/// How photosync reaches the directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LdapConfig {
    /// `ldap://host:389`, `ldaps://host:636` or `ldapi://%2Frun%2Fslapd%2Fldapi`.
    pub url: String,
    /// Upgrade `ldap://` with StartTLS (recommended; default true for non-loopback hosts is not
    /// guessed: say it).
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) that signed the server's certificate; the system's roots otherwise.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate is issued to, when `url` names the server otherwise
    /// (an IP address, a tunnel, a load balancer), e.g. `DC1.example.test`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// The DN (or, on Active Directory, user principal name) photosync binds as with its
    /// password; not given with `[ldap.kerberos]`.
    #[serde(default)]
    pub bind_dn: Option<String>,
    /// The bind password, from a file or an environment variable; never logged. Not given with
    /// `[ldap.kerberos]`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Binds with Kerberos (SASL GSSAPI) from a keytab instead of a password, for domains
    /// that forbid simple binds.
    #[serde(default)]
    pub kerberos: Option<KerberosConfig>,
    /// Where people are searched, e.g. `ou=People,dc=example,dc=test`.
    pub base_dn: String,
    /// A filter ANDed to every search, e.g. `(objectClass=person)`.
    #[serde(default = "default_scope_filter")]
    pub filter: String,
    /// The attribute holding each entry's stable id: `entryUUID` (OpenLDAP) or `objectGUID` (AD).
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    /// Entries per page of a paged search (AD returns at most 1000 without paging).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// Most uploads' searches sent to the directory as one, when they arrive while earlier
    /// searches are still running (one operation instead of one each); 1 searches each alone.
    #[serde(default = "default_search_batch")]
    pub search_batch: usize,
    /// Seconds an LDAP operation may take.
    #[serde(default = "default_ldap_timeout")]
    pub timeout_secs: u64,
}

/// A Kerberos bind: photosync takes a ticket for its own principal from a keytab into a cache
/// private to its process (never the login's default cache) and binds with SASL GSSAPI. The
/// realm and its KDCs come from krb5.conf (`/etc/krb5.conf`, or the file `KRB5_CONFIG` names).
/// Over `ldap://` without StartTLS the connection is sealed by Kerberos; over TLS it is bound
/// to the TLS channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KerberosConfig {
    /// The keytab holding the service account's keys, e.g. `/etc/photosync/photosync.keytab`
    /// (on AD: `samba-tool domain exportkeytab` or `ktpass`). Readable by photosync only.
    pub keytab: PathBuf,
    /// The principal to bind as, e.g. `svc-photo@EXAMPLE.COM`; the keytab's first otherwise.
    #[serde(default)]
    pub principal: Option<String>,
    /// The directory server's DNS name in its service principal (`ldap/NAME`), when `url`
    /// names it otherwise (an IP address, a tunnel); by default `tls-server-name`, else the
    /// host in `url`.
    #[serde(default)]
    pub service_host: Option<String>,
}

fn default_scope_filter() -> String {
    "(objectClass=*)".into()
}

fn default_id_attribute() -> String {
    "entryUUID".into()
}

fn default_page_size() -> i32 {
    500
}

fn default_search_batch() -> usize {
    64
}

fn default_ldap_timeout() -> u64 {
    10
}
