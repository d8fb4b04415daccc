//! The connection to the directory: opened and bound (simple, or Kerberos from a keytab) when
//! first needed, kept, and dropped when it breaks so that the next operation opens another.

use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};

use super::{Directory, DirectoryError, Login, describe_rc, kerberos, reasons, tls};

impl Directory {
    /// Connects and binds now, to fail early on a bad configuration.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        self.handle().await.map(|_| ())
    }

    /// The connection kept, or a new one (opened and bound) when there is none or it closed.
    pub(super) async fn handle(&self) -> Result<Ldap, DirectoryError> {
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

    /// Opens a connection and binds it as configured.
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
    pub(super) async fn forget(&self) {
        *self.conn.lock().await = None;
    }

    /// A new connection of its own, bound, for a long-running operation (the watcher's
    /// persistent search) that should not share the pipeline's.
    pub async fn open(&self) -> Result<Ldap, DirectoryError> {
        self.connect().await
    }
}

/// The host an `ldap://` or `ldaps://` URL names: `dc1.example.com` of
/// `ldaps://dc1.example.com:636/`.
pub(super) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_owned())
}
