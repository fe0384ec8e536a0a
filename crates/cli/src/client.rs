//! The client side of the CLI: finds a running server and talks to its API.

use crate::CliError;
use futures_util::StreamExt;
use perch_protocol::errors::ErrorBody;
use perch_runtime::config::Environment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// What `perch serve` records in `<data dir>/server.json` (it has `pid` too).
#[derive(Deserialize)]
struct ServerRecord {
    url: String,
}

/// An answer that is not a success: 401 has its own advice; the others
/// carry the API's `{"error": {"code", "message"}}`.
fn error_of(status: reqwest::StatusCode, body: &[u8]) -> CliError {
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return CliError::Unauthorized;
    }
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|body| body.error.message)
        .unwrap_or_else(|_| "no message".to_string());
    CliError::Api {
        status: status.as_u16(),
        message,
    }
}

/// Reads an answer kept as it came (to print it with `--json`) as its type.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|e| {
        CliError::Other(format!(
            "Perch's answer is not what this perch expects ({e}); \
             are the server and the CLI the same version?"
        ))
    })
}

/// The body of a POST route that takes none (`{}`).
pub fn no_body() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Prints an answer as JSON (`--json`).
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // Only a map with non-string keys fails; the contract has none.
        Err(err) => eprintln!("error: printing the answer as JSON: {err}"),
    }
}

/// An enum's wire word (`ready`, `read-only`, `idle`), for the enums of the
/// contract that have no `as_str`.
pub fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(word)) => word,
        _ => String::new(),
    }
}

/// `PERCH_API_TOKEN`, else the token in the keyring (or the 0600 file).
pub async fn stored_token(data_dir: &Path, env: &Environment) -> Result<String, CliError> {
    let data_dir = data_dir.to_path_buf();
    let env = env.clone();
    tokio::task::spawn_blocking(move || {
        let secrets = perch_host::secrets::open_secret_store(&data_dir, &env);
        perch_host::secrets::load_or_create_token(secrets.as_ref(), &env)
    })
    .await
    .map_err(|e| CliError::Other(format!("reading the token: {e}")))?
    .map_err(CliError::from)
}

impl Client {
    /// `PERCH_URL` + `PERCH_API_TOKEN`, else the server recorded in the data dir.
    pub async fn discover(data_dir: &Path, env: &Environment) -> Result<Self, CliError> {
        let http = stdx_http::client_builder()
            .build()
            .map_err(|e| CliError::Other(e.to_string()))?;
        if let Some(url) = env.get("PERCH_URL") {
            let token = env
                .get("PERCH_API_TOKEN")
                .ok_or_else(|| {
                    CliError::Usage("PERCH_URL is set but PERCH_API_TOKEN is not".into())
                })?
                .to_string();
            return Ok(Self {
                http,
                base: url.trim_end_matches('/').to_string(),
                token,
            });
        }
        let server_file = data_dir.join("server.json");
        let base = std::fs::read_to_string(&server_file)
            .ok()
            .and_then(|text| serde_json::from_str::<ServerRecord>(&text).ok())
            .ok_or_else(|| CliError::NotRunning(data_dir.display().to_string()))?
            .url;
        let token = {
            let data_dir = data_dir.to_path_buf();
            let env = env.clone();
            tokio::task::spawn_blocking(move || perch_host::secrets::read_token(&data_dir, &env))
                .await
                .map_err(|e| CliError::Other(format!("reading the token: {e}")))??
        };
        let token = token.ok_or(CliError::Unauthorized)?;
        Ok(Self { http, base, token })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends the request and reads the answer as `T`: the route's type in
    /// the API contract (`perch-protocol`), or `Value` where the answer is
    /// printed as it came (`--json`). An empty answer (204) reads as `null`,
    /// so `()` takes it.
    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<T, CliError> {
        let response = builder.send().await.map_err(|e| {
            if e.is_connect() {
                CliError::Unreachable(self.base.clone())
            } else {
                CliError::Other(e.to_string())
            }
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        if status.is_success() {
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(body).map_err(|e| {
                CliError::Other(format!(
                    "Perch's answer to {path} is not what this perch expects ({e}); \
                     are the server and the CLI the same version?"
                ))
            });
        }
        Err(error_of(status, &body))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(path, self.request(reqwest::Method::GET, path))
            .await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CliError> {
        self.send(path, self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CliError> {
        self.send(path, self.request(reqwest::Method::PATCH, path).json(body))
            .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(path, self.request(reqwest::Method::DELETE, path))
            .await
    }

    /// A response that is a file, not JSON (exports).
    pub async fn get_text(&self, path: &str) -> Result<String, CliError> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            return Err(error_of(status, &body));
        }
        response
            .text()
            .await
            .map_err(|e| CliError::Other(e.to_string()))
    }

    /// Posts a file's text (imports).
    pub async fn post_text<T: DeserializeOwned>(
        &self,
        path: &str,
        body: String,
    ) -> Result<T, CliError> {
        self.send(
            path,
            self.request(reqwest::Method::POST, path)
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(body),
        )
        .await
    }

    /// Opens the event stream; events are parsed JSON objects.
    pub async fn events(&self) -> Result<impl futures_util::Stream<Item = Value>, CliError> {
        use eventsource_stream::Eventsource;
        let response = self
            .request(reqwest::Method::GET, "/api/events")
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    CliError::Unreachable(self.base.clone())
                } else {
                    CliError::Other(e.to_string())
                }
            })?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CliError::Unauthorized);
        }
        Ok(response
            .bytes_stream()
            .eventsource()
            .filter_map(|event| async move {
                event
                    .ok()
                    .and_then(|e| serde_json::from_str::<Value>(&e.data).ok())
            }))
    }
}
