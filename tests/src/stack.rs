//! A whole photosync stack for integration tests: a real nats-server, a real directory (slapd,
//! or a Samba AD DC), and the photosync service running in this process, stopped when the stack
//! is dropped.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use futures::StreamExt as _;
use photosync::bus::Bus;
use photosync::config::Config;
use photosync::events::{PhotoRef, PhotoResult, PhotoUpload};

use crate::servers::{AD_DC_NAME, AD_STAFF_DN, LdapServer, NatsServer, PEOPLE_DN, SambaDc};
use crate::wait::eventually;

/// Which account the service binds as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// May write photos.
    Service,
    /// May read but not write photos.
    Reader,
    /// The directory's administrator (on AD, a domain admin: it also sees deleted objects).
    Admin,
}

/// A directory server a stack can run against.
pub trait TestDirectory: std::fmt::Debug {
    /// The bind name and password of `account`.
    fn account(&self, account: Account) -> (String, String);
    /// The `[ldap]` section (binding as `bind_name` with `password`, a TOML inline table) and
    /// the matcher's settings.
    fn config_sections(&self, bind_name: &str, password: &str) -> String;
}

impl TestDirectory for LdapServer {
    fn account(&self, account: Account) -> (String, String) {
        let (dn, password) = match account {
            Account::Service => self.service_account(),
            Account::Reader => self.reader_account(),
            Account::Admin => self.admin_account(),
        };
        (dn.into(), password.into())
    }

    fn config_sections(&self, bind_name: &str, password: &str) -> String {
        ldap_sections(&self.url(), bind_name, password)
    }
}

impl TestDirectory for SambaDc {
    fn account(&self, account: Account) -> (String, String) {
        let (upn, password) = match account {
            Account::Service => self.service_account(),
            Account::Admin => self.admin_account(),
            Account::Reader => panic!("the test DC has no read-only account"),
        };
        (upn, password.into())
    }

    fn config_sections(&self, bind_name: &str, password: &str) -> String {
        format!(
            r#"[ldap]
url = "{url}"
ca-file = "{ca}"
tls-server-name = "{AD_DC_NAME}"
bind-dn = "{bind_name}"
password = {password}
base-dn = "{AD_STAFF_DN}"
filter = "(&(objectCategory=person)(objectClass=user))"
id-attribute = "objectGUID"

[plugins.matcher.settings]
patterns = "{{employeeID}};{{sAMAccountName}}"
digits-only = "employeeID"
"#,
            url = self.ldaps_url(),
            ca = self.ca_file().display(),
        )
    }
}

/// NATS, a directory (slapd unless said otherwise), and a running photosync service.
pub struct Stack<D: TestDirectory = LdapServer> {
    pub nats: NatsServer,
    pub ldap: D,
    pub bus: Bus,
    pub rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    service: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
    results: mpsc::Receiver<PhotoResult>,
    seen: Vec<PhotoResult>,
}

impl<D: TestDirectory> std::fmt::Debug for Stack<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("nats", &self.nats)
            .field("ldap", &self.ldap)
            .finish_non_exhaustive()
    }
}

impl Stack<LdapServer> {
    /// Starts the servers and the service binding as the service account.
    pub fn start() -> Self {
        Self::start_with(Account::Service)
    }

    /// Starts the servers and the service binding as `account`.
    pub fn start_with(account: Account) -> Self {
        Self::start_on(LdapServer::start(), account)
    }
}

impl Stack<LdapServer> {
    /// An event for a photo in the object store under `object`.
    pub fn event_for_object(id: &str, file_name: &str, object: &str) -> PhotoUpload {
        PhotoUpload {
            id: id.into(),
            file_name: file_name.into(),
            source: "test".into(),
            content_type: "image/jpeg".into(),
            uploaded_at: "2026-11-21T12:00:00Z".into(),
            attributes: BTreeMap::new(),
            photo: PhotoRef::Object(object.into()),
            photo_digest: None,
        }
    }
}

impl Stack<SambaDc> {
    /// Starts NATS, a fresh Samba AD DC and the service binding as the delegated service account.
    pub fn start_samba() -> Self {
        Self::start_on(SambaDc::start(), Account::Service)
    }
}

