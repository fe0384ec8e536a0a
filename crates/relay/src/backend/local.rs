//! The embedded relay's backend: one SQLite file is both the store and the
//! view, events go to this process's subscribers, and messages posted over
//! HTTP go through one writer thread that commits what queued up meanwhile in
//! one transaction (group commit).

use super::{Backend, CallbackClient, CallbackJob};
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use crate::store::{
    AgentPatch, ClaimOutcome, CredentialChange, Grant, Ingested, NewTask, Store, TaskClaim,
};
use perch_relay_protocol::{
    Agent, Message, NewMessage, Pair, PairStatus, RegisterAgent, RelayEvent, Task, TaskStatus,
};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stdx::{now_ms, MutexExt};

/// Messages waiting for the writer; senders wait beyond it. The channel
/// allocates every slot up front (about 220 bytes each): two batches
/// keep the writer busy without holding megabytes at idle.
const WRITER_QUEUE: usize = 2 * WRITER_BATCH;
/// The most messages one transaction commits.
const WRITER_BATCH: usize = 512;

pub(crate) struct Local {
    store: Arc<Store>,
    writer: std::sync::mpsc::SyncSender<Pending>,
    bus: Arc<EventBus>,
    callbacks: Arc<CallbackClient>,
    /// Per integration: the start of its current minute and its count.
    rate: std::sync::Mutex<std::collections::HashMap<String, (Instant, u32)>>,
}

struct Pending {
    out: NewMessage,
    authenticated: bool,
    reply: tokio::sync::oneshot::Sender<Result<Message>>,
}

impl Local {
    /// Opens (or creates) the database at `db`, or an in-memory one.
    pub(crate) fn open(db: Option<&Path>, bus: Arc<EventBus>) -> Result<Self> {
        let store = Arc::new(match db {
            Some(path) => Store::open(path)?,
            None => Store::open_in_memory()?,
        });
        let (writer, queue) = std::sync::mpsc::sync_channel(WRITER_QUEUE);
        let (writer_store, writer_bus) = (store.clone(), bus.clone());
        std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || write_messages(&writer_store, &writer_bus, queue))
            .map_err(|e| RelayError::Internal(format!("starting the relay's writer: {e}")))?;
        Ok(Self {
            store,
            writer,
            bus,
            callbacks: Arc::default(),
            rate: std::sync::Mutex::default(),
        })
    }
}

#[async_trait::async_trait]
impl Backend for Local {
    fn view(&self) -> &Store {
        &self.store
    }

    async fn sync(&self) -> Result<()> {
        Ok(())
    }

    async fn sync_agents(&self) -> Result<()> {
        Ok(())
    }

    fn bus(&self) -> &Arc<EventBus> {
        &self.bus
    }

    async fn publish(&self, event: RelayEvent) {
        self.bus.publish(event);
    }

    async fn upkeep_turn(&self) -> Result<bool> {
        Ok(true)
    }

    async fn count_event(&self, integration: &str, limit: u32) -> Result<Option<u64>> {
        let mut rate = self.rate.lock_unpoisoned();
        let now = Instant::now();
        let entry = rate.entry(integration.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Ok(Some(
                60u64
                    .saturating_sub(now.duration_since(entry.0).as_secs())
                    .max(1),
            ));
        }
        entry.1 += 1;
        Ok(None)
    }

    async fn register_agent(&self, reg: RegisterAgent, grant: Grant, now: i64) -> Result<Agent> {
        self.store.register_agent(reg, &grant, now)
    }

    async fn change_credentials(
        &self,
        id: &str,
        change: CredentialChange,
        now: i64,
    ) -> Result<bool> {
        self.store.change_credentials(id, &change, now)
    }

    async fn delete_agent(&self, id: &str) -> Result<bool> {
        self.store.delete_agent(id)
    }

    async fn update_agent(&self, id: &str, patch: AgentPatch, now: i64) -> Result<Option<Agent>> {
        self.store.update_agent(id, patch, now)
    }

