//! A private `nats-server` (JetStream, store in a temporary directory) that asks for transport
//! security or authentication: TLS with a private CA, mutual TLS, an NKey user, a token, or
//! operator mode with a `.creds` user. It hands out what a client needs, as files in its
//! directory, and what a client the server must refuse would have.

mod jwt;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What the server asks of its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS with a certificate from a private CA (`tls://` URL; trust it with the CA file).
    Tls,
    /// TLS with `verify: true`: the client must show a certificate the private CA signed.
    MutualTls,
    /// Plain connections; the one user is an NKey (`authorization { users = [{ nkey: U… }] }`).
    Nkey,
    /// Plain connections with a token (`authorization { token: … }`).
    Token,
    /// Operator mode with a memory resolver: a user JWT and its seed in a `.creds` file.
    Operator,
    /// Plain connections; one user per role of `deploy/nats/roles/`, named after its file
    /// (`worker`, `producer`, …) and limited to it, and `admin` with every permission; all
    /// with the password [`SecureNats::password`].
    Roles,
}

/// What a client connects with; every file lies in the server's directory.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// CA certificates (PEM) to trust for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A `.creds` file: user JWT and NKey seed.
    pub creds: Option<PathBuf>,
    /// A file holding an NKey user seed (`SU…`).
    pub nkey: Option<PathBuf>,
    /// A token, and a file holding it (what a `{ file = … }` secret names).
    pub token: Option<(String, PathBuf)>,
}

impl Credentials {
    /// async-nats options that present these credentials.
    pub async fn connect_options(&self) -> async_nats::ConnectOptions {
        let mut options = async_nats::ConnectOptions::new().name("photosync-tests");
        if let Some(ca) = &self.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.client_cert {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(creds) = &self.creds {
            options = options
                .credentials_file(creds)
                .await
                .expect("the creds file is readable");
        }
        if let Some(seed) = &self.nkey {
            let seed = std::fs::read_to_string(seed).expect("the seed file is readable");
            options = options.nkey(seed.trim().to_owned());
        }
        if let Some((token, _)) = &self.token {
            options = options.token(token.clone());
        }
        options
    }
}

/// A running nats-server with one [`Security`]; killed, with its data, on `Drop`.
#[derive(Debug)]
pub struct SecureNats {
    child: Child,
    port: u16,
    security: Security,
    /// The token it accepts (token mode).
    token: String,
    dir: tempfile::TempDir,
}

impl SecureNats {
    /// Makes the keys, certificates and configuration `security` needs and starts the server on
    /// a free loopback port.
    pub fn start(security: Security) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = random_hex(16);
        let section = prepare(security, dir.path(), &token);
        for _ in 0..5 {
            let port = super::free_port();
            let config = dir.path().join("nats.conf");
            std::fs::write(&config, server_config(port, dir.path(), &section))
                .expect("nats-server configuration");
            let mut child = spawn(&config, &dir.path().join("nats.log"));
            if super::wait_for_port(port, &mut child, "nats-server to listen") {
                return Self {
                    child,
                    port,
                    security,
                    token,
                    dir,
                };
            }
        }
        panic!("nats-server did not start on any of 5 free ports");
    }