impl<D: TestDirectory> Stack<D> {
    /// Starts NATS and the service against `ldap`, binding as `account`.
    pub fn start_on(ldap: D, account: Account) -> Self {
        let nats = NatsServer::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let bus = rt
            .block_on(Bus::connect(&nats.url(), None))
            .expect("NATS connects");
        let (tx, results) = mpsc::channel();
        let client = bus.client.clone();
        rt.spawn(async move {
            let mut sub = client
                .subscribe("photosync.result.>")
                .await
                .expect("subscribe");
            while let Some(m) = sub.next().await {
                if let Ok(r) = serde_json::from_slice::<PhotoResult>(&m.payload) {
                    let _ = tx.send(r);
                }
            }
        });
        rt.block_on(bus.client.flush()).expect("flush");
        let mut stack = Self {
            nats,
            ldap,
            bus,
            rt,
            dir,
            service: None,
            results,
            seen: vec![],
        };
        stack.start_service(account);
        stack
    }

    /// The configuration the service runs with.
    pub fn config(&self, account: Account) -> Config {
        Config::parse(&self.config_text(account, "")).expect("the test configuration is valid")
    }

    /// The configuration as TOML, with `worker` keys added to the `[worker]` section.
    pub fn config_text(&self, account: Account, worker: &str) -> String {
        let (dn, password) = self.ldap.account(account);
        let password_file = self.dir.path().join(format!("{account:?}.password"));
        std::fs::write(&password_file, format!("{password}\n")).expect("password file");
        // Shared by all tests, so each plugin is compiled once per build.
        let cache = concat!(env!("PHOTOSYNC_TEST_PLUGIN_DIR"), "/../../plugin-cache");
        let password = format!("{{ file = \"{}\" }}", password_file.display());
        // The tests' defaults, unless `worker` sets the key itself.
        let mut section = String::new();
        for default in ["concurrency = 4", "retry-secs = 1"] {
            let key = default.split(' ').next().unwrap_or_default();
            if !worker.lines().any(|l| l.starts_with(&format!("{key} "))) {
                section.push_str(default);
                section.push('\n');
            }
        }
        format!(
            "{}\n[plugins]\ncache-dir = \"{cache}\"\n\n[worker]\n{section}{worker}\n",
            config_toml(&self.nats.url(), &self.ldap.config_sections(&dn, &password))
        )
    }

    /// Starts a `photosync run` process with `config` (TOML), as a separate worker.
    pub fn start_worker(&self, name: &str, config: &str) -> WorkerProcess {
        self.start_worker_with(name, config, &[])
    }

    /// [`Self::start_worker`] with environment variables added to the worker's.
    pub fn start_worker_with(
        &self,
        name: &str,
        config: &str,
        env: &[(&str, &std::path::Path)],
    ) -> WorkerProcess {
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).expect("worker config");
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log");
        let child = std::process::Command::new(photosync_binary())
            .args(["run", "--config"])
            .arg(&path)
            .env("PHOTOSYNC_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("photosync run starts");
        // A worker that cannot start says why at once; fail here rather than wait for results.
        let mut worker = WorkerProcess {
            child,
            log: self.dir.path().join(format!("{name}.log")),
            config: path,
        };
        eventually(
            Duration::from_secs(30),
            &format!("worker {name} to start"),
            || {
                if let Ok(Some(status)) = worker.child.try_wait() {
                    panic!("worker {name} exited ({status}): {}", worker.log());
                }
                worker
                    .log()
                    .contains("photosync is processing")
                    .then_some(())
            },
        );
        worker
    }

    /// The messages `stream` holds on subjects starting with `prefix`, oldest first.
    pub fn stored_under<T: serde::de::DeserializeOwned>(
        &self,
        stream: &str,
        prefix: &str,
    ) -> Vec<T> {
        self.stored_where(stream, |s| s.starts_with(prefix))
    }

