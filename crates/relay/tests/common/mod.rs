//! A real relay on a free loopback port with a throwaway SQLite file, and a
//! small JSON client for it.
#![allow(dead_code)]

use perch_relay::{RelayServer, RelaySettings};
use serde_json::Value;
use std::net::SocketAddr;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub struct Relay {
    pub server: RelayServer,
    pub http: reqwest::Client,
    pub token: Option<String>,
    pub dir: tempfile::TempDir,
}

impl Relay {
    pub async fn start(settings: RelaySettings) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let token = settings.token.clone();
        let listen: SocketAddr = "127.0.0.1:0".parse()?;
        let server =
            RelayServer::start(listen, Some(dir.path().join("relay.db")), settings).await?;
        Ok(Self {
            server,
            http: stdx_http::client_builder().build()?,
            token,
            dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
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
    ) -> Result<(u16, Value), Box<dyn std::error::Error>> {
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
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let (status, json) = self.call(method, path, body).await?;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        Ok(json)
    }

    pub async fn register(
        &self,
        id: &str,
        extra: Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let mut body = serde_json::json!({ "id": id });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.ok("POST", "/api/agents", Some(body)).await
    }

    pub async fn send(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        self.ok(
            "POST",
            "/api/messages",
            Some(serde_json::json!({ "from": from, "to": to, "body": body })),
        )
        .await
    }
}

pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_i64())
        .collect()
}
