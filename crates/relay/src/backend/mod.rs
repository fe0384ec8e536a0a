//! Where the relay's state lives: one SQLite file (the default, [`Local`])
//! or a NATS JetStream cluster that any number of frontends share
//! ([`nats::Nats`]). [`Relay`](crate::Relay) validates, fences and routes;
//! a backend stores and fans out.
//!
//! Invariants:
//! - Reads always go to a SQLite [`Store`], the *view*: for [`Local`] the
//!   database itself; for NATS a disposable copy each frontend builds from
//!   the cluster. [`Backend::sync`] returns once the view holds every change
//!   the backend acknowledged before the call (read-your-writes, across
//!   frontends).
//! - Writes go through the backend and are acknowledged only once durable
//!   (committed to SQLite, or stored by a JetStream quorum).
//! - `message.new` is published by the backend once the message is in this
//!   frontend's view; every other event goes through [`Backend::publish`],
//!   which reaches the subscribers of every frontend.

mod local;
pub mod nats;

pub(crate) use local::Local;

use crate::error::Result;
use crate::events::EventBus;
use crate::store::{
    AgentPatch, ClaimOutcome, CredentialChange, Grant, Ingested, NewTask, Store, TaskClaim,
};
use perch_relay_protocol::{
    Agent, Message, NewMessage, Pair, PairStatus, RegisterAgent, RelayEvent, Task, TaskStatus,
};
use serde_json::Value;
use std::sync::Arc;

/// A callback to an integration, recorded before it is delivered.
pub(crate) struct CallbackJob {
    pub task: i64,
    pub integration: String,
    pub url: String,
    pub event: String,
    pub payload: Value,
}

#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync {
    /// The read model (see the module's invariants).
    fn view(&self) -> &Store;
    /// Waits until the view holds every change acknowledged before this call.
    async fn sync(&self) -> Result<()>;
    /// [`Backend::sync`] for agent cards and keys only (cheaper on NATS).
    async fn sync_agents(&self) -> Result<()>;
    /// This frontend's subscribers.
    fn bus(&self) -> &Arc<EventBus>;
    /// Publishes `event` (never `message.new`) to the subscribers of every frontend.
    async fn publish(&self, event: RelayEvent);
    /// Whether this frontend runs the shared upkeep (stale agents, pruning) now.
    async fn upkeep_turn(&self) -> Result<bool>;
    /// Counts one event from `integration` against `limit` per minute;
    /// `Some(seconds)` when it is over, with when to retry.
    async fn count_event(&self, integration: &str, limit: u32) -> Result<Option<u64>>;

    /// Registers `reg` as `grant` allows ([`crate::store::Credentials::admit`], checked
    /// again inside the write).
    async fn register_agent(&self, reg: RegisterAgent, grant: Grant, now: i64) -> Result<Agent>;
    /// Carries out `change` on the id's keys and link codes; `false` for an
    /// unknown id.
    async fn change_credentials(
        &self,
        id: &str,
        change: CredentialChange,
        now: i64,
    ) -> Result<bool>;
    async fn delete_agent(&self, id: &str) -> Result<bool>;
    async fn update_agent(&self, id: &str, patch: AgentPatch, now: i64) -> Result<Option<Agent>>;
    async fn mark_stale_offline(&self, cutoff: i64) -> Result<Vec<String>>;
    async fn prune_offline(&self, cutoff: i64) -> Result<Vec<String>>;

    /// Stores a validated message and publishes `message.new`.
    async fn insert_message(&self, out: NewMessage, authenticated: bool) -> Result<Message>;
    async fn mark_read(&self, id: i64, agent: &str, now: i64) -> Result<Option<Message>>;
    async fn delete_message(&self, id: i64) -> Result<bool>;
    async fn claim_message(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome>;
    async fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome>;
    async fn release_claim(&self, id: i64, agent: &str) -> Result<ClaimOutcome>;
    /// Prunes messages created at or before `cutoff` from this frontend's view
    /// (and from the store, where retention is not the store's own).
    async fn prune_messages(&self, cutoff: i64) -> Result<usize>;

    async fn create_pair(
        &self,
        id: String,
        from: &str,
        candidates: &[String],
        objective: Option<String>,
        now: i64,
    ) -> Result<Pair>;
    async fn transition_pair(
        &self,
        id: &str,
        from_states: &[PairStatus],
        next: PairStatus,
        actor: &str,
        now: i64,
    ) -> Result<Option<Pair>>;

    /// Creates the task and its claimable message (publishing `message.new`),
    /// or counts one more occurrence of the active task with its dedupe key.
    async fn ingest_task(&self, new: NewTask, message: NewMessage, now: i64) -> Result<Ingested>;
    async fn claim_task(&self, id: i64, agent: &str, now: i64) -> Result<TaskClaim>;
    async fn update_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
        now: i64,
    ) -> Result<Option<Task>>;
    /// Records the callback and has exactly one frontend deliver it once.
    async fn queue_callback(&self, job: CallbackJob, now: i64) -> Result<()>;
}

/// The HTTP client for integration callbacks, built on the first one
/// (building a client loads the system's TLS roots: tens of ms and MBs most
/// relays never need), and the delivery itself.
#[derive(Default)]
pub(crate) struct CallbackClient {
    http: std::sync::OnceLock<reqwest::Client>,
}

const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl CallbackClient {
    /// POSTs `payload` to `url` once; `None` when the integration took it,
    /// else what went wrong.
    pub(crate) async fn deliver(&self, url: &str, payload: &Value) -> Option<String> {
        let http = match self.http.get() {
            Some(http) => http,
            None => match stdx_http::client_builder()
                .timeout(CALLBACK_TIMEOUT)
                .build()
            {
                Ok(http) => self.http.get_or_init(|| http),
                Err(err) => return Some(format!("building the callback client: {err}")),
            },
        };
        match http.post(url).json(payload).send().await {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("HTTP {}", response.status())),
            Err(err) => Some(err.to_string()),
        }
    }
}
