//! What the tests own: a scripted OpenAI Responses API server that stands in
//! for the model, and throwaway Codex environments to run the real pinned
//! `codex app-server` against it.
//!
//! The server answers `POST /v1/responses` with SSE built from a FIFO queue of
//! [`Script`]s (one script per model request; an empty queue answers "OK").
//! Every request is captured so tests can assert on what Codex sent. The same
//! server runs out of process as the `scripted-model` binary, with a control
//! API (`POST /_control/enqueue`, `GET /_control/requests`,
//! `POST /_control/reset`) for the browser tests. It also stands in for
//! ChatGPT's device-code sign-in ([`sign_in`], `POST /_control/sign-in`).
//! [`nats`] starts a real NATS cluster (JetStream on) for the team relay.

mod codex_env;
pub mod nats;
pub mod sign_in;
mod sse;

pub use codex_env::{codex_bin, CodexEnv};
pub use sse::{FunctionCall, Script};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stdx::MutexExt;
use tokio::sync::{mpsc, watch};

/// One request Codex sent to the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapturedRequest {
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Value,
}

impl CapturedRequest {
    /// The text of every `input` message of the request, concatenated: what
    /// the model was shown (instructions, user messages, tool outputs).
    pub fn input_text(&self) -> String {
        let mut out = String::new();
        if let Some(items) = self.body.get("input").and_then(Value::as_array) {
            for item in items {
                collect_text(item, &mut out);
            }
        }
        out
    }
}

fn collect_text(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect_text(v, out)),
        Value::Object(map) => {
            for (key, v) in map {
                if matches!(key.as_str(), "text" | "content" | "output" | "arguments") {
                    collect_text(v, out);
                }
            }
        }
        _ => {}
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    queue: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<CapturedRequest>>,
    embedding_requests: Mutex<Vec<CapturedRequest>>,
    sign_in: Mutex<sign_in::Decision>,
}

/// A running scripted model. Dropping it stops the server.
pub struct ScriptedModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    request_count: watch::Receiver<usize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    request_count: Arc<watch::Sender<usize>>,
}

impl ScriptedModel {
    /// Starts the server on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (count_tx, count_rx) = watch::channel(0usize);
        let state = AppState {
            shared: shared.clone(),
            request_count: Arc::new(count_tx),
        };
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(models))
            .route("/_control/enqueue", post(control_enqueue))
            .route("/_control/requests", get(control_requests))
            .route("/_control/reset", post(control_reset))
            .route(
                "/api/accounts/deviceauth/usercode",
                post(sign_in::user_code),
            )
            .route("/api/accounts/deviceauth/token", post(sign_in::poll))
            .route("/oauth/token", post(sign_in::token))
            .route(
                "/backend-api/wham/accounts/check",
                get(sign_in::accounts_check),
            )
            .route("/backend-api/wham/usage", get(sign_in::usage))
            .route("/_control/sign-in", post(sign_in::control))
            .with_state(state);
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            request_count: count_rx,
            _shutdown: shutdown_tx,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The provider base URL to give Codex (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The issuer to give Codex as `CODEX_APP_SERVER_LOGIN_ISSUER`, and the
    /// `chatgpt_base_url` for its config: the stand-in sign-in ([`sign_in`]).
    pub fn sign_in_issuer(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn chatgpt_base_url(&self) -> String {
        format!("http://{}/backend-api/", self.addr)
    }

    /// What the person does with the device code in the browser.
    pub fn decide_sign_in(&self, decision: sign_in::Decision) {
        *self.shared.sign_in.lock_unpoisoned() = decision;
    }

    pub fn enqueue(&self, script: Script) {
        self.shared.queue.lock_unpoisoned().push_back(script);
    }

    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.shared.requests.lock_unpoisoned().clone()
    }

    /// The `/v1/embeddings` requests so far.
    pub fn embedding_requests(&self) -> Vec<CapturedRequest> {
        self.shared.embedding_requests.lock_unpoisoned().clone()
    }

    /// Waits until at least `n` model requests arrived, or `timeout` passed.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<CapturedRequest> {
        let mut rx = self.request_count.clone();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        self.requests()
    }
}

