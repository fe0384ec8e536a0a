//! The client side of the CLI: finds a running server and talks to its API.

use crate::CliError;
use futures_util::StreamExt;
use perch_runtime::config::Environment;
use serde_json::Value;
use std::path::Path;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
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
        let http = reqwest::Client::builder()
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
        let record: Value = std::fs::read_to_string(&server_file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| CliError::NotRunning(data_dir.display().to_string()))?;
        let base = record["url"]
            .as_str()
            .ok_or_else(|| CliError::NotRunning(data_dir.display().to_string()))?
            .to_string();
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

    async fn send(&self, builder: reqwest::RequestBuilder) -> Result<Value, CliError> {
        let response = builder.send().await.map_err(|e| {
            if e.is_connect() {
                CliError::Unreachable(self.base.clone())
            } else {
                CliError::Other(e.to_string())
            }
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CliError::Unauthorized);
        }
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string();
        Err(CliError::Api {
            status: status.as_u16(),
            message,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// A response that is a file, not JSON (exports).
    pub async fn get_text(&self, path: &str) -> Result<String, CliError> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_string();
            return Err(CliError::Api { status, message });
        }
        response
            .text()
            .await
            .map_err(|e| CliError::Other(e.to_string()))
    }

    /// Posts a file's text (imports).
    pub async fn post_text(&self, path: &str, body: String) -> Result<Value, CliError> {
        self.send(
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
