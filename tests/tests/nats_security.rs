//! NATS transport security and authentication against real nats-server configurations (TLS with
//! a private CA, mutual TLS, an NKey user, a token, operator mode with a `.creds` user): the
//! harness's servers accept their credentials from async-nats; `photosync run` configured with
//! the matching `[nats]` keys takes a photo-upload event to a `written` result against a real
//! slapd; and a worker without the right CA, client certificate or credentials is refused with a
//! message naming the option to fix.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt as _;
use photosync::events::{Outcome, PhotoRef, PhotoResult, PhotoUpload};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::PHOTO_UPLOADED;
use photosync_tests::servers::nats_secure::{Credentials, SecureNats, Security};
use photosync_tests::servers::{LdapServer, Person};
use photosync_tests::stack::{ldap_sections, photosync_binary};
use photosync_tests::wait::eventually;

const ALL: [Security; 5] = [
    Security::Tls,
    Security::MutualTls,
    Security::Nkey,
    Security::Token,
    Security::Operator,
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio")
}

async fn connect(url: &str, credentials: &Credentials) -> Result<async_nats::Client, String> {
    let options = credentials
        .connect_options()
        .await
        .connection_timeout(Duration::from_secs(10));
    options.connect(url).await.map_err(|e| e.to_string())
}

// The harness, before photosync relies on it.

#[test]
fn every_mode_lets_async_nats_use_jetstream_with_its_credentials_and_refuses_others() {
    let rt = runtime();
    for security in ALL {
        let nats = SecureNats::start(security);
        rt.block_on(async {
            let client = connect(&nats.url(), &nats.credentials())
                .await
                .unwrap_or_else(|e| panic!("{security:?}: {e}\n{}", nats.log()));
            let js = async_nats::jetstream::new(client);
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "PROBE".into(),
                subjects: vec!["probe".into()],
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{security:?}: JetStream: {e}\n{}", nats.log()));
            let ack = js
                .publish("probe", "hello".into())
                .await
                .expect("published");
            ack.await.expect("stored");
            let refused = connect(&nats.url(), &nats.refused_credentials()).await;
            // What async-nats says is what photosync has to translate into advice.
            eprintln!("{security:?} with refused credentials: {refused:?}");
            assert!(
                refused.is_err(),
                "{security:?} accepted refused credentials"
            );
        });
    }
}

#[test]
fn servers_that_ask_for_credentials_refuse_a_client_without_any() {
    let rt = runtime();
    for security in [Security::Nkey, Security::Token, Security::Operator] {
        let nats = SecureNats::start(security);
        let refused = rt.block_on(connect(&nats.url(), &Credentials::default()));
        eprintln!("{security:?} without credentials: {refused:?}");
        assert!(
            refused.is_err(),
            "{security:?} accepted a client without credentials"
        );
    }
}

// photosync run.

/// The `[nats]` keys that present `credentials`.
fn nats_keys(credentials: &Credentials) -> String {
    let mut keys = String::new();
    let mut path =
        |key: &str, file: &Path| keys.push_str(&format!("{key} = \"{}\"\n", file.display()));
    if let Some(ca) = &credentials.ca_file {
        path("ca-file", ca);
    }
    if let Some((cert, key)) = &credentials.client_cert {
        path("cert-file", cert);
        path("key-file", key);
    }
    if let Some(creds) = &credentials.creds {
        path("creds", creds);
    }
    if let Some(seed) = &credentials.nkey {
        path("nkey", seed);
    }
    if let Some((_, file)) = &credentials.token {
        keys.push_str(&format!("token = {{ file = \"{}\" }}\n", file.display()));
    }
    keys
}

/// A worker's configuration: NATS at `url` with `credentials`, and `ldap`'s service account.
fn worker_config(dir: &Path, url: &str, credentials: &Credentials, ldap: &LdapServer) -> String {
    let (dn, password) = ldap.service_account();
    let password_file = dir.join("ldap.password");
    std::fs::write(&password_file, format!("{password}\n")).expect("password file");
    let password = format!("{{ file = \"{}\" }}", password_file.display());
    // Shared by all tests, so each plugin is compiled once per build.
    let cache = concat!(env!("PHOTOSYNC_TEST_PLUGIN_DIR"), "/../../plugin-cache");
    format!(
        "[nats]\nurl = \"{url}\"\n{keys}\n{ldap}\n[plugins]\ncache-dir = \"{cache}\"\n\n\
         [worker]\nconcurrency = 2\nretry-secs = 1\n",
        keys = nats_keys(credentials),
        ldap = ldap_sections(&ldap.url(), dn, &password),
    )
}