async fn responses(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let script = state
        .shared
        .queue
        .lock_unpoisoned()
        .pop_front()
        .unwrap_or_else(|| Script::text("OK"));
    {
        let mut requests = state.shared.requests.lock_unpoisoned();
        let request = CapturedRequest { headers, body };
        // One line per request on stderr (the browser tests keep it as
        // scripted-model.log): what was asked, what it was answered.
        let asked: String = request
            .input_text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        eprintln!(
            "request {}: {asked:?} -> {}",
            requests.len() + 1,
            script.describe()
        );
        requests.push(request);
        state.request_count.send_replace(requests.len());
    }
    if let Some(status) = script.http_status {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = script.body.unwrap_or_else(|| {
            serde_json::json!({"error": {"message": "scripted failure", "type": "server_error"}}).to_string()
        });
        return (code, [("content-type", "application/json")], body).into_response();
    }
    let (tx, rx) = mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let delay = Duration::from_millis(script.delay_ms.unwrap_or(0));
        for (i, event) in script.sse_events().into_iter().enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
        if script.hang {
            // Keep the stream open, silent, until the client gives up on it.
            tx.closed().await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The model listing, which Perch uses to check an OpenAI API key and to
/// try a server before it becomes the provider: a key with `wrong` in it is
/// refused as OpenAI refuses one; no key is fine (a local server).
async fn models(headers: HeaderMap) -> Response {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key.contains("wrong") {
        let body = serde_json::json!({"error": {
            "message": "Incorrect API key provided: sk-wro***key.",
            "type": "invalid_request_error", "code": "invalid_api_key"}});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    Json(serde_json::json!({"object": "list", "data": [{"id": "mock-model", "object": "model"}]}))
        .into_response()
}

/// Words that mean the same to the scripted embedding model (and to no
/// full-text search): each group is one direction of the vector space.
const SYNONYMS: &[&[&str]] = &[
    &["car", "automobile", "vehicle", "sedan"],
    &["dog", "puppy", "canine", "hound"],
    &["invoice", "bill", "receipt"],
    &["physician", "doctor", "gp"],
];
pub const EMBEDDING_DIMENSIONS: usize = 64;

/// A scripted embedding: each word points at its synonym group's axis, or
/// at an axis hashed from the word; the sum is the vector.
pub fn scripted_embedding(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; EMBEDDING_DIMENSIONS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let word = word.to_lowercase();
        let axis = match SYNONYMS
            .iter()
            .position(|group| group.contains(&word.as_str()))
        {
            Some(group) => group,
            None => {
                SYNONYMS.len()
                    + word
                        .bytes()
                        .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
                        % (EMBEDDING_DIMENSIONS - SYNONYMS.len())
            }
        };
        vector[axis] += 1.0;
    }
    vector
}

/// An OpenAI-compatible `/v1/embeddings`: `{model, input}` (a string or a
/// list) in, `{data: [{index, embedding}], model}` out.
async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    state
        .shared
        .embedding_requests
        .lock_unpoisoned()
        .push(CapturedRequest {
            headers,
            body: body.clone(),
        });
    if inputs.is_empty() || body["model"].as_str().is_none() {
        let error = serde_json::json!({"error": {"message": "model and input are required", "type": "invalid_request_error"}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| serde_json::json!({"object": "embedding", "index": index, "embedding": scripted_embedding(text)}))
        .collect();
    Json(serde_json::json!({"object": "list", "data": data, "model": body["model"]}))
        .into_response()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Script>),
    One(Box<Script>),
}

async fn control_enqueue(
    State(state): State<AppState>,
    Json(scripts): Json<OneOrMany>,
) -> StatusCode {
    let scripts = match scripts {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => vec![*s],
    };
    state.shared.queue.lock_unpoisoned().extend(scripts);
    StatusCode::NO_CONTENT
}

async fn control_requests(State(state): State<AppState>) -> Json<Vec<CapturedRequest>> {
    Json(state.shared.requests.lock_unpoisoned().clone())
}

async fn control_reset(State(state): State<AppState>) -> StatusCode {
    state.shared.queue.lock_unpoisoned().clear();
    state.shared.requests.lock_unpoisoned().clear();
    state.request_count.send_replace(0);
    *state.shared.sign_in.lock_unpoisoned() = sign_in::Decision::Pending;
    StatusCode::NO_CONTENT
}

/// Writes `script` (a `/bin/sh` script) to `path`, executable. Tests that
/// use one are ignored on Windows, which has no `/bin/sh`.
pub fn write_script(path: &std::path::Path, script: &str) -> std::io::Result<()> {
    std::fs::write(path, script)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(())
}

/// Every file under `root` but logs and configs, as bytes: what a store
/// (SQLite and its log, or nats-server's JetStream files) keeps on disk,
/// for tests that look for what must not be there. A file or folder the
/// store removes while this reads (nats-server compacts and rotates) is
/// skipped: what it held is in the files that replaced it.
pub fn stored_files(root: &std::path::Path) -> std::io::Result<Vec<Vec<u8>>> {
    let gone = |err: &std::io::Error| err.kind() == std::io::ErrorKind::NotFound;
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if gone(&err) => continue,
            Err(err) => return Err(err),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_none_or(|ext| ext != "log" && ext != "conf")
            {
                match std::fs::read(&path) {
                    Ok(bytes) => files.push(bytes),
                    Err(err) if gone(&err) => {}
                    Err(err) => return Err(err),
                }
            }
        }
    }
    Ok(files)
}
