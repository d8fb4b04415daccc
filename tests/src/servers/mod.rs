//! Real servers for integration tests: each starts on a free loopback port in a temporary
//! directory, is ready when its constructor returns, and is killed (with its data) on `Drop`.

mod ldap;
mod nats;
pub mod nats_cluster;
pub mod nats_secure;
mod samba;

pub use ldap::{BASE_DN, LdapServer, PEOPLE_DN, Person};
pub use nats::NatsServer;
pub use samba::{AD_BASE_DN, AD_DC_NAME, AD_REALM, AD_STAFF_DN, AdUser, SambaDc};

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::wait::eventually;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs `cmd` to its end and returns its standard output; panics with its output when it
/// cannot start or fails.
pub fn stdout_of(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} runs (scripts/install-deps installs it): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `child` itself listens on `port`; false when it exits first (another process
/// took the port after [`free_port`] gave it, say: the caller starts again on another port).
/// Read from the kernel's socket table rather than by connecting: a probe that connects to a
/// port nothing listens on yet can connect to itself, and a port another test's server took
/// would look ready.
fn wait_for_port(port: u16, child: &mut std::process::Child, what: &str) -> bool {
    eventually(Duration::from_secs(20), what, || {
        if let Ok(Some(_)) = child.try_wait() {
            return Some(false);
        }
        listens(child.id(), port).then_some(true)
    })
}

/// Whether process `pid` holds a socket listening on TCP `port`: the listening sockets' inodes
/// from /proc/net/tcp and tcp6, looked for among the process's open files.
fn listens(pid: u32, port: u16) -> bool {
    let wanted = format!("{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // Local address, state (0A is LISTEN) and inode.
                    let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
                    (*state == "0A" && local.rsplit(':').next() == Some(wanted.as_str()))
                        .then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            })
        })
        .unwrap_or(false)
}

/// The first of `candidates` that exists, for binaries Debian puts in sbin.
fn find_binary(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|c| Path::new(c).is_file())
        .map(|c| (*c).to_owned())
        .unwrap_or_else(|| panic!("none of {candidates:?} exists: run scripts/install-deps"))
}

/// The `ldapi://` URL of a Unix domain socket (its path percent-encoded).
pub fn ldapi_url(socket: &Path) -> String {
    let encoded: String = socket
        .to_str()
        .expect("UTF-8 socket path")
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("ldapi://{encoded}")
}

/// Runs an ldap-utils `tool` with `input` (LDIF) on its standard input; panics with its error
/// output when it fails.
fn run_with_input(mut cmd: std::process::Command, tool: &str, input: &str) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} runs (scripts/install-deps installs it): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    let out = child.wait_with_output().expect("tool finishes");
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_for_its_own_process_only_and_not_once_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        assert!(listens(std::process::id(), port));
        assert!(!listens(1, port));
        drop(listener);
        assert!(!listens(std::process::id(), port));
    }
}
