//! A Samba Active Directory domain controller for integration tests.
//!
//! Samba's LDAP ports are fixed (389 and 636), so each DC runs in a network namespace of its own
//! (`unshare --net`), where nothing else listens; a [`Bridge`] forwards a free port on this
//! machine's 127.0.0.1 to the DC's 127.0.0.1:636 inside it. Administration (adding users, reading
//! values back) goes through the DC's privileged `ldapi` socket in its private directory.
//!
//! Provisioning a domain (`samba-tool domain provision`) happens once per test process, into a
//! template; each DC copies the template, so every test gets a fresh domain with its own ids.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::wait::eventually;

/// The domain's DNS name and realm.
pub const AD_REALM: &str = "example.test";
/// The domain's base DN.
pub const AD_BASE_DN: &str = "DC=example,DC=test";
/// Where test users live; the service account may write their photos.
pub const AD_STAFF_DN: &str = "OU=Staff,DC=example,DC=test";
/// The name on the DC's certificate (Samba makes its own at first start).
pub const AD_DC_NAME: &str = "DC1.example.test";
const ADMIN_PASSWORD: &str = "Adm1n-Pass!word";
/// The delegated service account: reads, and writes thumbnailPhoto under OU=Staff only.
const SERVICE_USER: &str = "svc-photo";
const SERVICE_PASSWORD: &str = "Svc-Ph0to!pass";
/// thumbnailPhoto's and the user class's schemaIDGUIDs, for the delegation's ACE.
const THUMBNAIL_PHOTO_GUID: &str = "8d3bca50-1d7e-11d0-a081-00aa006c33ed";
const USER_CLASS_GUID: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";

/// A user to create under [`AD_STAFF_DN`].
#[derive(Debug, Clone)]
pub struct AdUser {
    pub sam_account_name: String,
    pub employee_id: Option<String>,
}

impl AdUser {
    pub fn new(sam_account_name: &str, employee_id: Option<&str>) -> Self {
        Self {
            sam_account_name: sam_account_name.into(),
            employee_id: employee_id.map(Into::into),
        }
    }

    /// The user's DN.
    pub fn dn(&self) -> String {
        format!("CN={},{AD_STAFF_DN}", self.sam_account_name)
    }
}

/// A running Samba AD DC in its own network namespace.
#[derive(Debug)]
pub struct SambaDc {
    child: Option<Child>,
    /// To the DC's LDAPS (636) and LDAP (389) ports.
    bridges: Vec<Bridge>,
    dir: tempfile::TempDir,
}