    /// The client URL: `tls://` for the TLS modes, `nats://` otherwise.
    pub fn url(&self) -> String {
        let scheme = match self.security {
            Security::Tls | Security::MutualTls => "tls",
            Security::Nkey | Security::Token | Security::Operator | Security::Roles => "nats",
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What a client the server accepts connects with.
    pub fn credentials(&self) -> Credentials {
        let file = |name: &str| self.dir.path().join(name);
        match self.security {
            Security::Tls => Credentials {
                ca_file: Some(file("ca.pem")),
                ..Credentials::default()
            },
            Security::MutualTls => Credentials {
                ca_file: Some(file("ca.pem")),
                client_cert: Some((file("client.pem"), file("client.key"))),
                ..Credentials::default()
            },
            Security::Nkey => Credentials {
                nkey: Some(file("user.nk")),
                ..Credentials::default()
            },
            Security::Token => Credentials {
                token: Some((self.token.clone(), file("token"))),
                ..Credentials::default()
            },
            Security::Operator => Credentials {
                creds: Some(file("user.creds")),
                ..Credentials::default()
            },
            Security::Roles => Credentials::default(),
        }
    }

    /// The password of every user (token and roles modes).
    pub fn password(&self) -> &str {
        &self.token
    }

    /// Credentials of the right kind that the server refuses: a seed of a user it does not
    /// know, another token, the `.creds` of a user whose account its operator never signed.
    /// For the TLS modes, the accepted credentials without the CA file (TLS) or without the
    /// client certificate (mutual TLS).
    pub fn refused_credentials(&self) -> Credentials {
        let dir = self.dir.path();
        match self.security {
            Security::Tls => Credentials::default(),
            Security::MutualTls => Credentials {
                client_cert: None,
                ..self.credentials()
            },
            Security::Nkey => {
                let path = dir.join("stranger.nk");
                let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
                std::fs::write(&path, format!("{seed}\n")).expect("seed file");
                Credentials {
                    nkey: Some(path),
                    ..Credentials::default()
                }
            }
            Security::Token => {
                let token = random_hex(16);
                let path = dir.join("wrong-token");
                std::fs::write(&path, format!("{token}\n")).expect("token file");
                Credentials {
                    token: Some((token, path)),
                    ..Credentials::default()
                }
            }
            Security::Operator => Credentials {
                creds: Some(jwt::stranger_creds(dir)),
                ..Credentials::default()
            },
            Security::Roles => Credentials::default(),
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for SecureNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the files `security` needs into `dir` and returns its part of the server
/// configuration.
fn prepare(security: Security, dir: &Path, token: &str) -> String {
    let d = dir.display();
    match security {
        Security::Tls => {
            super::ldap::make_certificates(dir);
            format!(
                "tls {{\n  cert_file: \"{d}/server.pem\"\n  key_file: \"{d}/server.key\"\n  \
                 timeout: 5\n}}\n"
            )
        }
        Security::MutualTls => {
            super::ldap::make_certificates(dir);
            make_client_certificate(dir);
            format!(
                "tls {{\n  cert_file: \"{d}/server.pem\"\n  key_file: \"{d}/server.key\"\n  \
                 ca_file: \"{d}/ca.pem\"\n  verify: true\n  timeout: 5\n}}\n"
            )
        }
        Security::Nkey => {
            let user = nkeys::KeyPair::new_user();
            let seed = user.seed().expect("a seed");
            std::fs::write(dir.join("user.nk"), format!("{seed}\n")).expect("seed file");
            format!(
                "authorization {{\n  users = [ {{ nkey: \"{}\" }} ]\n}}\n",
                user.public_key()
            )
        }
        Security::Token => {
            std::fs::write(dir.join("token"), format!("{token}\n")).expect("token file");
            format!("authorization {{\n  token: \"{token}\"\n}}\n")
        }
        Security::Operator => jwt::operator_mode(dir),
        Security::Roles => roles(dir, token),
    }
}

/// The roles of `deploy/nats/roles/`, copied into `dir` (nats-server includes only files
/// beside its configuration), each as a user of the same name.
fn roles(dir: &Path, password: &str) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/roles");
    std::fs::create_dir_all(dir.join("roles")).expect("roles dir");
    let mut users = format!("    {{ user: admin, password: \"{password}\" }}\n");
    for role in ROLES {
        std::fs::copy(
            source.join(format!("{role}.conf")),
            dir.join(format!("roles/{role}.conf")),
        )
        .expect("a role of deploy/nats/roles");
        users += &format!(
            "    {{ user: {role}, password: \"{password}\", include \"roles/{role}.conf\" }}\n"
        );
    }
    format!("authorization {{\n  users = [\n{users}  ]\n}}\n")
}

/// The roles `deploy/nats/roles/` has a file for.
pub const ROLES: [&str; 5] = [
    "worker",
    "watcher",
    "producer",
    "results-reader",
    "operator",
];

fn server_config(port: u16, dir: &Path, section: &str) -> String {
    format!(
        "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n}}\n{section}",
        dir.join("jetstream").display()
    )
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("nats-server log");
    Command::new(super::nats::binary())
        .arg("-c")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nats-server starts")
}

/// A client certificate (`client.pem`, `client.key`) signed by the CA that
/// [`super::ldap::make_certificates`] left in `dir`.
fn make_client_certificate(dir: &Path) {
    let run = |args: &[&str]| {
        super::stdout_of(Command::new("openssl").args(args).current_dir(dir));
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=photosync",
    ]);
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext file");
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
        "-extfile",
        "client.ext",
    ]);
}

/// `bytes` random bytes from the kernel, as lower-case hex.
fn random_hex(bytes: usize) -> String {
    use std::io::Read as _;
    let mut buf = vec![0; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
