//! One `codex app-server` child on stdio: a writer task, a reader task that
//! resolves responses and forwards notifications and server requests, and a
//! stderr task that keeps the last lines for error reports.
//!
//! Invariants:
//! - Every channel is bounded. The reader *awaits* room in the message channel
//!   rather than dropping: a turn's terminal event or an approval request is
//!   never lost, and a slow consumer slows the child down instead.
//! - When the child's stdout ends, every pending request fails with
//!   [`Error::Closed`] and a final [`ServerMessage::Closed`] is sent.
//! - The child leads its own process tree (`tree.rs`: a process group on
//!   Unix, a Job Object on Windows); [`Connection::shutdown`] and drop end
//!   the whole tree, so commands Codex spawned do not outlive it.

use crate::jsonrpc::{Incoming, RequestId, RpcError};
use crate::protocol::{Method, ServerNotification, ServerRequest};
use crate::tree::ProcessTree;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stdx::MutexExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const STDERR_TAIL_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not start {bin}: {source}")]
    Spawn { bin: String, source: std::io::Error },
    #[error("the Codex app-server is not running")]
    Closed,
    #[error("Codex did not answer {method} within {secs} s")]
    Timeout { method: &'static str, secs: u64 },
    #[error("Codex refused {method}: {message} (code {code})")]
    Server {
        method: &'static str,
        code: i64,
        message: String,
    },
    #[error("Codex answered {method} with an unexpected shape: {source}")]
    Decode {
        method: &'static str,
        source: serde_json::Error,
    },
    #[error("could not encode {method}: {source}")]
    Encode {
        method: &'static str,
        source: serde_json::Error,
    },
}

/// How to start the child.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    pub bin: PathBuf,
    /// Arguments after `app-server`, e.g. `-c key=value` overrides.
    pub args: Vec<String>,
    /// The child's whole environment: nothing of Perch's own is inherited
    /// (it holds tokens the agent's commands must not see).
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub request_timeout: Duration,
}

/// What the child sends that is not a response to one of our requests.
#[derive(Debug)]
pub enum ServerMessage {
    Notification(ServerNotification),
    Request {
        id: RequestId,
        request: ServerRequest,
    },
    /// The child's stdout ended. `stderr_tail` is its last stderr lines.
    Closed {
        exit: Option<i32>,
        stderr_tail: Vec<String>,
    },
}

type Pending = Arc<Mutex<HashMap<i64, oneshot::Sender<Result<Value, RpcError>>>>>;

