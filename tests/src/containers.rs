//! Containers for the tests, with podman: whether podman can run containers here at all,
//! photosync's image built once per test process by `scripts/image` (from the release binary
//! the tests use), containers run with `--pull=never`, and everything a test made removed on
//! `Drop`, even when the test panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::servers::LdapServer;
use crate::stack::ldap_sections;
use crate::wait::eventually;

/// The image the tests build and run (`PHOTOSYNC_IMAGE` for `scripts/image`), so that a
/// developer's `photosync:local` is left alone.
pub const IMAGE: &str = "localhost/photosync:test";

/// Every container the tests run carries this label, valued with the test process's id.
const LABEL: &str = "photosync-tests";

/// Where a worker container finds its configuration and LDAP password.
const CONFIG_IN_CONTAINER: &str = "/etc/photosync/photosync.toml";
const PASSWORD_IN_CONTAINER: &str = "/run/secrets/ldap-password";

/// Runs `podman ARGS` to its end.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("podman {args:?} cannot be started: {e}"))
}

/// Runs `podman ARGS` and returns its standard output; panics with its error output when it
/// fails.
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Why podman cannot run containers on this machine, or `None` when it can: `podman info`
/// answers and a throwaway container (a root file system holding only `/bin/true` and its
/// libraries: no image, no registry, no network) runs. Checked once per process.
pub fn unavailable() -> Option<&'static str> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON.get_or_init(check_podman).as_deref()
}

fn check_podman() -> Option<String> {
    let info = match Command::new("podman")
        .args(["info", "--format", "{{.Host.OCIRuntime.Name}}"])
        .output()
    {
        Err(e) => {
            return Some(format!(
                "podman is not installed ({e}); deploy/container/podman-setup installs it"
            ));
        }
        Ok(out) if !out.status.success() => {
            return Some(format!(
                "podman info failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out) => out,
    };
    let rootfs = tempfile::tempdir().expect("tempdir");
    let ldd = crate::servers::stdout_of(Command::new("ldd").arg("/bin/true"));
    let libraries = ldd.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "=>", path, ..] if path.starts_with('/') => Some((*path).to_owned()),
            [path, ..] if path.starts_with('/') => Some((*path).to_owned()),
            _ => None,
        }
    });
    for file in std::iter::once("/bin/true".to_owned()).chain(libraries) {
        let target = rootfs.path().join(file.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("rootfs directory");
        std::fs::copy(&file, &target).expect("copy into the rootfs");
    }
    let rootfs_arg = rootfs.path().to_str().expect("UTF-8 path").to_owned();
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--rootfs",
        &rootfs_arg,
        "/bin/true",
    ]);
    if !out.status.success() {
        return Some(format!(
            "podman ({} runtime) cannot run a container: {}",
            String::from_utf8_lossy(&info.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    None
}

/// For the start of a container test: `false`, after printing `skipped: podman cannot run
/// here: <reason>`, when podman cannot run containers on this machine (the one reason a
/// container test may skip).
pub fn podman_runs() -> bool {
    match unavailable() {
        None => true,
        Some(reason) => {
            println!("skipped: podman cannot run here: {reason}");
            false
        }
    }
}

/// photosync's image, built once per test process by `scripts/image photosync` from
/// `target/release/photosync` (which must exist: the script would otherwise run cargo). Panics
/// with the script's output when the build fails. Containers left by an earlier test process
/// that died without cleaning up are removed first.
pub fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        remove_leftovers();
        let root = crate::repo_root();
        let binary = root.join("target/release/photosync");
        assert!(
            binary.is_file(),
            "{} is missing: build it first (cargo build --release -p photosync, as scripts/test does)",
            binary.display()
        );
        // One build at a time across processes: scripts/image rebuilds target/image/photosync.
        let started = Instant::now();
        let out = Command::new("flock")
            .arg(root.join("target/image.lock"))
            .arg(root.join("scripts/image"))
            .arg("photosync")
            .current_dir(&root)
            .env("PHOTOSYNC_IMAGE", IMAGE)
            .env("CONTAINER_ENGINE", "podman")
            .output()
            .expect("scripts/image starts");
        assert!(
            out.status.success(),
            "scripts/image photosync failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "containers: built {IMAGE} with scripts/image in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    });
    IMAGE
}

/// Removes containers whose test process is gone (killed before its `Drop`s ran).
fn remove_leftovers() {
    let filter = format!("label={LABEL}");
    let format = format!("{{{{.Names}}}} {{{{index .Labels \"{LABEL}\"}}}}");
    let listed = podman(&["ps", "-a", "--filter", &filter, "--format", &format]);
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        if let Some((name, pid)) = line.split_once(' ')
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = podman(&["rm", "-f", "-t", "0", name]);
        }
    }
}

