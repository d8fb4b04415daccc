//! A private `nats-server` with JetStream and file storage in a temporary directory.

use std::process::{Child, Command, Stdio};

/// A running nats-server.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server with JetStream on a free loopback port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for _ in 0..5 {
            let port = super::free_port();
            let mut child = Self::spawn(port, dir.path());
            if super::wait_for_port(port, &mut child, "nats-server to listen") {
                return Self { child, port, dir };
            }
        }
        panic!("nats-server did not start on any of 5 free ports");
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Child {
        Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.join("jetstream"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts")
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id (the benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server and starts it again on the same port and store.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, self.dir.path());
        assert!(
            super::wait_for_port(self.port, &mut self.child, "nats-server to listen again"),
            "nats-server did not start again on port {}",
            self.port
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nats-server binary (Debian puts it in sbin).
pub(super) fn binary() -> String {
    super::find_binary(&[
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ])
}