/// A `photosync run` process, killed on `Drop`.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn spawn(dir: &Path, config: &str) -> Self {
        let path = dir.join("photosync.toml");
        std::fs::write(&path, config).expect("worker config");
        let log = dir.join("photosync.log");
        let child = Command::new(photosync_binary())
            .args(["run", "--config"])
            .arg(&path)
            .env("PHOTOSYNC_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("photosync run starts");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until it processes events; panics with its log when it exits first.
    fn wait_until_processing(&mut self) {
        eventually(Duration::from_secs(30), "the worker to start", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the worker exited ({status}):\n{}", self.log());
            }
            self.log().contains("photosync is processing").then_some(())
        });
    }

    /// Waits until it has exited or logged every one of `wanted`, and returns its log.
    fn wait_for_refusal(&mut self, wanted: &[&str]) -> String {
        eventually(Duration::from_secs(30), "the worker to give up", || {
            let log = self.log();
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            (exited || wanted.iter().all(|w| log.contains(w))).then_some(log)
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a worker with the server's own credentials, publishes an upload for Ada over a
/// connection with the same credentials, and expects her photo written.
fn processes_an_upload(security: Security) {
    let nats = SecureNats::start(security);
    let ldap = LdapServer::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    ldap.add_people(std::slice::from_ref(&ada));
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = nats.credentials();
    let mut worker = Worker::spawn(
        dir.path(),
        &worker_config(dir.path(), &nats.url(), &credentials, &ldap),
    );
    worker.wait_until_processing();
    let result = runtime().block_on(upload_and_wait(&nats.url(), &credentials));
    assert_eq!(
        result.outcome,
        Outcome::Written,
        "{result:?}\n{}",
        worker.log()
    );
    assert_eq!(result.entry_dn.as_deref(), Some(ada.dn().as_str()));
    assert_eq!(ldap.read(&ada.dn(), "thumbnailPhoto").values.len(), 1);
}

/// Publishes a photo for employee 12345 and returns its result.
async fn upload_and_wait(url: &str, credentials: &Credentials) -> PhotoResult {
    use base64::Engine as _;
    let client = connect(url, credentials).await.expect("the test connects");
    let mut results = client
        .subscribe("photosync.result.>")
        .await
        .expect("subscribed");
    client.flush().await.expect("flushed");
    let photo = jpeg(&photo_like(320, 240, 7), JpegOptions::default());
    let event = PhotoUpload {
        id: format!("secure-{}", std::process::id()),
        file_name: "12345.jpg".into(),
        source: "test".into(),
        content_type: "image/jpeg".into(),
        uploaded_at: "2026-11-21T12:00:00Z".into(),
        attributes: Default::default(),
        photo: PhotoRef::Inline(base64::engine::general_purpose::STANDARD.encode(photo)),
        photo_digest: None,
    };
    let js = async_nats::jetstream::new(client.clone());
    let payload = serde_json::to_vec(&event).expect("event encodes");
    let ack = js
        .publish(PHOTO_UPLOADED, payload.into())
        .await
        .expect("published");
    ack.await.expect("stored in the event stream");
    let wait = async {
        while let Some(message) = results.next().await {
            if let Ok(result) = serde_json::from_slice::<PhotoResult>(&message.payload)
                && result.event_id == event.id
            {
                return result;
            }
        }
        panic!("the result subscription ended");
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("a result within 60 s")
}

/// Starts a worker with `credentials` against `security`'s server and expects it refused,
/// its log naming each of `wanted`.
fn refused(
    security: Security,
    credentials: impl FnOnce(&SecureNats) -> Credentials,
    wanted: &[&str],
) {
    let nats = SecureNats::start(security);
    let ldap = LdapServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = worker_config(dir.path(), &nats.url(), &credentials(&nats), &ldap);
    let mut worker = Worker::spawn(dir.path(), &config);
    let log = worker.wait_for_refusal(wanted);
    assert!(
        !log.contains("photosync is processing"),
        "the worker ran with credentials the server refuses:\n{log}"
    );
    for w in wanted {
        assert!(
            log.contains(w),
            "the worker's log does not say {w:?}:\n{log}"
        );
    }
}

#[test]
fn tls_with_a_private_ca_file() {
    processes_an_upload(Security::Tls);
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    processes_an_upload(Security::MutualTls);
}

#[test]
fn an_nkey_user() {
    processes_an_upload(Security::Nkey);
}

#[test]
fn a_token() {
    processes_an_upload(Security::Token);
}

#[test]
fn operator_mode_with_a_creds_file() {
    processes_an_upload(Security::Operator);
}

#[test]
fn a_private_ca_without_ca_file_is_refused_naming_ca_file() {
    refused(
        Security::Tls,
        SecureNats::refused_credentials,
        &["set nats.ca-file"],
    );
}

#[test]
fn mutual_tls_without_a_client_certificate_is_refused_naming_cert_file() {
    refused(
        Security::MutualTls,
        SecureNats::refused_credentials,
        &["nats.cert-file"],
    );
}

#[test]
fn an_unknown_nkey_is_refused_naming_nkey() {
    refused(
        Security::Nkey,
        SecureNats::refused_credentials,
        &["nats.nkey"],
    );
}

#[test]
fn a_wrong_token_is_refused_naming_token() {
    refused(
        Security::Token,
        SecureNats::refused_credentials,
        &["nats.token"],
    );
}

#[test]
fn creds_of_an_account_the_operator_did_not_sign_are_refused_naming_creds() {
    refused(
        Security::Operator,
        SecureNats::refused_credentials,
        &["nats.creds"],
    );
}

#[test]
fn no_credentials_for_a_server_that_asks_for_them_are_refused_as_unauthorised() {
    refused(
        Security::Token,
        |_| Credentials::default(),
        &["authoriz", "nats.token"],
    );
}

#[test]
fn publish_and_results_reach_a_server_that_needs_a_client_certificate_with_config() {
    let nats = SecureNats::start(Security::MutualTls);
    let ldap = LdapServer::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    ldap.add_people(std::slice::from_ref(&ada));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = worker_config(dir.path(), &nats.url(), &nats.credentials(), &ldap);
    let mut worker = Worker::spawn(dir.path(), &config);
    worker.wait_until_processing();
    let config_file = dir.path().join("photosync.toml");
    let mut results = Command::new(photosync_binary())
        .args(["results", "--count", "1", "--config"])
        .arg(&config_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("photosync results starts");
    let photo = dir.path().join("12345.jpg");
    std::fs::write(
        &photo,
        jpeg(&photo_like(320, 240, 8), JpegOptions::default()),
    )
    .expect("photo");
    // Without --config the same server refuses the client, naming the option.
    let plain = Command::new(photosync_binary())
        .args(["publish", "--nats", &nats.url()])
        .arg(&photo)
        .output()
        .expect("photosync publish runs");
    let said = String::from_utf8_lossy(&plain.stderr);
    assert!(
        !plain.status.success() && said.contains("nats.ca-file"),
        "{said}"
    );
    // photosync results may subscribe after the first result went by: publish a new photo
    // until it has printed one.
    let mut seed = 8;
    eventually(
        Duration::from_secs(60),
        "photosync results to print a result",
        || {
            if results.try_wait().expect("wait").is_some() {
                return Some(());
            }
            seed += 1;
            std::fs::write(
                &photo,
                jpeg(&photo_like(320, 240, seed), JpegOptions::default()),
            )
            .expect("photo");
            let published = Command::new(photosync_binary())
                .args(["publish", "--config"])
                .arg(&config_file)
                .arg(&photo)
                .output()
                .expect("photosync publish runs");
            assert!(
                published.status.success(),
                "{}",
                String::from_utf8_lossy(&published.stderr)
            );
            None
        },
    );
    let out = results.wait_with_output().expect("photosync results ends");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && line.contains("written"),
        "{line}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