/// A name no other container of this process has: `pst-PID-N-hint`.
pub fn unique_name(hint: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "pst-{}-{}-{hint}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container; removed (`podman rm -f`) on `Drop`.
#[derive(Debug)]
pub struct Container {
    name: String,
}

/// How a container stopped.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    /// Its exit code.
    pub code: i64,
    /// How long `podman stop` took.
    pub took: Duration,
}

impl Container {
    /// `podman run -d --pull=never --name NAME --label … OPTIONS IMAGE ARGS`; panics when podman
    /// cannot start it.
    pub fn run(hint: &str, options: &[&str], image: &str, args: &[&str]) -> Self {
        let container = Self {
            name: unique_name(hint),
        };
        let label = format!("{LABEL}={}", std::process::id());
        let mut all = vec![
            "run",
            "-d",
            "--pull=never",
            "--name",
            &container.name,
            "--label",
            &label,
        ];
        all.extend_from_slice(options);
        all.push(image);
        all.extend_from_slice(args);
        podman_ok(&all);
        container
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `podman kill`: SIGKILL, no chance to finish anything.
    pub fn kill(&self) {
        podman_ok(&["kill", &self.name]);
        self.wait_exited(Duration::from_secs(30));
    }

    /// `podman stop -t GRACE`: SIGTERM, SIGKILL after `grace`; its exit code and how long it took.
    pub fn stop(&self, grace: Duration) -> Stopped {
        let started = Instant::now();
        podman_ok(&["stop", "-t", &grace.as_secs().to_string(), &self.name]);
        let took = started.elapsed();
        let code = self.wait_exited(Duration::from_secs(30));
        Stopped { code, took }
    }

    /// Waits until the container is no longer running and returns its exit code.
    pub fn wait_exited(&self, deadline: Duration) -> i64 {
        eventually(deadline, &format!("{} to exit", self.name), || {
            let (running, code) = self.state()?;
            (!running).then_some(code)
        })
    }

    /// Whether it runs, and its exit code (meaningful once it has exited).
    pub fn state(&self) -> Option<(bool, i64)> {
        let out = self.inspect("{{.State.Running}} {{.State.ExitCode}}")?;
        let (running, code) = out.trim().split_once(' ')?;
        Some((running == "true", code.parse().ok()?))
    }

    /// `podman inspect --format FORMAT`, or `None` when podman does not know the container.
    pub fn inspect(&self, format: &str) -> Option<String> {
        let out = podman(&[
            "inspect",
            "--type",
            "container",
            "--format",
            format,
            &self.name,
        ]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The host's process id of its first process, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.inspect("{{.State.Pid}}")?
            .trim()
            .parse()
            .ok()
            .filter(|pid| *pid != 0)
    }

    /// What it wrote to standard output and standard error (`podman logs`).
    pub fn logs(&self) -> String {
        let out = podman(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `podman exec NAME ARGS`.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend_from_slice(args);
        podman(&all)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", "--ignore", &self.name]);
    }
}

/// Each line of `text` as JSON; the error names the first line that is not.
pub fn json_lines(text: &str) -> Result<Vec<serde_json::Value>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("not a JSON line ({e}): {l}")))
        .collect()
}

/// What a worker container runs with: the `[nats]` servers and replicas, the test directory
/// (bound as its service account) and extra `[worker]` keys. Its HTTP endpoints are added on a
/// free loopback port.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub nats: Vec<String>,
    pub replicas: usize,
    pub ldap_url: String,
    pub bind_dn: String,
    pub password: String,
    /// Extra `[worker]` keys, one per line.
    pub worker: String,
}

impl WorkerConfig {
    /// Against `nats` (one server or a cluster's), with `replicas`, and `ldap`.
    pub fn new(nats: &[String], replicas: usize, ldap: &LdapServer, worker: &str) -> Self {
        let (dn, password) = ldap.service_account();
        Self {
            nats: nats.to_vec(),
            replicas,
            ldap_url: ldap.url(),
            bind_dn: dn.into(),
            password: password.into(),
            worker: worker.into(),
        }
    }

    /// The configuration file, serving HTTP on `http` and reading the password from
    /// `password_file` (a path inside the container).
    pub fn toml(&self, http: &str, password_file: &str) -> String {
        let urls: Vec<String> = self.nats.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[nats]\nurls = [{}]\nreplicas = {}\n\n{}\n[worker]\nhttp = \"{http}\"\n{}\n",
            urls.join(", "),
            self.replicas,
            ldap_sections(
                &self.ldap_url,
                &self.bind_dn,
                &format!("{{ file = \"{password_file}\" }}")
            ),
            self.worker
        )
    }
}

