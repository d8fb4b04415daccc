//! Least privilege on a real nats-server: every role of `deploy/nats/roles/` runs as a user
//! limited to exactly its file, against a real slapd — the worker (`photosync run`), the
//! watcher (`photosync watch`), a producer (`photosync publish`), a results reader
//! (`photosync results`) and the operators' tools (`replay`, `forget`) — and each does its job
//! end to end without one permission violation. The producer's user then cannot read results,
//! sync state, events or photos.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{EVENTS_STREAM, PHOTOS_BUCKET, STATE_BUCKET};
use photosync_tests::servers::nats_secure::{SecureNats, Security};
use photosync_tests::servers::{LdapServer, Person};
use photosync_tests::stack::{ldap_sections, photosync_binary};
use photosync_tests::wait::eventually;

/// The inbox prefix each role's configuration sets (deploy/nats/README.md).
fn inbox(role: &str) -> &'static str {
    match role {
        "worker" => "_INBOX_worker",
        "watcher" => "_INBOX_watcher",
        "producer" => "_INBOX_producer",
        "results-reader" => "_INBOX_results",
        "operator" => "_INBOX_operator",
        other => panic!("no role {other}"),
    }
}

/// The configuration of `role`: its NATS user and inbox prefix, slapd's service account.
fn role_config(dir: &Path, nats: &SecureNats, ldap: &LdapServer, role: &str) -> PathBuf {
    let secret = |name: &str, value: &str| {
        let file = dir.join(name);
        std::fs::write(&file, format!("{value}\n")).expect("secret file");
        format!("{{ file = \"{}\" }}", file.display())
    };
    let (dn, password) = ldap.service_account();
    let cache = concat!(env!("PHOTOSYNC_TEST_PLUGIN_DIR"), "/../../plugin-cache");
    let text = format!(
        "[nats]\nurl = \"{url}\"\nuser = \"{role}\"\npassword = {nats_password}\n\
         inbox-prefix = \"{inbox}\"\n\n{ldap}\n[plugins]\ncache-dir = \"{cache}\"\n\n\
         [worker]\nconcurrency = 2\nretry-secs = 1\n",
        url = nats.url(),
        nats_password = secret("nats.password", nats.password()),
        inbox = inbox(role),
        ldap = ldap_sections(&ldap.url(), dn, &secret("ldap.password", password)),
    );
    let path = dir.join(format!("{role}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

/// A long-running photosync command with its log (stderr) and output (stdout) in files;
/// killed on `Drop`.
struct Running {
    child: Child,
    log: PathBuf,
    out: PathBuf,
}

impl Running {
    fn start(dir: &Path, name: &str, args: &[&str], config: &Path) -> Self {
        let (log, out) = (
            dir.join(format!("{name}.log")),
            dir.join(format!("{name}.out")),
        );
        let child = Command::new(photosync_binary())
            .args(args)
            .arg("--config")
            .arg(config)
            .env("PHOTOSYNC_LOG", "info")
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("photosync starts");
        Self { child, log, out }
    }

    /// Waits until its log or output has `wanted`; panics with both if it exits first.
    fn wait_for(&mut self, wanted: &str) {
        eventually(Duration::from_secs(30), wanted, || {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            let (log, out) = (read(&self.log), read(&self.out));
            if log.contains(wanted) || out.contains(wanted) {
                return Some(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited ({status}) before {wanted:?}:\n{log}\n{out}");
            }
            None
        });
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a photosync command to its end; returns its output, panicking with it on failure or
/// when NATS refused it something.
fn run(args: &[&str], config: &Path) -> String {
    let out = Command::new(photosync_binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("PHOTOSYNC_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("photosync runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "photosync {args:?}: {text}");
    assert_eq!(violations(&text), Vec::<&str>::new(), "photosync {args:?}");
    text
}

/// The permission violations NATS reported to a client, as async-nats logs them.
fn violations(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Permissions Violation"))
        .collect()
}

/// The violations reported to any of the long-running commands, whose logs are in `dir`.
fn violations_in(dir: &Path) -> Vec<String> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        found.extend(violations(&text).into_iter().map(str::to_owned));
    }
    found
}

#[test]
fn every_role_does_its_job_under_exactly_its_permissions_and_a_producer_reads_nothing() {
    let nats = SecureNats::start(Security::Roles);
    let ldap = LdapServer::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    let grace = Person::new("grace", "Grace", "Hopper", Some("77777"));
    ldap.add_people(std::slice::from_ref(&ada));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |role: &str| role_config(dir.path(), &nats, &ldap, role);
    let photo = |seed: u32, name: &str| {
        let path = dir.path().join(name);
        let bytes = jpeg(&photo_like(320, 240, seed), JpegOptions::default());
        std::fs::write(&path, bytes).expect("photo");
        path.display().to_string()
    };

    let mut worker = Running::start(dir.path(), "worker", &["run"], &config("worker"));
    worker.wait_for("photosync is processing");
    let mut watcher = Running::start(dir.path(), "watcher", &["watch"], &config("watcher"));
    watcher.wait_for("First run");
    let reader_config = config("results-reader");
    let mut reader = Running::start(
        dir.path(),
        "results",
        &["results", "--count", "3"],
        &reader_config,
    );
    reader.wait_for("waiting for results");

    // A producer's photo for Ada, and one for Grace, whom the directory does not have yet.
    let producer = config("producer");
    run(&["publish", &photo(1, "12345.jpg")], &producer);
    reader.wait_for("12345.jpg");
    run(&["publish", &photo(2, "77777.jpg")], &producer);
    reader.wait_for("77777.jpg");
    assert_eq!(ldap.read(&ada.dn(), "thumbnailPhoto").values.len(), 1);
    // Grace is added: the watcher sees it, the worker writes the photo waiting for her.
    ldap.add_people(std::slice::from_ref(&grace));
    eventually(Duration::from_secs(30), "Grace's photo", || {
        // A role lacking a permission says so in the server's log: fail with it at once.
        assert_eq!(
            violations_in(dir.path()),
            Vec::<String>::new(),
            "a role lacked one"
        );
        (ldap.read(&grace.dn(), "thumbnailPhoto").values.len() == 1).then_some(())
    });
    // The operators' tools.
    let operator = config("operator");
    assert!(run(&["replay"], &operator).contains("replayed 0"));
    let forgot = run(&["forget", "--entry", &grace.dn()], &operator);
    assert!(
        forgot.contains("photosync-photos: photo 77777.jpg"),
        "{forgot}"
    );
    assert_eq!(
        violations_in(dir.path()),
        Vec::<String>::new(),
        "no role lacked one"
    );

    // The producer's own connection reads nothing that is not its own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let refusals = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reported = refusals.clone();
    rt.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                let reported = reported.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        reported.lock().expect("lock").push(e.to_string());
                    }
                }
            })
            .user_and_password("producer".into(), nats.password().into())
            .custom_inbox_prefix(inbox("producer"))
            .request_timeout(Some(Duration::from_secs(2)))
            .connect(nats.url())
            .await
            .expect("the producer connects");
        let _results = client.subscribe("photosync.result.>").await.expect("sent");
        let _replies = client.subscribe("_INBOX.>").await.expect("sent");
        let js = async_nats::jetstream::new(client.clone());
        let events = js.get_stream(EVENTS_STREAM).await.expect("stream info");
        assert!(events.get_raw_message(1).await.is_err(), "read an event");
        let state = js.get_key_value(STATE_BUCKET).await.expect("bucket info");
        let ada_id =
            String::from_utf8(ldap.read(&ada.dn(), "entryUUID").values[0].clone()).expect("uuid");
        assert!(
            state.get(photosync::state::key(&ada_id)).await.is_err(),
            "read state"
        );
        let photos = js
            .get_object_store(PHOTOS_BUCKET)
            .await
            .expect("bucket info");
        assert!(photos.get("12345.jpg").await.is_err(), "read a photo");
    });
    for refused in [
        "Permissions Violation for Subscription to \"photosync.result.>\"",
        "Permissions Violation for Subscription to \"_INBOX.>\"",
        "Permissions Violation for Publish to \"$JS.API.STREAM.MSG.GET.PHOTOSYNC_EVENTS\"",
        "Permissions Violation for Publish to \"$JS.API.DIRECT.GET.KV_photosync-state",
        "Permissions Violation for Publish to \"$JS.API.STREAM.MSG.GET.OBJ_photosync-photos\"",
    ] {
        eventually(Duration::from_secs(10), refused, || {
            let seen = refusals.lock().expect("lock");
            seen.iter().any(|l| l.contains(refused)).then_some(())
        });
    }
    drop((worker, watcher, reader));
}
