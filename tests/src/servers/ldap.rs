//! A private OpenLDAP `slapd`: an mdb database in a temporary directory, the core, cosine and
//! inetorgperson schemas plus a small AD-like schema (employeeID, sAMAccountName,
//! thumbnailPhoto), an admin account and a `photosync` service account allowed to write photos,
//! and the syncprov overlay (RFC 4533 content synchronisation, with a session log) for the
//! directory watcher.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};

/// The directory's suffix.
pub const BASE_DN: &str = "dc=example,dc=test";
/// Where people live.
pub const PEOPLE_DN: &str = "ou=People,dc=example,dc=test";
/// The administrator, who may do anything.
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
const ADMIN_PASSWORD: &str = "admin-secret";
/// The service account photosync binds as.
pub const SERVICE_DN: &str = "cn=photosync,ou=Services,dc=example,dc=test";
const SERVICE_PASSWORD: &str = "photosync-secret";
/// An account that may read but not write photos.
pub const READER_DN: &str = "cn=reader,ou=Services,dc=example,dc=test";
const READER_PASSWORD: &str = "reader-secret";

const AD_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.7000.102.50765 NAME 'thumbnailPhoto'
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.1.1 NAME 'photosyncADUser' AUXILIARY
  MAY ( employeeID $ sAMAccountName $ thumbnailPhoto ) )
";

/// A person to create.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub uid: String,
    pub given_name: String,
    pub sn: String,
    pub employee_id: Option<String>,
}

impl Person {
    /// A person with a uid, names and an employee ID.
    pub fn new(uid: &str, given_name: &str, sn: &str, employee_id: Option<&str>) -> Self {
        Self {
            uid: uid.into(),
            given_name: given_name.into(),
            sn: sn.into(),
            employee_id: employee_id.map(Into::into),
        }
    }

    /// `count` people `p0`, `p1`, … (Pat Person0, …) with employeeIDs from 100000 up.
    pub fn numbered(count: usize) -> Vec<Self> {
        (0..count)
            .map(|i| {
                Self::new(
                    &format!("p{i}"),
                    "Pat",
                    &format!("Person{i}"),
                    Some(&format!("{}", 100_000 + i)),
                )
            })
            .collect()
    }

    /// The person's DN.
    pub fn dn(&self) -> String {
        format!("uid={},{PEOPLE_DN}", self.uid)
    }
}