    /// The messages `stream` holds on subjects `wanted` accepts, oldest first.
    fn stored_where<T: serde::de::DeserializeOwned>(
        &self,
        stream: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<T> {
        self.rt
            .block_on(self.bus.stored(stream))
            .expect("stream readable")
            .into_iter()
            .filter(|m| wanted(m.subject.as_str()))
            .map(|m| serde_json::from_slice(&m.payload).expect("a stored message parses"))
            .collect()
    }

    /// Starts (or restarts) the service.
    pub fn start_service(&mut self, account: Account) {
        let config = self.config(account);
        self.start_service_with(config);
    }

    /// Starts (or restarts) the service with a configuration of the caller's.
    pub fn start_service_with(&mut self, config: Config) {
        self.stop_service();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio");
            let _ = ready_tx.send(());
            if let Err(e) = rt.block_on(photosync::service::run(config, async {
                let _ = stopped.await;
            })) {
                panic!("the service failed: {e:#}");
            }
        });
        ready_rx.recv().expect("service thread starts");
        self.service = Some((stop, handle));
    }

    /// Stops the service, letting in-flight events finish.
    pub fn stop_service(&mut self) {
        if let Some((stop, handle)) = self.service.take() {
            let _ = stop.send(());
            handle.join().expect("the service stopped cleanly");
        }
    }

    /// Publishes `bytes` as `file_name` (through the object store when large); returns the event id.
    pub fn publish(&self, file_name: &str, bytes: &[u8], attributes: &[(&str, &str)]) -> String {
        let path = self.dir.path().join("upload").join(file_name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("upload dir");
        std::fs::write(&path, bytes).expect("write upload");
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let event = self
            .rt
            .block_on(photosync::publish::publish_file(
                &self.bus,
                &path,
                "test",
                &attributes,
            ))
            .expect("publish");
        event.id
    }

    /// Publishes a raw payload on the photo-upload subject.
    pub fn publish_raw(&self, payload: &[u8]) {
        let ack = self
            .rt
            .block_on(
                self.bus
                    .js
                    .publish("photosync.photo.uploaded", payload.to_vec().into()),
            )
            .expect("publish raw");
        self.rt
            .block_on(std::future::IntoFuture::into_future(ack))
            .expect("stored");
    }

    /// Publishes an event object (e.g. one referring to a missing object).
    pub fn publish_event(&self, event: &PhotoUpload) {
        self.rt
            .block_on(self.bus.publish_upload(event))
            .expect("publish event");
    }

    /// Waits for the result of `event_id` whose outcome satisfies `done` (earlier deliveries'
    /// results are skipped).
    pub fn result_where(
        &mut self,
        event_id: &str,
        done: impl Fn(&PhotoResult) -> bool,
    ) -> PhotoResult {
        let results = &self.results;
        let seen = &mut self.seen;
        eventually(
            Duration::from_secs(60),
            &format!("a result for event {event_id}"),
            || {
                while let Ok(r) = results.try_recv() {
                    seen.push(r);
                }
                seen.iter()
                    .find(|r| r.event_id == event_id && done(r))
                    .cloned()
            },
        )
    }

    /// Waits for a result satisfying `wanted`, whichever event it is for.
    pub fn result_matching(
        &mut self,
        what: &str,
        wanted: impl Fn(&PhotoResult) -> bool,
    ) -> PhotoResult {
        let results = &self.results;
        let seen = &mut self.seen;
        eventually(Duration::from_secs(60), what, || {
            while let Ok(r) = results.try_recv() {
                seen.push(r);
            }
            seen.iter().find(|r| wanted(r)).cloned()
        })
    }

    /// Waits until `n` more results have arrived and returns them.
    pub fn next_results(&mut self, n: usize, deadline: Duration) -> Vec<PhotoResult> {
        let mut got = Vec::with_capacity(n);
        let end = std::time::Instant::now() + deadline;
        while got.len() < n {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.results.recv_timeout(left) {
                Ok(r) => got.push(r),
                Err(_) => panic!("timed out with {} of {n} results", got.len()),
            }
        }
        got
    }

    /// Every result seen so far, oldest first.
    pub fn results_so_far(&mut self) -> &[PhotoResult] {
        while let Ok(r) = self.results.try_recv() {
            self.seen.push(r);
        }
        &self.seen
    }

    /// Waits for the (first) result of `event_id`.
    pub fn result(&mut self, event_id: &str) -> PhotoResult {
        self.result_where(event_id, |_| true)
    }
}

/// The `photosync` binary built beside the test binaries (scripts/test builds it first).
pub fn photosync_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = dir.join("photosync");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --release -p photosync, as scripts/test does)",
        binary.display()
    );
    binary
}

/// A `photosync run` process.
#[derive(Debug)]
pub struct WorkerProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
    config: std::path::PathBuf,
}