impl SambaDc {
    /// Copies the provisioned template, starts `samba` in a new network namespace and waits
    /// until it answers LDAP on its socket and LDAPS through the bridge.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// [`Self::start`] with `global` (smb.conf lines) added to the DC's `[global]` section.
    pub fn start_with(global: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_template(template(), &dir.path().join("dc"));
        if !global.is_empty() {
            let conf = dir.path().join("dc/etc/smb.conf");
            let text = std::fs::read_to_string(&conf).expect("smb.conf");
            let text = text.replacen("[global]\n", &format!("[global]\n{global}\n"), 1);
            std::fs::write(&conf, text).expect("smb.conf written");
        }
        let mut dc = Self {
            child: None,
            bridges: vec![],
            dir,
        };
        let log = std::fs::File::create(dc.dir.path().join("samba.log")).expect("log");
        let conf = dc.conf();
        let child = Command::new("unshare")
            .args(["--net", "sh", "-c"])
            .arg("ip link set lo up && exec samba -i -M single --debug-stdout -s \"$0\"")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("samba starts (scripts/install-deps installs it): {e}"));
        let pid = child.id();
        dc.child = Some(child);
        eventually(Duration::from_secs(60), "samba to answer on ldapi", || {
            dc.check_running();
            dc.admin("ldapsearch")
                .args(["-s", "base", "-b", "", "(objectClass=*)", "dsServiceName"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .filter(|s| s.success())
        });
        dc.bridges = vec![
            Bridge::start(pid, 636),
            Bridge::start(pid, 389),
            Bridge::start(pid, 88),
        ];
        let port = dc.bridges[0].port;
        eventually(Duration::from_secs(30), "LDAPS through the bridge", || {
            // The bridge closes at once when nothing listens inside; a silent open connection
            // means the DC's LDAPS port took it.
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_millis(300))).ok()?;
            let mut b = [0u8; 1];
            match s.read(&mut b) {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    Some(())
                }
                _ => None,
            }
        });
        dc
    }

    fn check_running(&mut self) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
            let log =
                std::fs::read_to_string(self.dir.path().join("samba.log")).unwrap_or_default();
            panic!("samba exited ({status}): {log}");
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dc/etc/smb.conf")
    }

    /// `ldaps://127.0.0.1:PORT`, the bridge to the DC's LDAPS port.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.bridges[0].port)
    }

    /// `ldap://127.0.0.1:PORT`, the bridge to the DC's plain LDAP port (StartTLS).
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.bridges[1].port)
    }

    /// A krb5.conf in the test's directory for the domain's realm, whose KDC is this DC's
    /// (over TCP, through its bridge), with no DNS lookups; give it to Kerberos clients as
    /// `KRB5_CONFIG`.
    pub fn krb5_conf(&self) -> PathBuf {
        let path = self.dir.path().join("krb5.conf");
        let realm = AD_REALM.to_ascii_uppercase();
        std::fs::write(
            &path,
            format!(
                "[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n \
                 dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n \
                 udp_preference_limit = 1\n\n[realms]\n {realm} = {{\n  kdc = 127.0.0.1:{port}\n \
                 }}\n\n[domain_realm]\n .{AD_REALM} = {realm}\n {AD_REALM} = {realm}\n",
                port = self.bridges[2].port
            ),
        )
        .expect("krb5.conf");
        path
    }

    /// Exports the service account's keys into a keytab file at `to` (what an administrator
    /// does with `samba-tool domain exportkeytab`), and returns its principal.
    pub fn export_service_keytab(&self, to: &Path) -> String {
        let principal = format!("{SERVICE_USER}@{}", AD_REALM.to_ascii_uppercase());
        super::stdout_of(
            Command::new("samba-tool")
                .args(["domain", "exportkeytab"])
                .arg(to)
                .arg(format!("--principal={principal}"))
                .arg("-s")
                .arg(self.conf()),
        );
        principal
    }

    /// The PEM file of the CA Samba made for its own certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("dc/private/tls/ca.pem")
    }

    /// The service account's user principal name and password.
    pub fn service_account(&self) -> (String, &'static str) {
        (format!("{SERVICE_USER}@{AD_REALM}"), SERVICE_PASSWORD)
    }

    /// The domain administrator's user principal name and password.
    pub fn admin_account(&self) -> (String, &'static str) {
        (format!("Administrator@{AD_REALM}"), ADMIN_PASSWORD)
    }

    /// The service account's DN (the other bind name form).
    pub fn service_dn(&self) -> String {
        format!("CN={SERVICE_USER},CN=Users,{AD_BASE_DN}")
    }

    /// Creates users under OU=Staff (as the administrator, in one ldapadd).
    pub fn add_users(&self, users: &[AdUser]) {
        let mut ldif = String::new();
        for u in users {
            let _ = write!(
                ldif,
                "dn: {}\nobjectClass: user\nsAMAccountName: {}\nuserPrincipalName: {}@{AD_REALM}\n",
                u.dn(),
                u.sam_account_name,
                u.sam_account_name
            );
            if let Some(id) = &u.employee_id {
                let _ = writeln!(ldif, "employeeID: {id}");
            }
            ldif.push('\n');
        }
        self.admin_tool("ldapadd", &ldif);
    }

    /// Deletes the entry at `dn` as the administrator.
    pub fn delete(&self, dn: &str) {
        self.admin_tool("ldapdelete", &format!("{dn}\n"));
    }

    /// Replaces `dn`'s thumbnailPhoto as the administrator (someone other than photosync).
    pub fn replace_photo(&self, dn: &str, photo: &[u8]) {
        let file = self.dir.path().join("photo.bin");
        std::fs::write(&file, photo).expect("photo file");
        self.modify_ldif(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:< file://{}\n",
            file.display()
        ));
    }

    /// Runs `ldapmodify` as the administrator.
    pub fn modify_ldif(&self, ldif: &str) {
        self.admin_tool("ldapmodify", ldif);
    }

    /// The values of `attribute` on `dn`, read as the administrator.
    pub fn read(&self, dn: &str, attribute: &str) -> Vec<Vec<u8>> {
        let out = super::stdout_of(
            self.admin("ldapsearch")
                .args(["-LLL", "-o", "ldif-wrap=no", "-s", "base", "-b", dn])
                .args(["(objectClass=*)", attribute]),
        );
        super::ldap::parse_entry(&out, attribute).values
    }

    /// The user's objectGUID in its standard string form, as Samba's own tools print it.
    pub fn object_guid(&self, user: &AdUser) -> String {
        let socket = self.dir.path().join("dc/private/ldap_priv/ldapi");
        let out = super::stdout_of(
            Command::new("samba-tool")
                .args([
                    "user",
                    "show",
                    &user.sam_account_name,
                    "--attributes=objectGUID",
                ])
                .args(["-H", &super::ldapi_url(&socket)]),
        );
        out.lines()
            .find_map(|l| l.strip_prefix("objectGUID: ").map(str::to_owned))
            .unwrap_or_else(|| panic!("no objectGUID in: {out}"))
    }

    /// An ldap-utils command bound as the administrator on the privileged socket.
    fn admin(&self, tool: &str) -> Command {
        let socket = self.dir.path().join("dc/private/ldap_priv/ldapi");
        let mut cmd = Command::new(tool);
        cmd.args(["-x", "-H", &super::ldapi_url(&socket)]).args([
            "-D",
            &format!("Administrator@{AD_REALM}"),
            "-w",
            ADMIN_PASSWORD,
        ]);
        cmd
    }

    fn admin_tool(&self, tool: &str, ldif: &str) {
        super::run_with_input(self.admin(tool), tool, ldif);
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.bridges.clear();
        if let Some(mut child) = self.child.take() {
            // The whole process group: samba forks helpers even in the single process model.
            let pgid = child.id() as i32;
            // SAFETY: kill(2) with a negative pid signals a process group we created.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// The provisioned domain every DC of this process copies, made on first use.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            provision(&dir.path().join("dc"));
            dir
        })
        .path()
}

