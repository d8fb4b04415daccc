//! Real servers for integration tests: each starts on a free loopback port in a temporary
//! directory, is ready when its constructor returns, and is killed (with its data) on `Drop`.

mod ldap;
mod nats;
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

/// Waits until `child` listens on `port`, failing at once if it exits (the port taken in the
/// meantime, say). Read from the kernel's socket table rather than by connecting: a probe that
/// connects to a port nothing listens on yet can connect to itself and take the port.
fn wait_for_port(port: u16, child: &mut std::process::Child, what: &str) {
    eventually(Duration::from_secs(20), what, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("waiting for {what}: the process exited ({status}); was port {port} taken?");
        }
        listening(port).then_some(())
    });
}

/// Whether a TCP socket listens on `port` (any address), from /proc/net/tcp and tcp6.
fn listening(port: u16) -> bool {
    let wanted = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let mut fields = line.split_whitespace().skip(1);
                let local = fields.next().unwrap_or_default();
                let state = fields.nth(1).unwrap_or_default();
                // State 0A is LISTEN.
                state == "0A" && local.rsplit(':').next() == Some(wanted.as_str())
            })
    })
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
    fn a_listening_socket_is_seen_in_the_socket_table_and_a_closed_one_is_not() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        assert!(listening(port));
        drop(listener);
        assert!(!listening(port));
    }
}