pub struct Connection {
    writer: mpsc::Sender<String>,
    pending: Pending,
    next_id: AtomicI64,
    request_timeout: Duration,
    pid: Option<u32>,
    tree: ProcessTree,
    child: Mutex<Option<Child>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Connection {
    /// Spawns `bin app-server ARGS` and starts the IO tasks. Messages go to
    /// `messages`; the handshake is the caller's (see the supervisor).
    pub fn spawn(
        options: &SpawnOptions,
        messages: mpsc::Sender<ServerMessage>,
    ) -> Result<Arc<Self>, Error> {
        let mut command = Command::new(&options.bin);
        command
            .arg("app-server")
            .args(&options.args)
            .env_clear()
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        ProcessTree::prepare(&mut command);
        if let Some(cwd) = &options.cwd {
            command.current_dir(cwd);
        }
        let spawn_error = |source| Error::Spawn {
            bin: options.bin.display().to_string(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        let tree = ProcessTree::adopt(&child).map_err(spawn_error)?;
        let missing = || spawn_error(std::io::Error::other("a stdio pipe was not created"));
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let stderr = child.stderr.take().ok_or_else(missing)?;

        let (writer, mut lines) = mpsc::channel::<String>(256);
        tokio::spawn(async move {
            let mut stdin = stdin;
            while let Some(line) = lines.recv().await {
                if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
            // Dropping stdin tells the app-server to exit.
        });

        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let tail = stderr_tail.clone();
        let stderr_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "codex::stderr", "{line}");
                let mut tail = tail.lock_unpoisoned();
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });

        let pending: Pending = Arc::default();
        let connection = Arc::new(Self {
            writer,
            pending: pending.clone(),
            next_id: AtomicI64::new(1),
            request_timeout: options.request_timeout,
            pid: child.id(),
            tree,
            child: Mutex::new(Some(child)),
            stderr_tail: stderr_tail.clone(),
        });

        let reader_connection = Arc::downgrade(&connection);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            loop {
                let line = match lines.next_line().await {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(_) => break,
                };
                if line.trim().is_empty() {
                    continue;
                }
                let message = match Incoming::parse(&line) {
                    Ok(message) => message,
                    Err(err) => {
                        tracing::warn!(
                            "unreadable line from codex app-server ({err}): {line:.200}"
                        );
                        continue;
                    }
                };
                let forward = match message {
                    Incoming::Response { id, result } => {
                        resolve(&pending, &id, Ok(result));
                        None
                    }
                    Incoming::Error { id, error } => {
                        resolve(&pending, &id, Err(error));
                        None
                    }
                    Incoming::Notification { method, params } => Some(ServerMessage::Notification(
                        ServerNotification::parse(&method, params),
                    )),
                    Incoming::Request { id, method, params } => Some(ServerMessage::Request {
                        id,
                        request: ServerRequest::parse(&method, params),
                    }),
                };
                if let Some(forward) = forward {
                    if messages.send(forward).await.is_err() {
                        break;
                    }
                }
            }
            // stdout ended: fail every waiting request, then report the exit.
            pending.lock_unpoisoned().clear();
            let _ = stderr_task.await;
            let exit = match reader_connection.upgrade() {
                Some(connection) => connection.wait_exit().await,
                None => None,
            };
            let stderr_tail = stderr_tail.lock_unpoisoned().iter().cloned().collect();
            let _ = messages
                .send(ServerMessage::Closed { exit, stderr_tail })
                .await;
        });
        Ok(connection)
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The last lines the child wrote to stderr.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr_tail.lock_unpoisoned().iter().cloned().collect()
    }

    /// Sends a typed request and waits for its typed result.
    pub async fn request<M: Method>(&self, params: &M::Params) -> Result<M::Result, Error> {
        let params = serde_json::to_value(params).map_err(|source| Error::Encode {
            method: M::NAME,
            source,
        })?;
        let result = self.request_raw(M::NAME, params).await?;
        serde_json::from_value(result).map_err(|source| Error::Decode {
            method: M::NAME,
            source,
        })
    }

    async fn request_raw(&self, method: &'static str, params: Value) -> Result<Value, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock_unpoisoned().insert(id, tx);
        let line =
            serde_json::json!({ "id": id, "method": method, "params": params }).to_string() + "\n";
        if self.writer.send(line).await.is_err() {
            self.pending.lock_unpoisoned().remove(&id);
            return Err(Error::Closed);
        }
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => Err(Error::Server {
                method,
                code: error.code,
                message: error.message,
            }),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                self.pending.lock_unpoisoned().remove(&id);
                Err(Error::Timeout {
                    method,
                    secs: self.request_timeout.as_secs(),
                })
            }
        }
    }

    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), Error> {
        let mut message = serde_json::json!({ "method": method });
        if let (Some(params), Some(obj)) = (params, message.as_object_mut()) {
            obj.insert("params".into(), params);
        }
        self.writer
            .send(message.to_string() + "\n")
            .await
            .map_err(|_| Error::Closed)
    }

    /// Answers a server→client request.
    pub async fn respond(&self, id: &RequestId, result: Value) -> Result<(), Error> {
        let line = serde_json::json!({ "id": id, "result": result }).to_string() + "\n";
        self.writer.send(line).await.map_err(|_| Error::Closed)
    }

    /// Refuses a server→client request Perch cannot serve.
    pub async fn respond_error(
        &self,
        id: &RequestId,
        code: i64,
        message: &str,
    ) -> Result<(), Error> {
        let line = serde_json::json!({ "id": id, "error": { "code": code, "message": message } })
            .to_string()
            + "\n";
        self.writer.send(line).await.map_err(|_| Error::Closed)
    }

    async fn wait_exit(&self) -> Option<i32> {
        let child = self.child.lock_unpoisoned().take();
        match child {
            Some(mut child) => child.wait().await.ok().and_then(|status| status.code()),
            None => None,
        }
    }

    /// Asks the child's whole process tree to end, then ends it after
    /// `grace`. Safe to call more than once.
    pub async fn shutdown(&self, grace: Duration) {
        let tree = &self.tree;
        if !tree.terminate() {
            return; // already gone
        }
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline {
            if !tree.alive() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tree.kill();
    }

    /// Ends the process tree at once (tests use it to simulate a crash).
    pub fn kill(&self) {
        self.tree.kill();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.kill();
    }
}

fn resolve(pending: &Pending, id: &RequestId, result: Result<Value, RpcError>) {
    let RequestId::Int(id) = id else { return };
    if let Some(tx) = pending.lock_unpoisoned().remove(id) {
        let _ = tx.send(result);
    }
}