    async fn mark_stale_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        self.store.mark_stale_offline(cutoff)
    }

    async fn prune_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        self.store.prune_offline(cutoff)
    }

    /// Queued for the writer, without blocking a runtime worker.
    async fn insert_message(&self, out: NewMessage, authenticated: bool) -> Result<Message> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || RelayError::Internal("the relay's writer stopped".into());
        let pending = Pending {
            out,
            authenticated,
            reply,
        };
        match self.writer.try_send(pending) {
            Ok(()) => {}
            // The queue is bounded: a full one is waited on from a blocking thread.
            Err(std::sync::mpsc::TrySendError::Full(pending)) => {
                let writer = self.writer.clone();
                let queued = tokio::task::spawn_blocking(move || writer.send(pending).is_ok())
                    .await
                    .map_err(|e| RelayError::Internal(format!("the writer queue: {e}")))?;
                if !queued {
                    return Err(stopped());
                }
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }

    async fn mark_read(&self, id: i64, agent: &str, now: i64) -> Result<Option<Message>> {
        self.store.mark_read(id, agent, now)
    }

    async fn delete_message(&self, id: i64) -> Result<bool> {
        self.store.delete_message(id)
    }

    async fn claim_message(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        self.store.claim_message(id, agent, now, lease_ms)
    }

    async fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        self.store.renew_claim(id, agent, now, lease_ms)
    }

    async fn release_claim(&self, id: i64, agent: &str) -> Result<ClaimOutcome> {
        self.store.release_claim(id, agent)
    }

    async fn prune_messages(&self, cutoff: i64) -> Result<usize> {
        self.store.prune_messages(cutoff)
    }

    async fn create_pair(
        &self,
        id: String,
        from: &str,
        candidates: &[String],
        objective: Option<String>,
        now: i64,
    ) -> Result<Pair> {
        self.store.create_pair(id, from, candidates, objective, now)
    }

    async fn transition_pair(
        &self,
        id: &str,
        from_states: &[PairStatus],
        next: PairStatus,
        actor: &str,
        now: i64,
    ) -> Result<Option<Pair>> {
        self.store
            .transition_pair(id, from_states, next, actor, now)
    }

    async fn ingest_task(&self, new: NewTask, message: NewMessage, now: i64) -> Result<Ingested> {
        let ingested = self.store.ingest_task(new, message, now)?;
        if let Ingested::Created { message, .. } = &ingested {
            self.bus
                .publish(RelayEvent::MessageNew((**message).clone()));
        }
        Ok(ingested)
    }

    async fn claim_task(&self, id: i64, agent: &str, now: i64) -> Result<TaskClaim> {
        self.store.claim_task(id, agent, now)
    }

    async fn update_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
        now: i64,
    ) -> Result<Option<Task>> {
        self.store
            .update_task_status(id, status, result, progress, actor, now)
    }

    /// Recorded in SQLite, then POSTed once in the background.
    async fn queue_callback(&self, job: CallbackJob, now: i64) -> Result<()> {
        let id = self.store.insert_callback(
            job.task,
            &job.integration,
            &job.url,
            &job.event,
            &job.payload,
            now,
        )?;
        let (store, callbacks) = (Arc::downgrade(&self.store), self.callbacks.clone());
        tokio::spawn(async move {
            let outcome = callbacks.deliver(&job.url, &job.payload).await;
            if let Some(store) = store.upgrade() {
                if let Err(err) = store.finish_callback(id, outcome.as_deref(), now_ms()) {
                    tracing::error!("relay: recording callback {id}'s outcome failed: {err}");
                }
            }
        });
        Ok(())
    }
}

/// The writer thread: takes what is queued, commits it in one transaction,
/// publishes each message (in id order), answers each sender. Ends with the
/// backend (when its sender is dropped).
fn write_messages(store: &Store, bus: &EventBus, queue: std::sync::mpsc::Receiver<Pending>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < WRITER_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (outs, replies): (Vec<(NewMessage, bool)>, Vec<_>) = batch
            .into_iter()
            .map(|p| ((p.out, p.authenticated), p.reply))
            .unzip();
        match store.insert_messages(outs, now_ms()) {
            Ok(outcomes) => {
                for (outcome, reply) in outcomes.into_iter().zip(replies) {
                    if let Ok(message) = &outcome {
                        bus.publish(RelayEvent::MessageNew(message.clone()));
                    }
                    let _ = reply.send(outcome);
                }
            }
            Err(err) => {
                let why = err.to_string();
                for reply in replies {
                    let _ = reply.send(Err(RelayError::Internal(format!(
                        "committing the message: {why}"
                    ))));
                }
            }
        }
    }
}
