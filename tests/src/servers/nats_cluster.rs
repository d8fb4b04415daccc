//! A three-node `nats-server` JetStream cluster as processes on free loopback ports: each node
//! has a client port, a cluster (route) port and a monitoring port, and a data directory of its
//! own. Nodes can be killed by name; the monitoring endpoint says which node leads a stream.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::eventually;

/// How many nodes the cluster has.
const NODES: usize = 3;

/// One node: its name (`nats-1`…) and ports, and its process while it runs.
#[derive(Debug)]
struct Node {
    name: String,
    client: u16,
    route: u16,
    monitor: u16,
    child: Option<Child>,
}

/// A running three-node cluster; every node is killed, and the data removed, on `Drop`.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts three nodes on free loopback ports and waits until they have elected a
    /// JetStream meta leader and each says it is healthy.
    pub fn start() -> Self {
        for _ in 0..5 {
            let mut cluster = Self {
                nodes: (1..=NODES)
                    .map(|i| Node {
                        name: format!("nats-{i}"),
                        client: super::free_port(),
                        route: super::free_port(),
                        monitor: super::free_port(),
                        child: None,
                    })
                    .collect(),
                dir: tempfile::tempdir().expect("tempdir"),
            };
            if cluster.spawn_all() {
                cluster.wait_for_quorum();
                return cluster;
            }
            // Another process took one of the nine ports: start again on new ones.
        }
        panic!("the NATS cluster did not start on any of 5 sets of free ports");
    }

    /// Spawns every node; false when one of them exits before it listens.
    fn spawn_all(&mut self) -> bool {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.route))
            .collect();
        for i in 0..self.nodes.len() {
            let config = self.write_config(&self.nodes[i], &routes);
            self.nodes[i].child = Some(spawn(&config, &self.log_of(&self.nodes[i].name)));
        }
        self.nodes.iter_mut().all(|node| {
            let child = node.child.as_mut().expect("spawned");
            super::wait_for_port(node.client, child, &format!("{} to listen", node.name))
        })
    }

    fn write_config(&self, node: &Node, routes: &[String]) -> PathBuf {
        let store = self.dir.path().join(&node.name);
        let path = self.dir.path().join(format!("{}.conf", node.name));
        let text = format!(
            "server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n\
             jetstream {{\n  store_dir: \"{store}\"\n}}\n\
             cluster {{\n  name: photosync-tests\n  listen: 127.0.0.1:{route}\n  routes: [{routes}]\n}}\n",
            name = node.name,
            client = node.client,
            monitor = node.monitor,
            route = node.route,
            store = store.display(),
            routes = routes.join(", "),
        );
        std::fs::write(&path, text).expect("node configuration");
        path
    }

    fn log_of(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Waits until a meta leader is elected and every running node answers `/healthz` with
    /// 200 (JetStream current).
    fn wait_for_quorum(&self) {
        eventually(
            Duration::from_secs(60),
            "the NATS cluster to elect a leader",
            || {
                let leader = self.meta_leader()?;
                self.running()
                    .all(|n| {
                        http_get(n.monitor, "/healthz").is_some_and(|(status, _)| status == 200)
                    })
                    .then_some(leader)
            },
        );
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("the cluster has no node {name}"))
    }

    /// Every node's client URL (`nats://127.0.0.1:PORT`), killed ones too: what a client
    /// configured with the whole cluster is given.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client))
            .collect()
    }

    /// The nodes' names, `nats-1` to `nats-3`.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The names of the nodes running now.
    pub fn running_names(&self) -> Vec<String> {
        self.running().map(|n| n.name.clone()).collect()
    }

    /// Kills node `name` with SIGKILL (its data stays for a restart).
    pub fn kill(&mut self, name: &str) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("the cluster has no node {name}"));
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// GET `path` on the monitoring port of node `name`, parsed as JSON; `None` while the node
    /// is down or answers something else.
    pub fn monitor(&self, name: &str, path: &str) -> Option<serde_json::Value> {
        let node = self.node(name);
        node.child.as_ref()?;
        let (status, body) = http_get(node.monitor, path)?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// The JetStream meta leader, as a running node reports it.
    pub fn meta_leader(&self) -> Option<String> {
        self.running().find_map(|n| {
            let jsz = self.monitor(&n.name, "/jsz")?;
            let leader = jsz["meta_cluster"]["leader"].as_str()?;
            (!leader.is_empty()).then(|| leader.to_owned())
        })
    }

    /// The node leading `stream` (in account `$G`), as a running node that holds a replica
    /// reports it in `/jsz?acc=$G&streams=true`.
    pub fn stream_leader(&self, stream: &str) -> Option<String> {
        self.running().find_map(|n| {
            let jsz = self.monitor(&n.name, "/jsz?acc=$G&streams=true")?;
            let leader = jsz["account_details"]
                .as_array()?
                .iter()
                .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
                .find(|s| s["name"] == stream)?["cluster"]["leader"]
                .as_str()?
                .to_owned();
            (!leader.is_empty()).then_some(leader)
        })
    }

    /// What node `name` logged.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_of(name)).unwrap_or_default()
    }
}

fn spawn(config: &Path, log: &Path) -> Child {
    let bin = super::find_binary(&[
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]);
    let log = std::fs::File::create(log).expect("node log");
    Command::new(bin)
        .arg("-c")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nats-server starts")
}

/// A plain HTTP/1.0 GET on 127.0.0.1:`port`: the status and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(socket, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    socket.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
