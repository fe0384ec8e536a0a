//! The Agent Relay HTTP API as a client: typed calls over the relay's own
//! wire types (`perch-relay-protocol`), errors carrying the relay's message.

use crate::error::{PeerError, Result};
use futures_util::{Stream, StreamExt};
use perch_relay_protocol::{
    Agent, AgentDevice, InstanceProof, LinkCode, Message, NewMessage, Pair, RegisterAgent,
    Registered, RelayEvent, Task,
};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use stdx::RwLockExt;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<RelayEvent>> + Send>>;

#[derive(Clone)]
pub struct RelayClient {
    http: Arc<OnceLock<reqwest::Client>>,
    base: String,
    token: Option<String>,
    /// Agent keys by id: a call acting as an id that has one presents it.
    keys: Arc<RwLock<HashMap<String, String>>>,
}

impl RelayClient {
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PeerError::Invalid(format!(
                "the relay URL {base:?} must start with http:// or https://"
            )));
        }
        Ok(Self {
            http: Arc::new(OnceLock::new()),
            base,
            token,
            keys: Arc::default(),
        })
    }

    /// From now on, calls acting as `id` present `key`.
    pub fn set_key(&self, id: &str, key: String) {
        self.keys.write_unpoisoned().insert(id.to_string(), key);
    }

    /// `builder` acting as `id`: with its agent key, when this client has one.
    fn as_agent(&self, builder: RequestBuilder, id: &str) -> RequestBuilder {
        match self.keys.read_unpoisoned().get(id) {
            Some(key) => builder.header(perch_relay_protocol::AGENT_KEY_HEADER, key),
            None => builder,
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        let builder = self.http()?.request(method, format!("{}{path}", self.base));
        Ok(match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        })
    }

    /// The HTTP client, built on the first request: building one loads the
    /// system's TLS roots (tens of ms, MBs), which Perch's start need not wait for.
    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = stdx_http::client_builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| PeerError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        Ok(self.http.get_or_init(|| http))
    }

    async fn call<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let unreachable = |source| PeerError::Unreachable {
            url: self.base.clone(),
            source,
        };
        let response = builder
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return serde_json::from_value(Value::Null).map_err(|e| {
                PeerError::Invalid(format!(
                    "the relay at {} answered 204 where Perch expected a body: {e}",
                    self.base
                ))
            });
        }
        if status.is_success() {
            return response.json().await.map_err(unreachable);
        }
        Err(relay_error(response).await)
    }

    pub async fn register(&self, card: &RegisterAgent) -> Result<Registered> {
        let request = self.request(Method::POST, "/api/agents")?.json(card);
        self.call(self.as_agent(request, &card.id)).await
    }

    pub async fn heartbeat(&self, id: &str, proof: &InstanceProof) -> Result<Agent> {
        let request = self
            .request(Method::POST, &format!("/api/agents/{id}/heartbeat"))?
            .json(proof);
        self.call(self.as_agent(request, id)).await
    }

    /// Changes the card's `meta` (merged; a `null` value removes a key).
    pub async fn update_meta(
        &self,
        id: &str,
        proof: &InstanceProof,
        meta: &serde_json::Map<String, Value>,
    ) -> Result<Agent> {
        let body = json!({ "meta": meta, "instanceId": proof.instance_id, "epoch": proof.epoch });
        let request = self
            .request(Method::PATCH, &format!("/api/agents/{id}"))?
            .json(&body);
        self.call(self.as_agent(request, id)).await
    }

    /// Whether this client holds a key for `id`.
    pub fn has_key(&self, id: &str) -> bool {
        self.keys.read_unpoisoned().contains_key(id)
    }

    /// A one-time code another machine joins `id` with (this one holds its key).
    pub async fn link(&self, id: &str) -> Result<LinkCode> {
        let request = self.request(Method::POST, &format!("/api/agents/{id}/links"))?;
        self.call(self.as_agent(request, id)).await
    }

    /// The devices that hold a key of `id`.
    pub async fn devices(&self, id: &str) -> Result<Vec<AgentDevice>> {
        let request = self.request(Method::GET, &format!("/api/agents/{id}/devices"))?;
        self.call(self.as_agent(request, id)).await
    }

    pub async fn remove_device(&self, id: &str, device: &str) -> Result<()> {
        let request = self.request(
            Method::DELETE,
            &format!("/api/agents/{id}/devices/{device}"),
        )?;
        self.call(self.as_agent(request, id)).await
    }

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        self.call(self.request(Method::GET, "/api/agents")?).await
    }

    pub async fn agent(&self, id: &str) -> Result<Agent> {
        self.call(self.request(Method::GET, &format!("/api/agents/{id}"))?)
            .await
    }

    /// `GET /api/messages` with the relay's query keys (`for`, `sinceId`, ...).
    pub async fn messages(&self, query: &[(&str, String)]) -> Result<Vec<Message>> {
        self.call(self.request(Method::GET, "/api/messages")?.query(query))
            .await
    }

    /// The newest message id (`GET /api/messages/cursor`).
    pub async fn cursor(&self) -> Result<i64> {
        let cursor: Value = self
            .call(self.request(Method::GET, "/api/messages/cursor")?)
            .await?;
        Ok(cursor["latestId"].as_i64().unwrap_or(0))
    }

    pub async fn message(&self, id: i64) -> Result<Message> {
        self.call(self.request(Method::GET, &format!("/api/messages/{id}"))?)
            .await
    }

    pub async fn send(&self, message: &NewMessage) -> Result<Message> {
        let request = self.request(Method::POST, "/api/messages")?.json(message);
        self.call(self.as_agent(request, &message.from)).await
    }

    pub async fn mark_read(&self, id: i64, agent: &str) -> Result<Message> {
        let request = self
            .request(Method::PATCH, &format!("/api/messages/{id}"))?
            .json(&json!({ "readBy": agent }));
        self.call(self.as_agent(request, agent)).await
    }

    /// `op`: `claim`, `claim/renew` or `claim/release`.
    pub async fn claim(
        &self,
        id: i64,
        op: &str,
        agent: &str,
        proof: &InstanceProof,
        lease: Duration,
    ) -> Result<Message> {
        let body = json!({
            "agentId": agent,
            "instanceId": proof.instance_id,
            "epoch": proof.epoch,
            "leaseMs": lease.as_millis() as i64,
        });
        let request = self
            .request(Method::POST, &format!("/api/messages/{id}/{op}"))?
            .json(&body);
        self.call(self.as_agent(request, agent)).await
    }

    pub async fn pairs(&self, agent: Option<&str>) -> Result<Vec<Pair>> {
        let query: Vec<(&str, &str)> = agent.map(|a| ("agentId", a)).into_iter().collect();
        self.call(self.request(Method::GET, "/api/pairs")?.query(&query))
            .await
    }

    pub async fn invite(
        &self,
        from: &str,
        target: &str,
        objective: Option<String>,
    ) -> Result<Pair> {
        let body = json!({ "from": from, "target": target, "objective": objective });
        let request = self.request(Method::POST, "/api/pairs")?.json(&body);
        self.call(self.as_agent(request, from)).await
    }

    /// `action`: `accept`, `reject` or `hangup`.
    pub async fn answer_pair(&self, id: &str, action: &str, agent: &str) -> Result<Pair> {
        let request = self
            .request(Method::POST, &format!("/api/pairs/{id}/{action}"))?
            .json(&json!({ "agentId": agent }));
        self.call(self.as_agent(request, agent)).await
    }

    pub async fn pair(&self, id: &str) -> Result<Pair> {
        self.call(self.request(Method::GET, &format!("/api/pairs/{id}"))?)
            .await
    }

    pub async fn pair_message(
        &self,
        id: &str,
        from: &str,
        body: &str,
        meta: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Message> {
        let body = json!({ "from": from, "body": body, "meta": meta });
        let request = self
            .request(Method::POST, &format!("/api/pairs/{id}/messages"))?
            .json(&body);
        self.call(self.as_agent(request, from)).await
    }

    pub async fn tasks(&self, status: Option<&str>, limit: usize) -> Result<Vec<Task>> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(status.map(|s| ("status", s.to_string())));
        self.call(self.request(Method::GET, "/api/tasks")?.query(&query))
            .await
    }

    pub async fn update_task(
        &self,
        id: i64,
        agent: &str,
        status: &str,
        progress: Option<String>,
        result: Option<String>,
    ) -> Result<Task> {
        let body =
            json!({ "agentId": agent, "status": status, "progress": progress, "result": result });
        let request = self
            .request(Method::PATCH, &format!("/api/tasks/{id}/status"))?
            .json(&body);
        self.call(self.as_agent(request, agent)).await
    }

    /// The relay's SSE stream (every event; the caller filters).
    pub async fn events(&self) -> Result<EventStream> {
        let unreachable = |source| PeerError::Unreachable {
            url: self.base.clone(),
            source,
        };
        let response = self
            .request(Method::GET, "/api/events")?
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(relay_error(response).await);
        }
        let url = self.base.clone();
        // Kinds this version does not know (a newer relay's) are skipped;
        // a known kind whose payload does not parse is an error, not a guess.
        let stream = eventsource_stream::EventStream::new(response.bytes_stream()).filter_map(
            move |event| {
                let url = url.clone();
                async move {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => {
                            return Some(Err(PeerError::Invalid(format!(
                                "the relay stream at {url} broke: {e}"
                            ))))
                        }
                    };
                    RelayEvent::parse(&event.event, &event.data)
                        .map_err(|e| PeerError::UnreadableEvent {
                            url,
                            kind: event.event.clone(),
                            reason: e.to_string(),
                        })
                        .transpose()
                }
            },
        );
        Ok(Box::pin(stream))
    }
}

/// The relay's `{"error","code"}` answer as an error.
async fn relay_error(response: reqwest::Response) -> PeerError {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    PeerError::Relay {
        status: status.as_u16(),
        code: body["code"].as_str().unwrap_or_default().to_string(),
        message: body["error"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| status.to_string()),
    }
}
