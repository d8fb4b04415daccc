//! `[nats]`: the servers, credentials and TLS, and the JetStream names and replicas.

use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

/// Example: `url = "nats://127.0.0.1:4222"`, or for a cluster
/// `urls = ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]` and
/// `replicas = 3`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://nats.example.net:4222`.
    #[serde(default)]
    pub url: Option<String>,
    /// Several servers of one cluster, instead of `url`: photosync connects to any of them and,
    /// when that connection is lost, to another.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Replicas of every stream, KV bucket and object store photosync creates: 1, 3 or 5 (at
    /// most the cluster's size). A stream that exists with fewer is reported at start, not
    /// changed.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Optional user for NATS authentication.
    #[serde(default)]
    pub user: Option<String>,
    /// Password for `user`, from a file or an environment variable.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A token the server expects, from a file or an environment variable.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A file holding an NKey user seed (`SU…`).
    #[serde(default)]
    pub nkey: Option<PathBuf>,
    /// A `.creds` file (a user JWT and its NKey seed), as NATS accounts and managed NATS issue.
    #[serde(default)]
    pub creds: Option<PathBuf>,
    /// PEM certificates of the CA(s) to trust for the server's certificate (a private CA);
    /// TLS is then required.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), with `key-file`, for a server that verifies clients (mTLS);
    /// TLS is then required.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// What every subject, stream, consumer and bucket name starts with (`photosync` by
    /// default: `photosync.photo.uploaded`, `PHOTOSYNC_EVENTS`, `photosync-state`, …). Two
    /// deployments with different prefixes share one NATS account without seeing each other's
    /// events, e.g. `prefix = "forest-b"`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// What photosync's reply subjects start with instead of `_INBOX`, e.g. `_INBOX_worker`:
    /// a NATS user allowed to subscribe to `_INBOX_worker.>` only cannot read the replies
    /// other users get (see docs/security.md).
    #[serde(default)]
    pub inbox_prefix: Option<String>,
}

fn default_replicas() -> usize {
    1
}

impl NatsConfig {
    /// The names of this deployment's subjects, streams and buckets.
    pub fn names(&self) -> crate::names::Names {
        crate::names::Names::new(
            self.prefix
                .as_deref()
                .unwrap_or(crate::names::DEFAULT_PREFIX),
        )
    }

    /// The servers to connect to: `urls`, or `url`.
    pub fn servers(&self) -> Vec<String> {
        match &self.url {
            Some(url) if self.urls.is_empty() => vec![url.clone()],
            _ => self.urls.clone(),
        }
    }
}
