//! The configuration's checks: everything that can be checked without I/O, one function a
//! section, each error naming the key to fix.

use super::{Config, ConfigError, LdapConfig, invalid};
use crate::plugins::{self, Role};

impl Config {
    /// Checks everything that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_nats()?;
        validate_ldap(&self.ldap)?;
        self.validate_renditions()?;
        self.validate_worker()?;
        for role in Role::ALL {
            self.plugin_spec(role)?;
        }
        self.validate_watcher()?;
        if !(1..=3650).contains(&self.backup.retention_days) {
            return Err(invalid("backup.retention-days", "must be 1 to 3650"));
        }
        self.retention.durations()?;
        Ok(())
    }

    fn validate_nats(&self) -> Result<(), ConfigError> {
        let n = &self.nats;
        let key = match (&n.url, n.urls.is_empty()) {
            (Some(_), false) => {
                return Err(invalid("nats.urls", "give nats.url or nats.urls, not both"));
            }
            (None, true) => return Err(invalid("nats.url", "is missing (or give nats.urls)")),
            (Some(_), true) => "nats.url",
            (None, false) => "nats.urls",
        };
        if let Some(bad) = n
            .servers()
            .iter()
            .find(|u| !u.starts_with("nats://") && !u.starts_with("tls://"))
        {
            let shown = crate::text::clip(bad, 80);
            return Err(invalid(
                key,
                format!("must start with nats:// or tls:// (not {shown:?})"),
            ));
        }
        if !matches!(n.replicas, 1 | 3 | 5) {
            return Err(invalid("nats.replicas", "must be 1, 3 or 5"));
        }
        if let Some(inbox) = &n.inbox_prefix {
            let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if inbox.is_empty() || inbox.len() > 64 || !inbox.chars().all(allowed) {
                return Err(invalid(
                    "nats.inbox-prefix",
                    "must be 1 to 64 letters, digits, _ and -, e.g. _INBOX_worker",
                ));
            }
        }
        if let Some(prefix) = &n.prefix {
            crate::names::check_prefix(prefix).map_err(|reason| invalid("nats.prefix", reason))?;
        }
        if let Some(format) = &self.log.format
            && !matches!(format.as_str(), "text" | "json")
        {
            return Err(invalid("log.format", "must be text or json"));
        }
        if let Some(p) = &self.nats.password {
            p.check()
                .map_err(|reason| invalid("nats.password", reason))?;
            if self.nats.user.is_none() {
                return Err(invalid("nats.password", "needs nats.user"));
            }
        }
        if let Some(t) = &n.token {
            t.check().map_err(|reason| invalid("nats.token", reason))?;
        }
        let ways: Vec<&str> = [
            ("nats.user", n.user.is_some()),
            ("nats.token", n.token.is_some()),
            ("nats.nkey", n.nkey.is_some()),
            ("nats.creds", n.creds.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect();
        if ways.len() > 1 {
            return Err(invalid(
                ways[1],
                format!("give one way to authenticate, not {}", ways.join(" and ")),
            ));
        }
        if n.cert_file.is_some() != n.key_file.is_some() {
            return Err(invalid(
                "nats.cert-file",
                "a client certificate needs both nats.cert-file and nats.key-file",
            ));
        }
        Ok(())
    }

    fn validate_renditions(&self) -> Result<(), ConfigError> {
        if self.renditions.is_empty() {
            return Err(invalid("renditions", "at least one rendition is needed"));
        }
        for (i, r) in self.renditions.iter().enumerate() {
            r.profile()
                .map_err(|reason| invalid(&format!("renditions[{i}]"), reason))?;
            if self.renditions[..i]
                .iter()
                .any(|o| o.attribute.eq_ignore_ascii_case(&r.attribute))
            {
                return Err(invalid(
                    &format!("renditions[{i}]"),
                    format!("{} is listed twice", r.attribute),
                ));
            }
        }
        Ok(())
    }

    fn validate_worker(&self) -> Result<(), ConfigError> {
        let w = &self.worker;
        if w.concurrency == 0 || w.max_deliver < 1 {
            return Err(invalid(
                "worker",
                "concurrency and max-deliver must be at least 1",
            ));
        }
        if w.ack_wait_secs < 3 {
            return Err(invalid("worker.ack-wait-secs", "must be at least 3"));
        }
        if w.retry_max_secs < w.retry_secs {
            return Err(invalid(
                "worker.retry-max-secs",
                "must be at least worker.retry-secs",
            ));
        }
        if let Some(addr) = &w.http
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid(
                "worker.http",
                "must be an address and port such as 127.0.0.1:9464",
            ));
        }
        Ok(())
    }

    fn validate_watcher(&self) -> Result<(), ConfigError> {
        if !matches!(self.watcher.mode.as_str(), "syncrepl" | "usn") {
            return Err(invalid("watcher.mode", "must be syncrepl or usn"));
        }
        if self.watcher.poll_secs == 0 {
            return Err(invalid("watcher.poll-secs", "must be at least 1"));
        }
        if self.watcher.retry_secs == 0 {
            return Err(invalid("watcher.retry-secs", "must be at least 1"));
        }
        Ok(())
    }
}