/// `samba-tool domain provision` into `target`, then OU=Staff, the service account and its
/// delegation, made offline on the new database.
fn provision(target: &Path) {
    let target_s = target.to_str().expect("UTF-8 path");
    super::stdout_of(Command::new("samba-tool").args([
        "domain",
        "provision",
        &format!("--targetdir={target_s}"),
        "--realm=EXAMPLE.TEST",
        "--domain=EXAMPLE",
        "--server-role=dc",
        "--dns-backend=NONE",
        "--host-name=dc1",
        &format!("--adminpass={ADMIN_PASSWORD}"),
        "--option=interfaces=lo",
        "--option=bind interfaces only=yes",
        // The KDC for the tests of Kerberos binds.
        "--option=server services=ldap kdc",
        // Nothing shared with a Samba the machine may run: every path in the test's directory.
        &format!("--option=log file={target_s}/log.%m"),
        &format!("--option=pid directory={target_s}/run"),
        &format!("--option=ncalrpc dir={target_s}/run/ncalrpc"),
        &format!("--option=winbindd socket directory={target_s}/run/winbindd"),
    ]));
    let conf = format!("{target_s}/etc/smb.conf");
    let db = format!("{target_s}/private/sam.ldb");
    let tool = |args: &[&str]| {
        super::stdout_of(
            Command::new("samba-tool")
                .args(args)
                .args(["-H", &db, "-s", &conf]),
        )
    };
    // The DC's LDAP service principal, which samba_spnupdate would add were it running.
    tool(&[
        "spn",
        "add",
        &format!("ldap/{}", AD_DC_NAME.to_ascii_lowercase()),
        "DC1$",
    ]);
    tool(&["ou", "add", AD_STAFF_DN]);
    tool(&["user", "create", SERVICE_USER, SERVICE_PASSWORD]);
    let sid = tool(&["user", "show", SERVICE_USER, "--attributes=objectSid"])
        .lines()
        .find_map(|l| l.strip_prefix("objectSid: ").map(str::to_owned))
        .expect("the service account's SID");
    // What "Delegate Control… → Write thumbnailPhoto on User objects" sets on the OU.
    tool(&[
        "dsacl",
        "set",
        &format!("--objectdn={AD_STAFF_DN}"),
        &format!("--sddl=(OA;CIIO;WP;{THUMBNAIL_PHOTO_GUID};{USER_CLASS_GUID};{sid})"),
    ]);
}

/// Copies the template's `dc` directory to `to`, pointing its smb.conf at the copy.
fn copy_template(template: &Path, to: &Path) {
    super::stdout_of(
        Command::new("cp")
            .arg("-a")
            .arg(template.join("dc"))
            .arg(to),
    );
    let conf = to.join("etc/smb.conf");
    let text = std::fs::read_to_string(&conf).expect("smb.conf");
    let from = template.join("dc");
    let text = text.replace(
        from.to_str().expect("UTF-8 path"),
        to.to_str().expect("UTF-8 path"),
    );
    std::fs::write(&conf, text).expect("smb.conf written");
}

/// Forwards connections to a free port on this machine's loopback to a port on the loopback of
/// another process's network namespace. Its thread enters that namespace (setns affects only the
/// calling thread), so the sockets it connects live there while its listener lives here.
#[derive(Debug)]
struct Bridge {
    port: u16,
    stop: std::sync::Arc<AtomicBool>,
}

impl Bridge {
    fn start(pid: u32, target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bridge listener");
        let port = listener.local_addr().expect("addr").port();
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).expect("the DC's namespace");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd as _;
            // SAFETY: setns on a namespace fd we opened; it changes only this thread.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Self { port, stop }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies bytes from `from` to `to` on a thread until `from` ends, then ends `to`'s writing.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
