//! NATS and JetStream (async-nats 0.40, which can still create KV and Object Store buckets on
//! nats-server 2.9): the event and result streams, the photo Object Store bucket and the
//! sync-state KV bucket. It knows subjects and buckets, not what events mean.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::events::{self, PhotoResult, PhotoUpload};
use crate::names::Names;

/// How long JetStream remembers event ids for duplicate detection.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long photosync's streams and buckets keep what they hold (zero: for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `PHOTOSYNC_EVENTS`.
    pub events: Duration,
    /// `PHOTOSYNC_RESULTS` and `PHOTOSYNC_CHANGES`.
    pub results: Duration,
    /// `PHOTOSYNC_DEAD`.
    pub dead_letters: Duration,
    /// The photo bucket.
    pub photos: Duration,
}

impl Default for Retention {
    /// What `[retention]` defaults to.
    fn default() -> Self {
        const DAY: u64 = 86_400;
        Self {
            events: Duration::from_secs(14 * DAY),
            results: Duration::from_secs(7 * DAY),
            dead_letters: Duration::from_secs(30 * DAY),
            photos: Duration::from_secs(90 * DAY),
        }
    }
}

/// A NATS operation failed.
#[derive(Debug, thiserror::Error)]
#[error("NATS: {0}")]
pub struct BusError(pub String);

pub(crate) fn err(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError(format!("{what}: {e}"))
}

/// Deletes object `name` of `bucket` (`store`), then purges its metadata subject, so that not
/// even the deletion marker keeps its name.
pub(crate) async fn erase_object(
    js: &jetstream::Context,
    store: &object_store::ObjectStore,
    bucket: &str,
    name: &str,
) -> Result<(), BusError> {
    use base64::Engine as _;
    store
        .delete(name)
        .await
        .map_err(|e| err(&format!("cannot delete {name} from bucket {bucket}"), e))?;
    let meta = format!(
        "$O.{bucket}.M.{}",
        base64::engine::general_purpose::URL_SAFE.encode(name)
    );
    purge_subject(js, &format!("OBJ_{bucket}"), &meta).await
}

/// Removes every message of `subject` from `stream`.
async fn purge_subject(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> Result<(), BusError> {
    let handle = js
        .get_stream(stream)
        .await
        .map_err(|e| err(&format!("cannot open stream {stream}"), e))?;
    handle
        .purge()
        .filter(subject)
        .await
        .map(|_| ())
        .map_err(|e| err(&format!("cannot purge {subject} from {stream}"), e))
}

/// The Object Store bucket `config` names, created with `config` when it does not exist
/// (another worker may create it at the same time).
pub(crate) async fn object_store(
    js: &jetstream::Context,
    config: object_store::Config,
) -> Result<object_store::ObjectStore, BusError> {
    let bucket = config.bucket.clone();
    if let Ok(store) = js.get_object_store(&bucket).await {
        report_replicas(js, &format!("OBJ_{bucket}"), config.num_replicas).await;
        return Ok(store);
    }
    match js.create_object_store(config).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .get_object_store(&bucket)
            .await
            .map_err(|e| err(&format!("cannot create the bucket {bucket}"), e)),
    }
}

/// The KV bucket `config` names, created with `config` when it does not exist.
pub(crate) async fn key_value(
    js: &jetstream::Context,
    config: kv::Config,
) -> Result<kv::Store, BusError> {
    let bucket = config.bucket.clone();
    if let Ok(store) = js.get_key_value(&bucket).await {
        report_replicas(js, &format!("KV_{bucket}"), config.num_replicas).await;
        return Ok(store);
    }
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .get_key_value(&bucket)
            .await
            .map_err(|e| err(&format!("cannot create the bucket {bucket}"), e)),
    }
}

/// Says clearly when the existing stream `name` keeps fewer replicas than configured: photosync
/// does not change a stream's replicas by itself (moving data between servers is an
/// operator's decision).
pub(crate) async fn report_replicas(js: &jetstream::Context, name: &str, wanted: usize) {
    let Ok(mut stream) = js.get_stream(name).await else {
        return;
    };
    if let Ok(info) = stream.info().await
        && info.config.num_replicas < wanted.max(1)
    {
        tracing::warn!(
            stream = name,
            "The stream {name} keeps {} replica(s) but nats.replicas is {wanted}; photosync leaves it \
             as it is. Raise it with `nats stream edit {name} --replicas {wanted}` (or set nats.replicas \
             to match).",
            info.config.num_replicas
        );
    }
}