fn validate_ldap(l: &LdapConfig) -> Result<(), ConfigError> {
    if !["ldap://", "ldaps://", "ldapi://"]
        .iter()
        .any(|p| l.url.starts_with(p))
    {
        return Err(invalid(
            "ldap.url",
            "must start with ldap://, ldaps:// or ldapi://",
        ));
    }
    if l.starttls && !l.url.starts_with("ldap://") {
        return Err(invalid("ldap.starttls", "only applies to ldap:// URLs"));
    }
    if l.tls_server_name.is_some() && !(l.starttls || l.url.starts_with("ldaps://")) {
        return Err(invalid(
            "ldap.tls-server-name",
            "only applies to ldaps:// URLs or with ldap.starttls",
        ));
    }
    if l.base_dn.trim().is_empty() || !l.base_dn.contains('=') {
        return Err(invalid(
            "ldap.base-dn",
            "must be a DN such as ou=People,dc=example,dc=com",
        ));
    }
    if !(l.filter.starts_with('(') && l.filter.ends_with(')')) {
        return Err(invalid(
            "ldap.filter",
            "must be an LDAP filter in parentheses",
        ));
    }
    if !plugins::is_attribute_name(&l.id_attribute) {
        return Err(invalid(
            "ldap.id-attribute",
            "must be an attribute name (entryUUID or objectGUID)",
        ));
    }
    if l.timeout_secs == 0 {
        return Err(invalid("ldap.timeout-secs", "must be at least 1"));
    }
    validate_login(l)?;
    if !(1..=1000).contains(&l.page_size) {
        return Err(invalid("ldap.page-size", "must be 1 to 1000"));
    }
    if !(1..=256).contains(&l.search_batch) {
        return Err(invalid("ldap.search-batch", "must be 1 to 256"));
    }
    Ok(())
}

/// Exactly one way to bind: `bind-dn` with `password`, or `[ldap.kerberos]`.
fn validate_login(l: &LdapConfig) -> Result<(), ConfigError> {
    let Some(k) = &l.kerberos else {
        if l.bind_dn.as_deref().is_none_or(|dn| dn.trim().is_empty()) {
            return Err(invalid(
                "ldap.bind-dn",
                "is required, or bind with Kerberos: [ldap.kerberos]",
            ));
        }
        let Some(password) = &l.password else {
            return Err(invalid(
                "ldap.password",
                "is required with ldap.bind-dn, as { file = \"…\" } or { env = \"…\" }",
            ));
        };
        return password
            .check()
            .map_err(|reason| invalid("ldap.password", reason));
    };
    for (key, given) in [
        ("ldap.bind-dn", l.bind_dn.is_some()),
        ("ldap.password", l.password.is_some()),
    ] {
        if given {
            return Err(invalid(
                key,
                "is not used with ldap.kerberos (the keytab names the account): remove it",
            ));
        }
    }
    if l.url.starts_with("ldapi://") {
        return Err(invalid(
            "ldap.kerberos",
            "needs an ldap:// or ldaps:// URL: the server's name is part of its principal",
        ));
    }
    if k.keytab.as_os_str().is_empty() {
        return Err(invalid("ldap.kerberos.keytab", "must name the keytab file"));
    }
    if k.principal.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(invalid(
            "ldap.kerberos.principal",
            "must be a principal such as svc-photo@EXAMPLE.COM, or left out",
        ));
    }
    if k.service_host
        .as_deref()
        .is_some_and(|h| h.trim().is_empty() || h.contains(['/', '@', ' ']))
    {
        return Err(invalid(
            "ldap.kerberos.service-host",
            "must be the server's DNS name, such as dc1.example.com",
        ));
    }
    Ok(())
}
