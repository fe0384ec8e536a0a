//! The harness: a real Perch runtime and API (in process) over the real
//! pinned `codex app-server`, against the scripted model the test owns.

use futures_util::StreamExt;
use perch_agent::{AgentOptions, AgentState};
use perch_api::{ApiOptions, Auth, PeerLink, PeerLinkState};
use perch_runtime::host::FileSecretStore;
use perch_runtime::{ApprovalPolicy, Config, Runtime, RuntimeOptions};
use perch_test_support::{CodexEnv, ScriptedModel};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(60);
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub struct Harness {
    pub env: CodexEnv,
    pub model: ScriptedModel,
    pub runtime: Arc<Runtime>,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

pub fn test_config(
    env: &CodexEnv,
    model: &ScriptedModel,
    policy: ApprovalPolicy,
) -> Result<Config, Box<dyn std::error::Error>> {
    let policy = serde_json::to_value(policy)?;
    Ok(env
        .perch_config(&model.base_url(), policy.as_str().unwrap_or_default())
        .parse()?)
}

impl Harness {
    pub async fn start(policy: ApprovalPolicy) -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_with(policy, |_| {}).await
    }

    pub async fn start_with(
        policy: ApprovalPolicy,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let harness = Self::open_with(policy, tweak).await?;
        harness.runtime.launch_codex(None).await?;
        let status = harness.runtime.wait_ready(WAIT).await;
        assert!(
            matches!(status.state, perch_runtime::CodexState::Ready),
            "codex did not become ready: {:?} {:?}",
            status.state,
            status.detail
        );
        Ok(harness)
    }

    /// The runtime open and the API serving, with no Codex child yet (as
    /// Perch is while it starts).
    pub async fn open_with(
        policy: ApprovalPolicy,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let env = CodexEnv::new()?;
        let model = ScriptedModel::start().await?;
        let mut config = test_config(&env, &model, policy)?;
        tweak(&mut config);
        let runtime = Runtime::open(RuntimeOptions {
            data_dir: env.data(),
            config,
            config_path: Some(env.data().join("config.toml")),
            project_dirs: vec![],
            secrets: Arc::new(FileSecretStore::new(env.data().join("secrets"), None)),
            autostart: None,
            opener: None,
            logs_dir: None,
        })
        .await?;
        let agent = AgentState::attach(runtime.clone(), AgentOptions { embeddings: None })?;
        let token = "test-token-0123456789".to_string();
        let auth = Arc::new(Auth::new(token.clone(), vec![]));
        let router = perch_api::router(
            runtime.clone(),
            ApiOptions {
                auth,
                ui_dir: None,
                peer: PeerLink::settled(PeerLinkState::Off { reason: None }),
                agent,
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            env,
            model,
            runtime,
            base,
            token,
            http: stdx_http::client_builder().build()?,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        assert!(status.is_success(), "GET {path}: {status} {body}");
        Ok(body)
    }

    pub async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> Result<(u16, Value), Box<dyn std::error::Error>> {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn new_session(&self) -> Result<String, Box<dyn std::error::Error>> {
        let (status, session) = self.post("/api/sessions", json!({})).await?;
        assert_eq!(status, 201, "{session}");
        Ok(session["id"].as_str().unwrap_or_default().to_string())
    }

    pub async fn send(
        &self,
        session: &str,
        text: &str,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let (status, sent) = self
            .post(
                &format!("/api/sessions/{session}/messages"),
                json!({ "text": text }),
            )
            .await?;
        assert_eq!(status, 202, "{sent}");
        Ok(sent)
    }

    /// Subscribes to `/api/events`, optionally from a `Last-Event-ID`.
    pub async fn events(
        &self,
        last_event_id: Option<u64>,
    ) -> Result<Events, Box<dyn std::error::Error>> {
        use eventsource_stream::Eventsource;
        let mut request = self
            .http
            .get(self.url("/api/events"))
            .bearer_auth(&self.token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await?;
        assert_eq!(response.status().as_u16(), 200);
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            let mut stream = response.bytes_stream().eventsource();
            while let Some(Ok(event)) = stream.next().await {
                let value: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                let value = if value.get("type").is_some() {
                    value
                } else {
                    json!({ "type": event.event, "data": value })
                };
                if tx.send(value).await.is_err() {
                    return;
                }
            }
        });
        Ok(Events {
            rx,
            seen: Vec::new(),
        })
    }
}

pub struct Events {
    rx: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

impl Events {
    /// Waits for the first event matching `pred`; panics with what was seen.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if pred(&event) {
                        return event;
                    }
                }
                _ => panic!("no event {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    pub async fn turn_completed(&mut self, turn_id: &str) -> Value {
        self.wait_for("turn.completed", |e| {
            e["type"] == "turn.completed" && e["turnId"] == turn_id
        })
        .await
    }
}