impl WorkerProcess {
    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for it to exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// The configuration file it was started with (what SIGHUP makes it read again).
    pub fn config_file(&self) -> &std::path::Path {
        &self.config
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Messages of one type arriving on a subject, collected in the background.
#[derive(Debug)]
pub struct Subscription<T> {
    rx: mpsc::Receiver<T>,
    seen: Vec<T>,
}

impl<T: Clone> Subscription<T> {
    /// Everything received so far.
    pub fn received(&mut self) -> &[T] {
        while let Ok(m) = self.rx.try_recv() {
            self.seen.push(m);
        }
        &self.seen
    }

    /// Waits for a message satisfying `wanted`.
    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&T) -> bool) -> T {
        eventually(Duration::from_secs(60), what, || {
            self.received().iter().find(|m| wanted(m)).cloned()
        })
    }
}

/// The directory watcher running on its own, as `photosync watch` does.
#[derive(Debug)]
pub struct Watcher {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: std::thread::JoinHandle<()>,
}

impl Watcher {
    /// Stops it (the way SIGTERM does) and waits until it has.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.handle.join().expect("the watcher stopped cleanly");
    }
}

impl<D: TestDirectory> Stack<D> {
    /// Subscribes to `subject` (core NATS: every publish is seen, even one JetStream drops as
    /// a duplicate); messages that do not parse as `T` are skipped.
    pub fn subscribe<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        subject: &str,
    ) -> Subscription<T> {
        let (tx, rx) = mpsc::channel();
        let client = self.bus.client.clone();
        let mut sub = self
            .rt
            .block_on(client.subscribe(subject.to_owned()))
            .expect("subscribe");
        self.rt.block_on(client.flush()).expect("flush");
        self.rt.spawn(async move {
            while let Some(m) = sub.next().await {
                if let Ok(v) = serde_json::from_slice::<T>(&m.payload) {
                    let _ = tx.send(v);
                }
            }
        });
        Subscription { rx, seen: vec![] }
    }

    /// The messages `stream` holds on exactly `subject`, oldest first.
    pub fn stored<T: serde::de::DeserializeOwned>(&self, stream: &str, subject: &str) -> Vec<T> {
        self.stored_where(stream, |s| s == subject)
    }

    /// Starts the directory watcher on its own and waits until it watches (its place in the
    /// change stream is saved).
    pub fn start_watcher(&self) -> Watcher {
        self.start_watcher_with(self.config(Account::Service))
    }

    /// Starts the directory watcher on its own with `config`, and waits until it watches.
    pub fn start_watcher_with(&self, config: Config) -> Watcher {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio");
            rt.block_on(photosync::service::watch(config, async {
                let _ = stopped.await;
            }))
            .expect("the watcher runs");
        });
        self.wait_for_watcher();
        Watcher { stop, handle }
    }

    /// Waits until a watcher has saved its place in the change stream.
    pub fn wait_for_watcher(&self) {
        eventually(Duration::from_secs(30), "the watcher's place", || {
            (!self.watcher_keys().is_empty()).then_some(())
        });
    }

    /// The state-bucket keys where watchers keep their places.
    pub fn watcher_keys(&self) -> Vec<String> {
        self.rt.block_on(async {
            let mut found = vec![];
            let Ok(mut keys) = self.bus.state().keys().await else {
                return found;
            };
            while let Some(Ok(key)) = keys.next().await {
                if key.starts_with("watcher.") {
                    found.push(key);
                }
            }
            found
        })
    }
}

/// The configuration every test stack and the demo share: NATS, then `sections` (the directory's
/// `[ldap]` section and the matcher's settings).
pub fn config_toml(nats: &str, sections: &str) -> String {
    format!("[nats]\nurl = \"{nats}\"\n\n{sections}")
}

/// The `[ldap]` section and matcher settings for the test slapd at `url`, binding as `bind_dn`
/// with the given password source (a TOML inline table).
pub fn ldap_sections(url: &str, bind_dn: &str, password: &str) -> String {
    format!(
        r#"[ldap]
url = "{url}"
bind-dn = "{bind_dn}"
password = {password}
base-dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"

[plugins.matcher.settings]
patterns = "{{givenName}}_{{sn}};{{employeeID}}"
"#
    )
}

impl<D: TestDirectory> Drop for Stack<D> {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.service.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }
}
