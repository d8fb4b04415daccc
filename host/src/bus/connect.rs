//! How photosync reaches NATS: the servers, its credentials and TLS, and what a failed
//! connection means for the operator.

use std::path::PathBuf;

use super::{BusError, Retention, err};
use crate::names::Names;

/// How to reach NATS.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// Servers of one cluster (or one server), tried in turn.
    pub servers: Vec<String>,
    /// How photosync proves who it is.
    pub auth: Auth,
    /// What TLS trusts and presents.
    pub tls: Tls,
    /// Replicas of every stream, KV bucket and object store photosync creates (1, 3 or 5).
    pub replicas: usize,
    /// The configured retention, applied to streams and buckets that exist with another (and
    /// logged); `None` for a client without a configuration, which creates missing ones with
    /// the default retention and leaves existing ones as they are.
    pub retention: Option<Retention>,
    /// The names of the deployment's subjects, streams and buckets (`[nats] prefix`).
    pub names: Names,
    /// What reply subjects start with instead of `_INBOX` (`nats.inbox-prefix`), so that a
    /// NATS user can be allowed its own replies only.
    pub inbox_prefix: Option<String>,
}

impl BusOptions {
    /// `url`, no credentials, one replica, no retention of its own.
    pub fn url(url: &str) -> Self {
        Self {
            servers: vec![url.to_owned()],
            auth: Auth::None,
            tls: Tls::default(),
            replicas: 1,
            retention: None,
            names: Names::default(),
            inbox_prefix: None,
        }
    }
}

/// How photosync authenticates to NATS; each names the configuration key it comes from.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `nats.user` and `nats.password`.
    UserPassword(String, String),
    /// `nats.token`.
    Token(String),
    /// `nats.nkey`: the seed read from this file.
    Nkey(PathBuf),
    /// `nats.creds`: a `.creds` file.
    Creds(PathBuf),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.write_str(self.key())
    }
}

impl Auth {
    /// The configuration key these credentials come from.
    pub fn key(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::UserPassword(..) => "nats.user and nats.password",
            Auth::Token(_) => "nats.token",
            Auth::Nkey(_) => "nats.nkey",
            Auth::Creds(_) => "nats.creds",
        }
    }
}

/// TLS beyond the system's trust store: a private CA, a client certificate (mTLS).
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// `nats.ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `nats.cert-file` and `nats.key-file`.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Options with `auth` and `tls` applied; a file that cannot be read is an error naming its key.
pub(super) async fn connect_options(
    auth: &Auth,
    tls: &Tls,
) -> Result<async_nats::ConnectOptions, BusError> {
    let mut connect = async_nats::ConnectOptions::new().name("photosync");
    connect = match auth {
        Auth::None => connect,
        Auth::UserPassword(u, p) => connect.user_and_password(u.clone(), p.clone()),
        Auth::Token(token) => connect.token(token.clone()),
        Auth::Nkey(path) => {
            let seed = std::fs::read_to_string(path).map_err(|e| {
                BusError(format!(
                    "cannot read the NKey seed file {} (nats.nkey): {e}",
                    path.display()
                ))
            })?;
            connect.nkey(seed.trim().to_owned())
        }
        Auth::Creds(path) => connect.credentials_file(path).await.map_err(|e| {
            BusError(format!(
                "cannot read the credentials file {} (nats.creds): {e}",
                path.display()
            ))
        })?,
    };
    for (key, file) in [
        ("nats.ca-file", tls.ca_file.as_ref()),
        ("nats.cert-file", tls.client.as_ref().map(|(c, _)| c)),
        ("nats.key-file", tls.client.as_ref().map(|(_, k)| k)),
    ] {
        if let Some(file) = file
            && let Err(e) = std::fs::metadata(file)
        {
            return Err(BusError(format!(
                "cannot read {} ({key}): {e}",
                file.display()
            )));
        }
    }
    if let Some(ca) = &tls.ca_file {
        connect = connect.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &tls.client {
        connect = connect
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    Ok(connect)
}

/// What to do about a failed connection, in the words of the configuration: which key to set
/// or check. `shown` names the servers.
pub(super) fn explain_connect_error(
    e: &async_nats::ConnectError,
    options: &BusOptions,
    shown: &str,
) -> BusError {
    use async_nats::ConnectErrorKind as Kind;
    let text = e.to_string();
    let advice = if text.contains("invalid peer certificate") {
        Some(match &options.tls.ca_file {
            None => "the NATS server's certificate is not trusted: set nats.ca-file to the \
                     certificate of the CA that signed it"
                .to_owned(),
            Some(ca) => format!(
                "the NATS server's certificate is not trusted by the CA in nats.ca-file ({}), \
                 or does not name the host in the URL",
                ca.display()
            ),
        })
    } else if text.contains("BadCertificate") || text.contains("CertificateRequired") {
        Some(match &options.tls.client {
            None => "the NATS server asks for a client certificate: set nats.cert-file and \
                     nats.key-file"
                .to_owned(),
            Some(_) => "the NATS server does not accept the client certificate in \
                        nats.cert-file (is it signed by a CA the server trusts, for client use?)"
                .to_owned(),
        })
    } else if text.contains("InvalidContentType") {
        Some(
            "the server does not speak TLS, but TLS is required (tls:// or nats.ca-file / \
              nats.cert-file): check the URL and port"
                .to_owned(),
        )
    } else if matches!(
        e.kind(),
        Kind::AuthorizationViolation | Kind::Authentication
    ) {
        Some(match &options.auth {
            Auth::None => "the NATS server refused the connection (authorization violation): \
                           it needs credentials; give nats.user and nats.password, nats.token, \
                           nats.nkey or nats.creds"
                .to_owned(),
            auth => format!(
                "the NATS server refused the credentials in {} (authorization violation): check \
                 them, and that the server knows that user",
                auth.key()
            ),
        })
    } else {
        None
    };
    match advice {
        Some(advice) => BusError(format!("cannot connect to {shown}: {advice} ({text})")),
        None => err(&format!("cannot connect to {shown}"), e),
    }
}
