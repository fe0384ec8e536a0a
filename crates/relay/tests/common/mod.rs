//! A real relay and a small JSON client for it. By default one relay in
//! this process on a throwaway SQLite file; with
//! `PERCH_RELAY_TEST_BACKEND=nats`, a 3-node NATS cluster and two frontends,
//! each its own `perch relay serve --nats` process, which the client takes
//! turns with: every call goes to the other frontend than the last (a post
//! on one, the read and the claim on the other).
#![allow(dead_code)]

use perch_relay::{NatsOptions, RelayServer, RelaySettings, Storage};
use perch_test_support::nats::NatsCluster;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
type Error = Box<dyn std::error::Error>;

pub struct Relay {
    frontends: Vec<Frontend>,
    next: AtomicUsize,
    pub http: reqwest::Client,
    pub token: Option<String>,
    pub dir: tempfile::TempDir,
    /// The NATS cluster, if on one; locked to kill or restart a node.
    cluster: Option<tokio::sync::Mutex<NatsCluster>>,
    /// Its nodes' client URLs, and the directory of their stores.
    node_urls: Vec<String>,
    cluster_dir: Option<PathBuf>,
    /// The cluster's CA, when it serves clients over TLS only.
    cluster_ca: Option<PathBuf>,
    namespace: String,
    /// Every frontend's settings (processes get them as agent-relay's
    /// variables).
    settings: RelaySettings,
    core: tokio::sync::OnceCell<Arc<perch_relay::Relay>>,
}

pub enum Frontend {
    InProcess(RelayServer),
    Process {
        child: tokio::process::Child,
        url: String,
    },
}

impl Frontend {
    pub fn url(&self) -> String {
        match self {
            Self::InProcess(server) => server.url(),
            Self::Process { url, .. } => url.clone(),
        }
    }

    /// SIGKILL for a process; a graceful stop in process.
    pub async fn kill(self) -> Result<(), Error> {
        match self {
            Self::InProcess(server) => server.stop().await,
            Self::Process { mut child, .. } => {
                child.start_kill()?;
                child.wait().await?;
            }
        }
        Ok(())
    }
}

/// Whether this run tests the NATS backend (`PERCH_RELAY_TEST_BACKEND=nats`).
pub fn on_nats() -> bool {
    std::env::var("PERCH_RELAY_TEST_BACKEND").is_ok_and(|b| b == "nats")
}