/// A photosync worker container (`photosync run`, the image's default command) on the host's
/// network, so that it reaches the test servers on 127.0.0.1, with a read-only root file
/// system; its configuration and password are mounted read-only from a folder of its own, and
/// its `/healthz`, `/readyz` and `/metrics` are on a free loopback port.
#[derive(Debug)]
pub struct Worker {
    container: Container,
    http_port: u16,
    _files: tempfile::TempDir,
}

impl Worker {
    /// Runs a worker and returns at once (it may still be starting).
    pub fn launch(hint: &str, config: &WorkerConfig) -> Self {
        let files = tempfile::tempdir().expect("tempdir");
        let http_port = crate::servers::free_port();
        let config_file = files.path().join("photosync.toml");
        let password_file = files.path().join("ldap-password");
        std::fs::write(
            &config_file,
            config.toml(&format!("127.0.0.1:{http_port}"), PASSWORD_IN_CONTAINER),
        )
        .expect("worker configuration");
        std::fs::write(&password_file, format!("{}\n", config.password)).expect("password file");
        let config_mount = format!("{}:{CONFIG_IN_CONTAINER}:ro", config_file.display());
        let password_mount = format!("{}:{PASSWORD_IN_CONTAINER}:ro", password_file.display());
        let container = Container::run(
            hint,
            &[
                "--network",
                "host",
                "--read-only",
                "--no-healthcheck",
                "-v",
                &config_mount,
                "-v",
                &password_mount,
            ],
            image(),
            &[],
        );
        Self {
            container,
            http_port,
            _files: files,
        }
    }

    /// Runs a worker and waits until it processes events.
    pub fn start(hint: &str, config: &WorkerConfig) -> Self {
        let worker = Self::launch(hint, config);
        worker.wait_until_processing();
        worker
    }

    /// Waits until its log says it processes events; panics with the log when it exits first.
    pub fn wait_until_processing(&self) {
        eventually(
            Duration::from_secs(60),
            &format!("worker {} to start", self.container.name),
            || {
                let logs = self.container.logs();
                if logs.contains("photosync is processing") {
                    return Some(());
                }
                if let Some((false, code)) = self.container.state() {
                    panic!("worker {} exited ({code}): {logs}", self.container.name);
                }
                None
            },
        );
    }

    /// The container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// The loopback port of its HTTP endpoints.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// Whether the image's own health check, `photosync healthcheck` run inside the
    /// container, finds `/readyz` answering 200.
    pub fn ready(&self) -> bool {
        let url = format!("http://127.0.0.1:{}/readyz", self.http_port);
        self.container
            .exec(&["/usr/local/bin/photosync", "healthcheck", "--url", &url])
            .status
            .success()
    }

    /// Its log as JSON lines; panics on a line that is not JSON.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        json_lines(&self.container.logs())
            .unwrap_or_else(|e| panic!("worker {}: {e}", self.container.name))
    }

    /// How many events it finished (log lines with an outcome), for any delivery.
    pub fn processed(&self) -> usize {
        self.log_lines()
            .iter()
            .filter(|l| l["fields"]["outcome"].is_string())
            .count()
    }
}

/// What `podman kube play` made from a file, taken down on `Drop`: `podman kube down`, then the
/// pods, the volumes (kube play makes one per ConfigMap and Secret) and the podman secrets
/// named here, in case the file could not be read back.
#[derive(Debug)]
pub struct KubePlay {
    file: PathBuf,
    pods: Vec<String>,
    volumes: Vec<String>,
    secrets: Vec<String>,
}

impl KubePlay {
    /// Plays `file` after making each of `secrets` (name, Secret manifest) a podman secret;
    /// `pods` and `volumes` are what it makes, removed on `Drop`.
    pub fn play(file: &Path, secrets: &[(&str, &str)], pods: &[&str], volumes: &[&str]) -> Self {
        let played = Self {
            file: file.to_path_buf(),
            pods: pods.iter().map(|p| (*p).to_owned()).collect(),
            volumes: volumes.iter().map(|v| (*v).to_owned()).collect(),
            secrets: secrets.iter().map(|(n, _)| (*n).to_owned()).collect(),
        };
        for (name, manifest) in secrets {
            let path = file.with_extension(format!("{name}.secret.yaml"));
            std::fs::write(&path, manifest).expect("secret manifest");
            podman_ok(&["secret", "create", name, path.to_str().expect("UTF-8 path")]);
        }
        podman_ok(&["kube", "play", file.to_str().expect("UTF-8 path")]);
        played
    }
}

impl Drop for KubePlay {
    fn drop(&mut self) {
        let _ = podman(&["kube", "down", self.file.to_str().unwrap_or_default()]);
        for pod in &self.pods {
            let _ = podman(&["pod", "rm", "-f", "-t", "0", "--ignore", pod]);
        }
        for volume in &self.volumes {
            let _ = podman(&["volume", "rm", "-f", volume]);
        }
        for secret in &self.secrets {
            let _ = podman(&["secret", "rm", secret]);
        }
    }
}