/// A running slapd.
#[derive(Debug)]
pub struct LdapServer {
    child: Option<Child>,
    port: u16,
    /// The LDAPS port, when started with TLS.
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl LdapServer {
    /// Starts slapd on a free loopback port with the base entries loaded.
    pub fn start() -> Self {
        Self::start_inner(false)
    }

    /// Starts slapd with a certificate from a private CA (see [`ca_file`](Self::ca_file)),
    /// serving StartTLS on the plain port and LDAPS on [`ldaps_url`](Self::ldaps_url).
    pub fn start_tls() -> Self {
        Self::start_inner(true)
    }

    fn start_inner(tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("ad.schema"), AD_SCHEMA).expect("schema");
        let mut conf = config(dir.path());
        if tls {
            make_certificates(dir.path());
            let d = dir.path().display();
            conf = format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n{conf}"
            );
        }
        std::fs::write(dir.path().join("slapd.conf"), conf).expect("config");
        let tls_port = tls.then(super::free_port);
        let mut server = Self {
            child: None,
            port: super::free_port(),
            tls_port,
            dir,
        };
        let mut attempts = 1;
        while !server.start_process() {
            assert!(attempts < 5, "slapd did not start on any of 5 free ports");
            attempts += 1;
            server.port = super::free_port();
            server.tls_port = tls.then(super::free_port);
        }
        server.add_ldif(&base_ldif());
        server
    }

    /// The PEM file of the CA that signed the server's certificate (TLS servers only).
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The LDAPS URL (TLS servers only).
    pub fn ldaps_url(&self) -> String {
        format!(
            "ldaps://127.0.0.1:{}",
            self.tls_port.expect("started with start_tls")
        )
    }

    /// Starts slapd on its ports; false when it exits instead (a port taken meanwhile).
    fn start_process(&mut self) -> bool {
        let bin = super::find_binary(&["/usr/sbin/slapd"]);
        let mut urls = format!("ldap://127.0.0.1:{}/ {}", self.port, self.ldapi_url());
        if let Some(tls) = self.tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{tls}/"));
        }
        let child = Command::new(bin)
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .args(["-h", &urls, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd starts");
        let child = self.child.insert(child);
        super::wait_for_port(self.port, child, "slapd to listen")
    }

    /// slapd's process id while it runs (the benchmarks read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops slapd (the data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts slapd again after [`stop`](Self::stop).
    pub fn resume(&mut self) {
        assert!(
            self.start_process(),
            "slapd did not start again on port {}",
            self.port
        );
    }

    /// The URL of the server's Unix domain socket in its temporary directory.
    pub fn ldapi_url(&self) -> String {
        super::ldapi_url(&self.dir.path().join("ldapi"))
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// Bind DN and password of the service account that may write photos.
    pub fn service_account(&self) -> (&'static str, &'static str) {
        (SERVICE_DN, SERVICE_PASSWORD)
    }

    /// Bind DN and password of the administrator.
    pub fn admin_account(&self) -> (&'static str, &'static str) {
        (ADMIN_DN, ADMIN_PASSWORD)
    }

    /// Bind DN and password of an account that may read but not write photos.
    pub fn reader_account(&self) -> (&'static str, &'static str) {
        (READER_DN, READER_PASSWORD)
    }

    /// Adds people under `ou=People`.
    pub fn add_people(&self, people: &[Person]) {
        let mut ldif = String::new();
        for p in people {
            let _ = write!(
                ldif,
                "dn: {}\nobjectClass: inetOrgPerson\nobjectClass: photosyncADUser\nuid: {}\ncn: {} {}\ngivenName: {}\nsn: {}\n",
                p.dn(),
                p.uid,
                p.given_name,
                p.sn,
                p.given_name,
                p.sn
            );
            if let Some(id) = &p.employee_id {
                let _ = writeln!(ldif, "employeeID: {id}");
            }
            ldif.push('\n');
        }
        self.add_ldif(&ldif);
    }

    /// Runs `ldapadd` as the administrator.
    pub fn add_ldif(&self, ldif: &str) {
        self.admin_tool("ldapadd", ldif);
    }

    /// Runs `ldapmodify` as the administrator.
    pub fn modify_ldif(&self, ldif: &str) {
        self.admin_tool("ldapmodify", ldif);
    }

    /// An ldap-utils command bound to this server as the administrator.
    fn as_admin(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.args([
            "-x",
            "-H",
            &self.url(),
            "-D",
            ADMIN_DN,
            "-w",
            ADMIN_PASSWORD,
        ]);
        cmd
    }

    fn admin_tool(&self, tool: &str, ldif: &str) {
        super::run_with_input(self.as_admin(tool), tool, ldif);
    }

    /// Reads one attribute of one entry as the administrator: its values and, for checking that
    /// nothing was written, the entry's modifyTimestamp and entryCSN.
    pub fn read(&self, dn: &str, attribute: &str) -> Entry {
        let out = super::stdout_of(
            self.as_admin("ldapsearch")
                .args(["-LLL", "-o", "ldif-wrap=no"])
                .args([
                    "-s",
                    "base",
                    "-b",
                    dn,
                    "(objectClass=*)",
                    attribute,
                    "modifyTimestamp",
                    "entryCSN",
                ]),
        );
        parse_entry(&out, attribute)
    }
}

/// What [`LdapServer::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub values: Vec<Vec<u8>>,
    pub modify_timestamp: String,
    pub entry_csn: String,
}

pub(super) fn parse_entry(ldif: &str, attribute: &str) -> Entry {
    use base64::Engine as _;
    let mut entry = Entry {
        values: vec![],
        modify_timestamp: String::new(),
        entry_csn: String::new(),
    };
    for line in ldif.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = match value.strip_prefix(':') {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .expect("base64 value"),
            None => value.trim_start().as_bytes().to_vec(),
        };
        if name.eq_ignore_ascii_case(attribute) {
            entry.values.push(value);
        } else if name == "modifyTimestamp" {
            entry.modify_timestamp = String::from_utf8_lossy(&value).into_owned();
        } else if name == "entryCSN" {
            entry.entry_csn = String::from_utf8_lossy(&value).into_owned();
        }
    }
    entry
}

impl Drop for LdapServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private CA and a server certificate for 127.0.0.1, made with the openssl command.
pub(super) fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        super::stdout_of(Command::new("openssl").args(args).current_dir(dir));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=photosync test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext file");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

fn config(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited
database mdb
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {d}/data
maxsize 1073741824
index objectClass eq
index employeeID,sAMAccountName,uid,givenName,sn eq
index entryCSN,entryUUID eq
access to attrs=thumbnailPhoto,jpegPhoto
  by dn.exact=\"{SERVICE_DN}\" write
  by * read
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to * by * read
overlay syncprov
syncprov-checkpoint 100 1
syncprov-sessionlog 10000
"
    )
}

fn base_ldif() -> String {
    format!(
        "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: ou=Services,{BASE_DN}\nobjectClass: organizationalUnit\nou: Services\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: photosync\nuserPassword: {SERVICE_PASSWORD}\n\n\
         dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: {READER_PASSWORD}\n"
    )
}