/// The `perch` binary: `PERCH_BIN`, else the one cargo built next to this
/// test (`cargo test --workspace` builds it).
pub fn perch_bin() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("PERCH_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join(format!("perch{}", std::env::consts::EXE_SUFFIX)))
        .ok_or("no target directory")?;
    if !bin.exists() {
        return Err(format!(
            "{} is missing: build it (cargo build -p perch-cli) or set PERCH_BIN",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

impl Relay {
    pub async fn start(settings: RelaySettings) -> Result<Self, Error> {
        if on_nats() {
            let cluster = NatsCluster::start(3).await?;
            Self::on_cluster(cluster, 2, settings).await
        } else {
            Self::sqlite(settings).await
        }
    }

    /// One relay in this process on a SQLite file.
    pub async fn sqlite(settings: RelaySettings) -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        let token = settings.token.clone();
        let listen: SocketAddr = "127.0.0.1:0".parse()?;
        let db = dir.path().join("relay.db");
        let server =
            RelayServer::start(listen, Storage::Sqlite(Some(db)), settings.clone()).await?;
        Ok(Self {
            frontends: vec![Frontend::InProcess(server)],
            next: AtomicUsize::new(0),
            http: stdx_http::client_builder().build()?,
            token,
            dir,
            cluster: None,
            node_urls: Vec::new(),
            cluster_dir: None,
            cluster_ca: None,
            namespace: String::new(),
            settings,
            core: tokio::sync::OnceCell::new(),
        })
    }

    /// `count` frontend processes on `cluster`, each connected first to a
    /// different node.
    pub async fn on_cluster(
        cluster: NatsCluster,
        count: usize,
        settings: RelaySettings,
    ) -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        let namespace = "perch-relay".to_string();
        let node_urls = (0..cluster.size()).map(|i| cluster.url(i)).collect();
        let cluster_dir = Some(cluster.dir().to_path_buf());
        let cluster_ca = cluster.ca_file().map(std::path::Path::to_path_buf);
        let mut relay = Self {
            frontends: Vec::new(),
            next: AtomicUsize::new(0),
            http: stdx_http::client_builder().build()?,
            token: settings.token.clone(),
            dir,
            cluster: Some(tokio::sync::Mutex::new(cluster)),
            node_urls,
            cluster_dir,
            cluster_ca,
            namespace,
            settings,
            core: tokio::sync::OnceCell::new(),
        };
        for i in 0..count {
            let frontend = relay.spawn_frontend(i).await?;
            relay.frontends.push(frontend);
        }
        Ok(relay)
    }

    /// The cluster's URLs, starting at node `first`.
    pub fn nats_urls(&self, first: usize) -> Vec<String> {
        let n = self.node_urls.len();
        (0..n)
            .map(|i| self.node_urls[(first + i) % n].clone())
            .collect()
    }

    /// The cluster, to kill or restart its nodes.
    pub async fn cluster(&self) -> Result<tokio::sync::MutexGuard<'_, NatsCluster>, Error> {
        Ok(self
            .cluster
            .as_ref()
            .ok_or("not on a NATS cluster")?
            .lock()
            .await)
    }

    /// Starts a `perch relay serve --nats` process and waits for its URL.
    pub async fn spawn_frontend(&self, first_node: usize) -> Result<Frontend, Error> {
        let mut command = tokio::process::Command::new(perch_bin()?);
        command
            .args(["relay", "serve", "--listen", "127.0.0.1:0", "--nats"])
            .arg(self.nats_urls(first_node).join(","))
            .args(["--nats-namespace", &self.namespace])
            .args(["--nats-replicas", &self.node_urls.len().to_string()]);
        if let Some(ca) = &self.cluster_ca {
            command.arg("--nats-ca").arg(ca);
        }
        let mut child = command
            .env("PERCH_HOME", self.dir.path())
            .env("PERCH_SECRET_STORE", "file")
            .env("PERCH_LOG", "warn")
            .env_remove("AGENT_RELAY_TOKEN")
            .env_remove("PERCH_RELAY_NATS")
            .envs(settings_env(&self.settings))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        // The frontend prints its URL once it serves; a bound, not a figure.
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| "the relay frontend did not start within 60 s")??
            .ok_or("the relay frontend exited before it listened")?;
        let url = line
            .strip_prefix("listening ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_string();
        // Keep reading so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Frontend::Process { child, url })
    }

    /// The relay's core in this process: the SQLite relay itself, or one
    /// more frontend on the cluster.
    pub async fn core(&self) -> Result<Arc<perch_relay::Relay>, Error> {
        let core = self
            .core
            .get_or_try_init(|| async {
                match (&self.cluster, self.frontends.first()) {
                    (None, Some(Frontend::InProcess(server))) => Ok(server.relay().clone()),
                    _ => {
                        let mut options = NatsOptions::new(self.nats_urls(0));
                        options.namespace = self.namespace.clone();
                        options.replicas = self.node_urls.len();
                        options.ca_file = self.cluster_ca.clone();
                        perch_relay::Relay::connect(&options, self.settings.clone())
                            .await
                            .map_err(Error::from)
                    }
                }
            })
            .await?;
        Ok(core.clone())
    }

    /// Stops every frontend (SIGKILL for processes) and starts new ones on
    /// the same database or cluster.
    pub async fn restart(&mut self) -> Result<(), Error> {
        let count = self.frontends.len();
        for frontend in self.frontends.drain(..) {
            frontend.kill().await?;
        }
        self.core = tokio::sync::OnceCell::new();
        for i in 0..count {
            let frontend = match &self.cluster {
                Some(_) => self.spawn_frontend(i).await?,
                None => Frontend::InProcess(
                    RelayServer::start(
                        "127.0.0.1:0".parse()?,
                        Storage::Sqlite(Some(self.dir.path().join("relay.db"))),
                        self.settings.clone(),
                    )
                    .await?,
                ),
            };
            self.frontends.push(frontend);
        }
        Ok(())
    }

    /// Every file the relay's state is in (the SQLite database and its
    /// log, or every node's JetStream store), as bytes.
    pub fn stored_files(&self) -> Result<Vec<Vec<u8>>, Error> {
        let root = self
            .cluster_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().to_path_buf());
        Ok(perch_test_support::stored_files(&root)?)
    }

    pub fn frontends(&mut self) -> &mut Vec<Frontend> {
        &mut self.frontends
    }

    /// The first frontend's base URL.
    pub fn base_url(&self) -> String {
        self.frontends
            .first()
            .map(Frontend::url)
            .unwrap_or_default()
    }

    /// `path` on the next frontend in turn.
    pub fn url(&self, path: &str) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.frontends.len().max(1);
        format!("{}{path}", self.frontends[i].url())
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `body` (or nothing) and returns the status and the JSON answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Error> {
        let mut request = self.request(method.parse()?, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        Ok((status, json))
    }

    /// Like `call`, but the status must be 2xx.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        let (status, json) = self.call(method, path, body).await?;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        Ok(json)
    }

    pub async fn register(&self, id: &str, extra: Value) -> Result<Value, Error> {
        let mut body = serde_json::json!({ "id": id });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.ok("POST", "/api/agents", Some(body)).await
    }

    pub async fn send(&self, from: &str, to: &str, body: &str) -> Result<Value, Error> {
        self.ok(
            "POST",
            "/api/messages",
            Some(serde_json::json!({ "from": from, "to": to, "body": body })),
        )
        .await
    }
}

/// `settings` as the variables `perch relay serve` reads.
fn settings_env(settings: &RelaySettings) -> Vec<(&'static str, String)> {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let integrations: Vec<Value> = settings
        .integrations
        .iter()
        .map(|i| {
            serde_json::json!({"name": i.name, "token": i.token, "scopes": i.scopes, "targets": i.targets,
                "channels": i.channels, "callbackUrl": i.callback_url})
        })
        .collect();
    let mut env = vec![
        (
            "AGENT_RELAY_INTEGRATIONS",
            Value::from(integrations).to_string(),
        ),
        (
            "AGENT_RELAY_INTEGRATION_RATE_LIMIT_PER_MINUTE",
            settings.integration_rate_limit_per_minute.to_string(),
        ),
        ("STALE_MS", ms(settings.stale_after)),
        ("OFFLINE_PRUNE_MS", ms(settings.offline_prune_after)),
        ("REAP_INTERVAL_MS", ms(settings.reap_interval)),
        ("CLAIM_LEASE_MS", ms(settings.claim_lease)),
        (
            "RETENTION_DAYS",
            (settings.retention.as_secs() / 86_400).to_string(),
        ),
    ];
    if let Some(token) = &settings.token {
        env.push(("AGENT_RELAY_TOKEN", token.clone()));
    }
    if !settings.cors_origins.is_empty() {
        env.push(("AGENT_RELAY_CORS_ORIGINS", settings.cors_origins.join(",")));
    }
    env
}

pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_i64())
        .collect()
}
