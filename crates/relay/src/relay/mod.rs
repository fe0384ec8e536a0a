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

use crate::backend::{Backend, CallbackJob, Local};
use crate::config::{Integration, RelaySettings};
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use crate::store::{AgentPatch, ClaimOutcome, Ingested, NewTask, Reader, Store, TaskClaim};
use perch_relay_protocol::*;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stdx::ct_eq;
use stdx::{now_ms, random_hex};

pub struct Relay {
    backend: Box<dyn Backend>,
    settings: RelaySettings,
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
    /// Opens (or creates) the SQLite database at `db`, or an in-memory one.
    pub fn open(db: Option<&Path>, settings: RelaySettings) -> Result<Arc<Self>> {
        settings.validate()?;
        let backend = Local::open(db, Arc::default())?;
        Ok(Self::with_backend(Box::new(backend), settings))
    }

    /// A frontend over a NATS JetStream cluster (see `backend::nats`).
    pub async fn connect(
        options: &crate::backend::nats::NatsOptions,
        settings: RelaySettings,
    ) -> Result<Arc<Self>> {
        settings.validate()?;
        let backend =
            crate::backend::nats::Nats::connect(options, &settings, Arc::default()).await?;
        Ok(Self::with_backend(Box::new(backend), settings))
    }

    fn with_backend(backend: Box<dyn Backend>, settings: RelaySettings) -> Arc<Self> {
        Arc::new(Self {
            backend,
            settings,
            started: Instant::now(),
        })
    }

    /// The read model, holding every change acknowledged before this call.
    async fn view(&self) -> Result<&Store> {
        self.backend.sync().await?;
        Ok(self.backend.view())
    }

    /// The read model for agent cards and keys (those are current; the
    /// rest may lag).
    async fn agents_view(&self) -> Result<&Store> {
        self.backend.sync_agents().await?;
        Ok(self.backend.view())
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    pub fn events(&self) -> &EventBus {
        self.backend.bus()
    }

    pub async fn stats(&self) -> Result<Value> {
        let counts = self.view().await?.counts(now_ms())?;
        Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeMs": millis(self.started.elapsed()),
            "subscribers": self.events().subscribers(),
            "agents": { "total": counts.agents, "online": counts.agents_online },
            "messages": { "total": counts.messages, "latestId": counts.latest_message_id, "openClaims": counts.open_claims },
            "pairs": { "active": counts.pairs_active, "pending": counts.pairs_pending },
            "tasks": { "active": counts.tasks_active, "total": counts.tasks_total },
            "callbacks": { "failed": counts.callbacks_failed },
        }))
    }

    /// Marks silent agents offline, prunes long-offline agents (on one
    /// frontend at a time) and old messages.
    pub async fn reap(&self) -> Result<Reaped> {
        let now = now_ms();
        let mut reaped = Reaped::default();
        if self.backend.upkeep_turn().await? {
            let offline = self
                .backend
                .mark_stale_offline(now - millis(self.settings.stale_after))
                .await?;
            for id in &offline {
                if let Some(agent) = self.view().await?.agent(id)? {
                    self.backend.publish(RelayEvent::AgentStatus(agent)).await;
                }
            }
            let pruned = self
                .backend
                .prune_offline(now - millis(self.settings.offline_prune_after))
                .await?;
            for id in &pruned {
                self.backend
                    .publish(RelayEvent::AgentRemoved(AgentRemoved {
                        id: id.to_string(),
                    }))
                    .await;
            }
            reaped.marked_offline = offline.len();
            reaped.pruned_agents = pruned.len();
        }
        reaped.pruned_messages = self
            .backend
            .prune_messages(now - millis(self.settings.retention))
            .await?;
        Ok(reaped)
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
