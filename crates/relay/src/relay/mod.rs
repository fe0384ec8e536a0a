//! The relay's core: validation, fencing, routing and events over the store.
//! The HTTP routes are thin adapters over these methods. One file per
//! resource (`agents`, `messages` with claims and the group-commit writer,
//! `pairs`, `tasks` with integrations and callbacks); this one opens the
//! relay and keeps it (stats, the reaper's pass).

mod agents;
mod messages;
mod pairs;
mod tasks;

pub(crate) use agents::parse_status;
use messages::{write_messages, Pending, WRITER_QUEUE};

use crate::config::{Integration, RelaySettings};
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use crate::store::{AgentPatch, ClaimOutcome, Ingested, NewTask, Reader, Store, TaskClaim};
use perch_relay_protocol::*;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stdx::ct_eq;
use stdx::MutexExt;
use stdx::{now_ms, random_hex};

const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Relay {
    store: Arc<Store>,
    /// Messages posted over HTTP go through one writer that commits what
    /// queued up meanwhile in one transaction.
    writer: std::sync::mpsc::SyncSender<Pending>,
    settings: RelaySettings,
    bus: EventBus,
    /// For task callbacks; built on the first one (building a client loads
    /// the system's TLS roots: tens of ms and MBs most relays never need).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Per integration: the start of its current minute and its count.
    rate: Mutex<HashMap<String, (Instant, u32)>>,
    started: Instant,
}

/// What one reaper pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    pub marked_offline: usize,
    pub pruned_agents: usize,
    pub pruned_messages: usize,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Relay {
    /// Opens (or creates) the database at `db`, or an in-memory one.
    pub fn open(db: Option<&Path>, settings: RelaySettings) -> Result<Arc<Self>> {
        settings.validate()?;
        let store = match db {
            Some(path) => Store::open(path)?,
            None => Store::open_in_memory()?,
        };
        let (writer, queue) = std::sync::mpsc::sync_channel(WRITER_QUEUE);
        let relay = Arc::new(Self {
            store: Arc::new(store),
            writer,
            settings,
            bus: EventBus::default(),
            http: std::sync::OnceLock::new(),
            rate: Mutex::default(),
            started: Instant::now(),
        });
        let weak = Arc::downgrade(&relay);
        std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || write_messages(weak, queue))
            .map_err(|e| RelayError::Internal(format!("starting the relay's writer: {e}")))?;
        Ok(relay)
    }

    /// The callback client (see `http`).
    fn callback_http(&self) -> Result<&reqwest::Client> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = stdx_http::client_builder()
            .timeout(CALLBACK_TIMEOUT)
            .build()
            .map_err(|e| RelayError::Internal(format!("building the callback client: {e}")))?;
        Ok(self.http.get_or_init(|| http))
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }
    pub fn stats(&self) -> Result<Value> {
        let counts = self.store.counts(now_ms())?;
        Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeMs": millis(self.started.elapsed()),
            "subscribers": self.bus.subscribers(),
            "agents": { "total": counts.agents, "online": counts.agents_online },
            "messages": { "total": counts.messages, "latestId": counts.latest_message_id, "openClaims": counts.open_claims },
            "pairs": { "active": counts.pairs_active, "pending": counts.pairs_pending },
            "tasks": { "active": counts.tasks_active, "total": counts.tasks_total },
            "callbacks": { "failed": counts.callbacks_failed },
        }))
    }

    /// Marks silent agents offline, prunes long-offline agents and old messages.
    pub fn reap(&self) -> Result<Reaped> {
        let now = now_ms();
        let offline = self
            .store
            .mark_stale_offline(now - millis(self.settings.stale_after))?;
        for id in &offline {
            if let Some(agent) = self.store.agent(id)? {
                self.bus.publish(RelayEvent::AgentStatus(agent.clone()));
            }
        }
        let pruned = self
            .store
            .prune_offline(now - millis(self.settings.offline_prune_after))?;
        for id in &pruned {
            self.bus.publish(RelayEvent::AgentRemoved(AgentRemoved {
                id: id.to_string(),
            }));
        }
        let pruned_messages = self
            .store
            .prune_messages(now - millis(self.settings.retention))?;
        Ok(Reaped {
            marked_offline: offline.len(),
            pruned_agents: pruned.len(),
            pruned_messages,
        })
    }
}

pub(super) fn nonempty_body(body: &str) -> Result<String> {
    if body.trim().is_empty() {
        return Err(RelayError::Invalid("`body` is empty".into()));
    }
    Ok(check_text("body", body, MAX_BODY_CHARS)?)
}

pub(super) fn unknown_agent(id: &str) -> RelayError {
    RelayError::NotFound(format!("no agent {id}; register it with POST /api/agents"))
}

pub(super) fn unknown_message(id: i64) -> RelayError {
    RelayError::NotFound(format!("no message {id}"))
}