/// The object store's content digest of `bytes`: `SHA-256=` and the URL-safe base64 of the hash.
pub fn content_digest(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(sha2::Sha256::digest(bytes))
    )
}

/// The chunk size photos are stored in: half the server's largest message, at most 512 KiB
/// (that under the default 1 MiB), and not below the object store's usual 128 KiB unless the
/// server's messages are smaller still (an unknown limit, 0, keeps the usual size). The client
/// waits for each chunk to be stored before it sends the next, so a photo in two chunks
/// instead of eight costs a quarter of the round trips.
fn photo_chunk_size(max_payload: usize) -> usize {
    const USUAL: usize = 128 * 1024;
    if max_payload == 0 {
        return USUAL;
    }
    (max_payload / 2)
        .max(USUAL.min(max_payload))
        .min(512 * 1024)
}

/// A header value: one line, at most 1000 characters.
fn header_value(text: &str) -> async_nats::HeaderValue {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect();
    line.as_str().into()
}

/// An object read from a bucket: a photo from the photo bucket, or a plugin's code.
#[derive(Debug)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// The object's content digest, `SHA-256=…`; the bytes were checked against it.
    pub content: String,
}

/// Connected NATS with the streams and buckets photosync uses.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    photos: object_store::ObjectStore,
    state: kv::Store,
    /// Replicas of every stream and bucket photosync creates.
    replicas: usize,
    /// The names of this deployment's subjects, streams and buckets.
    names: Names,
}

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
async fn connect_options(auth: &Auth, tls: &Tls) -> Result<async_nats::ConnectOptions, BusError> {
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
fn explain_connect_error(
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

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects to `url` and makes sure the streams and buckets exist (one replica each).
    pub async fn connect(url: &str, user: Option<(&str, &str)>) -> Result<Self, BusError> {
        let mut options = BusOptions::url(url);
        if let Some((u, p)) = user {
            options.auth = Auth::UserPassword(u.to_owned(), p.to_owned());
        }
        Self::connect_with(&options).await
    }

    /// Connects to any of `options.servers` (and, on a lost connection, to another) and makes
    /// sure the streams and buckets exist with `options.replicas` replicas.
    pub async fn connect_with(options: &BusOptions) -> Result<Self, BusError> {
        // Reconnects without end (the default), to any server of the list.
        let mut connect = connect_options(&options.auth, &options.tls).await?;
        if let Some(prefix) = &options.inbox_prefix {
            connect = connect.custom_inbox_prefix(prefix);
        }
        let servers: Vec<async_nats::ServerAddr> = options
            .servers
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| BusError(format!("{s} is not a NATS server URL: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let shown = options.servers.join(", ");
        let client = tokio::time::timeout(Duration::from_secs(20), connect.connect(servers))
            .await
            .map_err(|_| BusError(format!("cannot reach NATS at {shown} within 20 s")))?
            .map_err(|e| explain_connect_error(&e, options, &shown))?;
        let js = jetstream::new(client.clone());
        let replicas = options.replicas;
        let retention = options.retention.unwrap_or_default();
        let names = options.names.clone();
        ensure_streams(
            &js,
            &names,
            replicas,
            &retention,
            options.retention.is_some(),
        )
        .await?;
        let photos = object_store(
            &js,
            object_store::Config {
                bucket: names.photos_bucket.clone(),
                description: Some("every uploaded photo, under its file name".into()),
                storage: stream::StorageType::File,
                max_age: retention.photos,
                num_replicas: replicas,
                ..Default::default()
            },
        )
        .await?;
        if options.retention.is_some() {
            apply_retention(
                &js,
                &format!("OBJ_{}", names.photos_bucket),
                retention.photos,
            )
            .await?;
        }
        let state = key_value(
            &js,
            kv::Config {
                bucket: names.state_bucket.clone(),
                description: "photosync's sync state per directory entry".into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            },
        )
        .await?;
        Ok(Self {
            client,
            js,
            photos,
            state,
            replicas,
            names,
        })
    }

    /// Stores a photo under `name` in the photo bucket, unless the same bytes are there
    /// already, and returns their content digest (see [`content_digest`]).
    pub async fn put_photo(&self, name: &str, bytes: &[u8]) -> Result<String, BusError> {
        let content = content_digest(bytes);
        if self.photo_content(name).await?.as_deref() == Some(&content) {
            // Already there, byte for byte: a photo sent again is not copied again.
            return Ok(content);
        }
        let meta = object_store::ObjectMetadata {
            name: name.to_owned(),
            chunk_size: Some(photo_chunk_size(self.client.server_info().max_payload)),
            ..Default::default()
        };
        let mut reader = bytes;
        self.photos
            .put(meta, &mut reader)
            .await
            .map(|_| content)
            .map_err(|e| err(&format!("cannot store photo {name}"), e))
    }

    /// The photo stored under `name` with its content digest (the object's `SHA-256=…`, checked
    /// against the bytes as they are read), or `None` when there is none.
    pub async fn get_photo(&self, name: &str) -> Result<Option<StoredObject>, BusError> {
        let mut object = match self.photos.get(name).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(&format!("cannot read photo {name}"), e)),
        };
        let content = object.info.digest.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| err(&format!("cannot read photo {name}"), e))?;
        Ok(Some(StoredObject { bytes, content }))
    }

    /// Erases the photo stored under `name`, its chunks and every record of its name (the
    /// deletion marker included); false when there was none.
    pub async fn erase_photo(&self, name: &str) -> Result<bool, BusError> {
        if self.photo_content(name).await?.is_none() {
            return Ok(false);
        }
        erase_object(&self.js, &self.photos, &self.names.photos_bucket, name).await?;
        Ok(true)
    }

    /// Erases every value of `key` in the state bucket, the purge marker included (a KV purge
    /// alone would leave the key in the bucket's stream); false when it held none.
    pub async fn erase_state_key(&self, key: &str) -> Result<bool, BusError> {
        if self
            .state
            .get(key)
            .await
            .map_err(|e| err("cannot read sync state", e))?
            .is_none()
        {
            return Ok(false);
        }
        let stream = format!("KV_{}", self.names.state_bucket);
        purge_subject(
            &self.js,
            &stream,
            &format!("$KV.{}.{key}", self.names.state_bucket),
        )
        .await?;
        Ok(true)
    }

    /// The content digest of the photo stored under `name` without reading it, or `None` when
    /// there is none.
    pub async fn photo_content(&self, name: &str) -> Result<Option<String>, BusError> {
        match self.photos.info(name).await {
            Ok(info) if info.deleted => Ok(None),
            Ok(info) => Ok(info.digest),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(&format!("cannot read photo {name}"), e)),
        }
    }

    /// Publishes a photo-upload event, with its id as the JetStream message id.
    pub async fn publish_upload(&self, event: &PhotoUpload) -> Result<(), BusError> {
        self.publish_with_id(&self.names.photo_uploaded, &event.id, event)
            .await
    }

    /// Publishes a result on `photosync.result.<outcome>` and waits for JetStream to store it.
    pub async fn publish_result(&self, result: &PhotoResult) -> Result<(), BusError> {
        let payload = serde_json::to_vec(result).map_err(|e| err("cannot encode the result", e))?;
        let ack = self
            .js
            .publish(
                self.names.result_subject(result.outcome),
                Bytes::from(payload),
            )
            .await
            .map_err(|e| err("cannot publish the result", e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err("the result was not stored", e))
    }

    /// Publishes a directory-change event with its id as the JetStream message id, so the same
    /// change published twice (a watcher restarted before it saved its place) is stored once.
    pub async fn publish_directory_change(
        &self,
        event: &events::DirectoryChange,
    ) -> Result<(), BusError> {
        self.publish_with_id(&self.names.directory_changed, &event.id, event)
            .await
    }

    /// Publishes a photo-changed event with its id as the JetStream message id.
    pub async fn publish_photo_changed(
        &self,
        event: &events::PhotoChanged,
    ) -> Result<(), BusError> {
        self.publish_with_id(&self.names.photo_changed, &event.id, event)
            .await
    }

    async fn publish_with_id(
        &self,
        subject: &str,
        id: &str,
        event: &impl serde::Serialize,
    ) -> Result<(), BusError> {
        let payload = serde_json::to_vec(event).map_err(|e| err("cannot encode the event", e))?;
        let publish = jetstream::context::Publish::build()
            .payload(payload.into())
            .message_id(id);
        let ack = self
            .js
            .send_publish(subject.to_owned(), publish)
            .await
            .map_err(|e| err(&format!("cannot publish on {subject}"), e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err(&format!("the event on {subject} was not stored"), e))
    }

    /// Keeps an event that failed on every delivery on `photosync.dead.<subject>`, with the
    /// last reason in the `Photosync-Reason` header.
    pub async fn dead_letter(
        &self,
        subject: &str,
        payload: Bytes,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Photosync-Reason", header_value(reason));
        let ack = self
            .js
            .publish_with_headers(self.names.dead_subject(subject), headers, payload)
            .await
            .map_err(|e| err("cannot publish the dead letter", e))?;
        ack.await
            .map(|_| ())
            .map_err(|e| err("the dead letter was not stored", e))
    }

    /// Publishes every dead letter again on its original subject and removes it; returns how
    /// many. Each goes out with a new message id, so that duplicate detection does not drop it.
    pub async fn replay_dead_letters(&self) -> Result<usize, BusError> {
        let prefix = format!("{}.", self.names.dead_prefix);
        let mut replayed = 0;
        for message in self.stored(&self.names.dead_stream).await? {
            let Some(subject) = message.subject.as_str().strip_prefix(&prefix) else {
                continue;
            };
            let publish = jetstream::context::Publish::build()
                .payload(message.payload.clone())
                .message_id(format!("replay-{}", uuid::Uuid::new_v4()));
            self.js
                .send_publish(subject.to_owned(), publish)
                .await
                .map_err(|e| err("cannot replay a dead letter", e))?
                .await
                .map_err(|e| err("the replayed event was not stored", e))?;
            self.js
                .get_stream(&self.names.dead_stream)
                .await
                .map_err(|e| err("cannot open the dead-letter stream", e))?
                .delete_message(message.sequence)
                .await
                .map_err(|e| err("cannot remove a replayed dead letter", e))?;
            replayed += 1;
        }
        Ok(replayed)
    }

    /// Every message `stream` holds now, oldest first (for small streams: dead letters,
    /// inspection).
    pub async fn stored(
        &self,
        stream: &str,
    ) -> Result<Vec<jetstream::message::StreamMessage>, BusError> {
        let mut handle = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| err(&format!("cannot open stream {stream}"), e))?;
        let state = handle
            .info()
            .await
            .map_err(|e| err(&format!("cannot read stream {stream}"), e))?
            .state
            .clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return Ok(out);
        }
        for seq in state.first_sequence..=state.last_sequence {
            // A gap (a deleted message) is skipped.
            if let Ok(message) = handle.get_raw_message(seq).await {
                out.push(message);
            }
        }
        Ok(out)
    }

    /// The state bucket.
    /// Replicas of every stream and bucket photosync creates.
    /// Stores a plugin's component as `name` in the plugin bucket (created when missing, with
    /// this connection's replicas).
    pub async fn put_plugin(&self, name: &str, wasm: &[u8]) -> Result<(), BusError> {
        let store = object_store(
            &self.js,
            object_store::Config {
                bucket: self.names.plugins_bucket.clone(),
                description: Some(
                    "plugin components, pinned by SHA-256 in the configuration".into(),
                ),
                storage: stream::StorageType::File,
                num_replicas: self.replicas,
                ..Default::default()
            },
        )
        .await?;
        let mut reader = wasm;
        store
            .put(name, &mut reader)
            .await
            .map(|_| ())
            .map_err(|e| err(&format!("cannot store plugin {name}"), e))
    }

    /// The object `name` of Object Store bucket `bucket` (a plugin's code) and its content
    /// digest, checked as it is read.
    pub async fn get_object(&self, bucket: &str, name: &str) -> Result<StoredObject, BusError> {
        let store = self
            .js
            .get_object_store(bucket)
            .await
            .map_err(|e| err(&format!("cannot open bucket {bucket}"), e))?;
        let mut object = store
            .get(name)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        let content = object.info.digest.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        Ok(StoredObject { bytes, content })
    }

    /// The content digest of object `name` in bucket `bucket` without reading it.
    pub async fn object_content(&self, bucket: &str, name: &str) -> Result<String, BusError> {
        let store = self
            .js
            .get_object_store(bucket)
            .await
            .map_err(|e| err(&format!("cannot open bucket {bucket}"), e))?;
        let info = store
            .info(name)
            .await
            .map_err(|e| err(&format!("cannot read {name} from bucket {bucket}"), e))?;
        match info.deleted {
            true => Err(BusError(format!("{name} was deleted from bucket {bucket}"))),
            false => Ok(info.digest.unwrap_or_default()),
        }
    }

    pub fn replicas(&self) -> usize {
        self.replicas
    }

    pub fn state(&self) -> &kv::Store {
        &self.state
    }

    /// The names of this deployment's subjects, streams and buckets.
    pub fn names(&self) -> &Names {
        &self.names
    }
}

/// Sets `stream`'s maximum age to `max_age` when it has another, saying so (or, when NATS does
/// not allow it, warning).
async fn apply_retention(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
) -> Result<(), BusError> {
    let mut stream = js
        .get_stream(name)
        .await
        .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
    if info.config.max_age == max_age {
        return Ok(());
    }
    let shown = |d: Duration| match d.as_secs() {
        0 => "for ever".to_owned(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s => format!("{s} s"),
    };
    let was = shown(info.config.max_age);
    let mut updated = info.config.clone();
    updated.max_age = max_age;
    updated.duplicate_window = duplicate_window(info.config.duplicate_window, max_age);
    // A client whose NATS user may not edit streams (a producer) leaves them as they are.
    match js.update_stream(updated).await {
        Ok(_) => tracing::info!(
            stream = name,
            "Retention: {name} now keeps messages {} (it kept them {was}); older ones are removed.",
            shown(max_age)
        ),
        Err(e) => tracing::warn!(
            stream = name,
            "Cannot set the retention of {name} to {} ({e}); it keeps messages {was}.",
            shown(max_age)
        ),
    }
    Ok(())
}

/// The duplicate window `wanted`, at most `max_age` (JetStream's rule) unless that is unlimited.
fn duplicate_window(wanted: Duration, max_age: Duration) -> Duration {
    match max_age.is_zero() {
        true => wanted,
        false => wanted.min(max_age),
    }
}

/// photosync's streams, created when missing with `retention`; with `update_existing`, existing
/// ones get it too.
async fn ensure_streams(
    js: &jetstream::Context,
    names: &Names,
    replicas: usize,
    retention: &Retention,
    update_existing: bool,
) -> Result<(), BusError> {
    let events = stream::Config {
        name: names.events_stream.clone(),
        subjects: vec![
            names.photo_uploaded.clone(),
            names.directory_changed.clone(),
        ],
        storage: stream::StorageType::File,
        duplicate_window: duplicate_window(DUPLICATE_WINDOW, retention.events),
        max_age: retention.events,
        num_replicas: replicas,
        ..Default::default()
    };
    let results = stream::Config {
        name: names.results_stream.clone(),
        subjects: vec![format!("{}.>", names.result_prefix)],
        storage: stream::StorageType::File,
        max_age: retention.results,
        num_replicas: replicas,
        ..Default::default()
    };
    let changes = stream::Config {
        name: names.changes_stream.clone(),
        subjects: vec![names.photo_changed.clone()],
        storage: stream::StorageType::File,
        max_age: retention.results,
        duplicate_window: duplicate_window(DUPLICATE_WINDOW, retention.results),
        num_replicas: replicas,
        ..Default::default()
    };
    let dead = stream::Config {
        name: names.dead_stream.clone(),
        subjects: vec![format!("{}.>", names.dead_prefix)],
        storage: stream::StorageType::File,
        max_age: retention.dead_letters,
        num_replicas: replicas,
        ..Default::default()
    };
    for config in [events, results, changes, dead] {
        let name = config.name.clone();
        let mut existing = js
            .get_or_create_stream(config.clone())
            .await
            .map_err(|e| err(&format!("cannot create stream {name}"), e))?;
        // A stream made by an older photosync may lack a subject added since.
        let info = existing
            .info()
            .await
            .map_err(|e| err(&format!("cannot read stream {name}"), e))?;
        report_replicas(js, &name, replicas).await;
        if update_existing {
            apply_retention(js, &name, config.max_age).await?;
        }
        let missing = config
            .subjects
            .iter()
            .any(|s| !info.config.subjects.contains(s));
        if missing {
            let mut updated = info.config.clone();
            for subject in &config.subjects {
                if !updated.subjects.contains(subject) {
                    updated.subjects.push(subject.clone());
                }
            }
            js.update_stream(updated)
                .await
                .map_err(|e| err(&format!("cannot add subjects to stream {name}"), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::photo_chunk_size;

    #[test]
    fn photo_chunks_are_half_the_largest_message_within_bounds() {
        assert_eq!(photo_chunk_size(1 << 20), 512 * 1024);
        assert_eq!(photo_chunk_size(8 << 20), 512 * 1024);
        assert_eq!(photo_chunk_size(400 * 1024), 200 * 1024);
        assert_eq!(photo_chunk_size(200 * 1024), 128 * 1024);
        assert_eq!(photo_chunk_size(100 * 1024), 100 * 1024);
        assert_eq!(photo_chunk_size(0), 128 * 1024);
    }
}
