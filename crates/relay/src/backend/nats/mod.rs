//! The relay on a NATS JetStream cluster: any number of stateless frontends
//! serve the same relay. What lives where is in [`records`]; how each
//! frontend reads is in [`view`].
//!
//! Invariants:
//! - The cluster is the only truth. A frontend keeps nothing it cannot
//!   rebuild from it (its view is a temporary file) and can be killed at any
//!   moment.
//! - Every change that must not race is one compare-and-set on one key
//!   (`Nats-Expected-Last-Subject-Sequence`): a claim, a registration, a
//!   pair lock, a task's state. The value it decides on is read from the
//!   stream's leader, never from a replica or the view.
//! - A message is published with a `Nats-Msg-Id` and re-sent under the same
//!   id until the cluster acknowledges it, so a lost acknowledgement (a node
//!   killed mid-publish) neither loses nor doubles it.

mod cas;
mod cluster;
mod records;
mod view;

use super::{Backend, CallbackClient, CallbackJob};
use crate::config::RelaySettings;
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use crate::store::{
    registered_card, AgentPatch, ClaimOutcome, CredentialChange, Grant, Ingested, NewTask, Store,
    TaskClaim,
};
use async_nats::jetstream::{self, kv, message::PublishMessage, stream};
use bytes::Bytes;
use cas::{key_value, modify, read, stream_named, write, Bucket, Step};
use cluster::{callback_record, connect_client, deliver_callbacks, forward_events, patiently};
use perch_relay_protocol::{
    Agent, AgentStatus, Message, NewMessage, Pair, PairStatus, RegisterAgent, RelayEvent, Task,
    TaskEvent, TaskStatus,
};
use records::*;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stdx::{now_ms, random_hex};
use view::{unavailable, Barriers, Sources};

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// `nats://host:4222` or `tls://host:4222`, one per server (any one
    /// suffices; the client learns the rest from the cluster).
    pub urls: Vec<String>,
    /// The text of a `.creds` file (a user JWT and its NKey seed).
    pub credentials: Option<String>,
    /// A CA certificate (PEM) to verify the servers with; implies TLS.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Replicas of each stream and bucket the first frontend creates (3 for
    /// a 3-node cluster, 1 for a single server).
    pub replicas: usize,
    /// What the names of the relay's streams, buckets and subjects start
    /// with, so that several relays can share a cluster.
    pub namespace: String,
}

impl NatsOptions {
    pub fn new(urls: Vec<String>) -> Self {
        Self {
            urls,
            credentials: None,
            ca_file: None,
            client_cert: None,
            replicas: 3,
            namespace: "perch-relay".into(),
        }
    }
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("frontend", &self.frontend)
            .finish()
    }
}

pub(crate) struct Nats {
    js: jetstream::Context,
    messages: stream::Stream,
    names: Names,
    state: Bucket,
    message_state: Bucket,
    locks: Bucket,
    view: Arc<Store>,
    /// Holds the view's file; removed with this frontend.
    _view_dir: tempfile::TempDir,
    bus: Arc<EventBus>,
    barriers: Barriers,
    /// This frontend's name in the upkeep lock.
    frontend: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Nats {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A pair lock whose pair was never written is stale after this long.
const STALE_PAIR_LOCK_MS: i64 = 30_000;

impl Nats {
    pub(crate) async fn connect(
        options: &NatsOptions,
        settings: &RelaySettings,
        bus: Arc<EventBus>,
    ) -> Result<Self> {
        if !valid_namespace(&options.namespace) {
            return Err(RelayError::Invalid(format!(
                "the NATS namespace {:?} may hold only a-z, 0-9, - and _ (at most 32)",
                options.namespace
            )));
        }
        let names = Names::new(&options.namespace);
        let client = connect_client(options).await?;
        let js = jetstream::new(client.clone());
        let replicas = options.replicas.max(1);
        let setup = |what: &str, e: &dyn std::fmt::Display| {
            let e = e.to_string();
            // A hint, not a decision: the server says so in words only.
            let hint = if e.contains("insufficient resources") || e.contains("replicas") {
                format!(" (a cluster of fewer than {replicas} servers needs `--nats-replicas`; docs/relay.md)")
            } else {
                String::new()
            };
            RelayError::Unavailable(format!("setting up {what} on the NATS cluster: {e}{hint}"))
        };
        // JetStream reads a max age of 0 as "forever"; a retention of 0 means "now".
        let retention = settings.retention.max(Duration::from_secs(1));
        let messages = stream_named(
            &js,
            stream::Config {
                name: names.messages.clone(),
                subjects: vec![names.message_subject.clone(), names.deleted_subject.clone()],
                max_age: retention,
                num_replicas: replicas,
                storage: stream::StorageType::File,
                // Re-sends are recognised this long (at most the retention).
                duplicate_window: Duration::from_secs(120).min(retention),
                allow_direct: true,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| setup("the message stream", &e))?;
        let bucket = |name: &str, max_age: Duration| kv::Config {
            bucket: name.into(),
            history: 1,
            max_age,
            num_replicas: replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let state = key_value(&js, bucket(&names.state_bucket, Duration::ZERO))
            .await
            .map_err(|e| setup("the state bucket", &e))?;
        // Claims and read markers live as long as their messages.
        let message_state = key_value(&js, bucket(&names.message_state_bucket, retention))
            .await
            .map_err(|e| setup("the message state bucket", &e))?;
        // The upkeep lock outlives a pass; rate windows outlive their minute.
        let lock_age = (2 * settings.reap_interval).max(Duration::from_secs(120));
        let locks = key_value(&js, bucket(&names.lock_bucket, lock_age))
            .await
            .map_err(|e| setup("the lock bucket", &e))?;
        let callbacks = stream_named(
            &js,
            stream::Config {
                name: names.callbacks.clone(),
                subjects: vec![names.callback_subject.clone()],
                retention: stream::RetentionPolicy::WorkQueue,
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| setup("the callback queue", &e))?;

        let view_dir = tempfile::Builder::new()
            .prefix("perch-relay-view-")
            .tempdir()
            .map_err(|e| RelayError::Internal(format!("creating the relay's view: {e}")))?;
        let view = Arc::new(Store::open_view(&view_dir.path().join("view.db"))?);
        let mut tasks = vec![
            tokio::spawn(forward_events(
                client.clone(),
                names.event_subject.clone(),
                bus.clone(),
            )),
            tokio::spawn(deliver_callbacks(
                callbacks,
                names.callbacks.clone(),
                state.clone(),
            )),
        ];
        let sources = Arc::new(Sources {
            messages: messages.clone(),
            state: state.kv.stream.clone(),
            message_state: message_state.kv.stream.clone(),
        });
        let barriers = view::start(
            &client,
            sources,
            &names,
            view.clone(),
            bus.clone(),
            &mut tasks,
        )
        .await?;
        Ok(Self {
            js,
            messages,
            names,
            state,
            message_state,
            locks,
            view,
            _view_dir: view_dir,
            bus,
            barriers,
            frontend: random_hex(8).map_err(|e| RelayError::Internal(e.to_string()))?,
            tasks,
        })
    }

    /// Publishes a message under `id` (its `Nats-Msg-Id`) until the cluster
    /// acknowledges it; returns its sequence.
    async fn publish_durably(&self, subject: &str, payload: Bytes, id: &str) -> Result<u64> {
        patiently(
            || async {
                let message = PublishMessage::build()
                    .payload(payload.clone())
                    .message_id(id);
                match self.js.send_publish(subject.to_string(), message).await {
                    Ok(ack) => ack.await,
                    Err(err) => Err(err),
                }
            },
            |_| false,
        )
        .await
        .map(|ack| ack.sequence)
        .map_err(|err| unavailable("storing the message", err))
    }

    /// The view, after a sync.
    async fn synced(&self) -> Result<&Store> {
        self.barriers.everything.wait().await?;
        Ok(&self.view)
    }

    /// The message with `id` (after a sync) and its current claim, as one
    /// `Message`, or why there is none to claim.
    async fn claimable(&self, id: i64) -> Result<std::result::Result<Message, ClaimOutcome>> {
        let Some(message) = self.synced().await?.message(id)? else {
            return Ok(Err(ClaimOutcome::NotFound));
        };
        if !message.claimable {
            return Ok(Err(ClaimOutcome::NotClaimable));
        }
        Ok(Ok(message))
    }

    /// Changes the claim on message `id` by `decide` (given the current
    /// claim), in one compare-and-set.
    async fn change_claim(
        &self,
        id: i64,
        decide: impl Fn(Option<ClaimRecord>) -> Step<ClaimRecord, Option<String>>,
    ) -> Result<ClaimOutcome> {
        let mut message = match self.claimable(id).await? {
            Ok(message) => message,
            Err(outcome) => return Ok(outcome),
        };
        let key = format!("claim.{id}");
        let outcome = modify(&self.message_state, &key, |current: Option<ClaimRecord>| {
            Ok(match decide(current) {
                Step::Put(claim, _) => Step::Put(claim.clone(), Ok(Some(claim))),
                Step::Remove(_) => Step::Remove(Ok(None)),
                Step::Keep(holder) => Step::Keep(Err(holder)),
            })
        })
        .await?;
        Ok(match outcome {
            Ok(claim) => {
                message.claimed_by = claim.as_ref().map(|c| c.agent.clone());
                message.claimed_at = claim.as_ref().map(|c| c.claimed_at);
                message.claim_expires_at = claim.as_ref().map(|c| c.expires_at);
                ClaimOutcome::Done(Box::new(message))
            }
            Err(holder) => ClaimOutcome::HeldBy(holder),
        })
    }

    /// Takes `pairof.<agent>` for `pair`, unless the agent is in another
    /// open pair; `Err` names that pair.
    async fn lock_pair(
        &self,
        agent: &str,
        pair: &str,
        now: i64,
    ) -> Result<std::result::Result<(), String>> {
        let key = pair_lock_key(agent);
        loop {
            let current = read::<PairLock>(&self.state, &key).await?;
            if let Some(lock) = &current.value {
                let open = read::<Pair>(&self.state, &pair_key(&lock.pair))
                    .await?
                    .value;
                let held = match open {
                    Some(open) => matches!(open.status, PairStatus::Pending | PairStatus::Active),
                    None => now - lock.since < STALE_PAIR_LOCK_MS,
                };
                if held {
                    return Ok(Err(lock.pair.clone()));
                }
            }
            let lock = PairLock {
                pair: pair.to_string(),
                since: now,
            };
            if write(&self.state, &key, &lock, current.revision)
                .await?
                .is_some()
            {
                return Ok(Ok(()));
            }
        }
    }

    async fn unlock_pair(&self, agent: &str, pair: &str) -> Result<()> {
        let key = pair_lock_key(agent);
        modify(&self.state, &key, |lock: Option<PairLock>| {
            Ok(match lock {
                Some(lock) if lock.pair == pair => Step::Remove(()),
                _ => Step::Keep(()),
            })
        })
        .await
    }

    async fn add_task_event(
        &self,
        task: i64,
        kind: &str,
        actor: Option<&str>,
        detail: Value,
        now: i64,
    ) -> Result<()> {
        let event = TaskEvent {
            id: 0,
            task_id: task,
            kind: kind.into(),
            actor: actor.map(String::from),
            detail: match detail {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            created_at: now,
        };
        let key = format!(
            "taskevent.{task}.{}",
            random_hex(8).map_err(|e| RelayError::Internal(e.to_string()))?
        );
        write(&self.state, &key, &event, 0).await?;
        Ok(())
    }

    /// A new task id: one more than the last.
    async fn next_task_id(&self) -> Result<i64> {
        modify(&self.state, "taskseq", |last: Option<i64>| {
            let next = last.unwrap_or(0) + 1;
            Ok(Step::Put(next, next))
        })
        .await
    }
}

#[async_trait::async_trait]
impl Backend for Nats {
    fn view(&self) -> &Store {
        &self.view
    }

    async fn sync(&self) -> Result<()> {
        self.barriers.everything.wait().await
    }

    async fn sync_agents(&self) -> Result<()> {
        self.barriers.agents.wait().await
    }

    fn bus(&self) -> &Arc<EventBus> {
        &self.bus
    }

    async fn publish(&self, event: RelayEvent) {
        let data = match event.data_json() {
            Ok(data) => data,
            Err(err) => {
                tracing::error!("a {} event could not be serialized: {err}", event.kind());
                return;
            }
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(EVENT_HEADER, event.kind());
        if let Err(err) = self
            .js
            .client()
            .publish_with_headers(self.names.event_subject.clone(), headers, data.into())
            .await
        {
            tracing::warn!("relay: publishing a {} event failed: {err}", event.kind());
        }
    }

    /// The lock is `upkeep` in the lock bucket: whoever holds it renews it
    /// each pass; it expires with the bucket's max age when its holder goes.
    async fn upkeep_turn(&self) -> Result<bool> {
        let frontend = self.frontend.clone();
        modify(&self.locks, "upkeep", |holder: Option<String>| {
            Ok(match holder {
                Some(holder) if holder != frontend => Step::Keep(false),
                _ => Step::Put(frontend.clone(), true),
            })
        })
        .await
    }

    /// A fixed window per wall-clock minute, counted in the lock bucket
    /// (`rate.<integration>.<minute>`) so that every frontend shares it.
    async fn count_event(&self, integration: &str, limit: u32) -> Result<Option<u64>> {
        let now_secs = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let key = format!("rate.{}.{}", key_part(integration), now_secs / 60);
        modify(&self.locks, &key, |count: Option<u32>| {
            let count = count.unwrap_or(0);
            Ok(if count >= limit {
                Step::Keep(Some((60 - now_secs % 60).max(1)))
            } else {
                Step::Put(count + 1, None)
            })
        })
        .await
    }

    async fn register_agent(&self, reg: RegisterAgent, grant: Grant, now: i64) -> Result<Agent> {
        let key = agent_key(&reg.id);
        modify(&self.state, &key, |current: Option<AgentRecord>| {
            let (existing, credentials) = current.map(|c| (c.card, c.credentials)).unzip();
            let mut credentials = credentials.unwrap_or_default();
            let mut card = registered_card(existing.as_ref(), reg.clone(), now);
            if let Some((instance_id, epoch)) =
                credentials.admit(&card.id, &grant, &reg, card.epoch, now)?
            {
                card.instance_id = instance_id;
                card.epoch = epoch;
            }
            card.authenticated = credentials.is_keyed();
            Ok(Step::Put(
                AgentRecord {
                    card: card.clone(),
                    credentials,
                },
                card,
            ))
        })
        .await
    }

    async fn change_credentials(
        &self,
        id: &str,
        change: CredentialChange,
        now: i64,
    ) -> Result<bool> {
        modify(
            &self.state,
            &agent_key(id),
            |current: Option<AgentRecord>| {
                Ok(match current {
                    None => Step::Keep(false),
                    Some(mut record) => {
                        record.credentials.apply(id, &change, now)?;
                        record.card.authenticated = record.credentials.is_keyed();
                        Step::Put(record, true)
                    }
                })
            },
        )
        .await
    }

    async fn delete_agent(&self, id: &str) -> Result<bool> {
        modify(
            &self.state,
            &agent_key(id),
            |current: Option<AgentRecord>| {
                Ok(match current {
                    None => Step::Keep(false),
                    Some(_) => Step::Remove(true),
                })
            },
        )
        .await
    }

    async fn update_agent(&self, id: &str, patch: AgentPatch, now: i64) -> Result<Option<Agent>> {
        modify(
            &self.state,
            &agent_key(id),
            |current: Option<AgentRecord>| {
                Ok(match current {
                    None => Step::Keep(None),
                    Some(mut record) => {
                        patch.clone().apply(&mut record.card);
                        record.card.last_seen = now;
                        let card = record.card.clone();
                        Step::Put(record, Some(card))
                    }
                })
            },
        )
        .await
    }

    async fn mark_stale_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        let stale = self.synced().await?.agents()?;
        let mut marked = Vec::new();
        for agent in stale
            .into_iter()
            .filter(|a| a.status != AgentStatus::Offline && a.last_seen <= cutoff)
        {
            let changed = modify(
                &self.state,
                &agent_key(&agent.id),
                |current: Option<AgentRecord>| {
                    Ok(match current {
                        Some(mut record)
                            if record.card.status != AgentStatus::Offline
                                && record.card.last_seen <= cutoff =>
                        {
                            record.card.status = AgentStatus::Offline;
                            Step::Put(record, true)
                        }
                        _ => Step::Keep(false),
                    })
                },
            )
            .await?;
            if changed {
                marked.push(agent.id);
            }
        }
        self.synced().await?;
        Ok(marked)
    }

    async fn prune_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        let agents = self.synced().await?.agents()?;
        let mut pruned = Vec::new();
        for agent in agents
            .into_iter()
            .filter(|a| a.status == AgentStatus::Offline && a.last_seen <= cutoff)
        {
            // An id that holds a key is kept: pruning it would let anyone claim it.
            let removed = modify(
                &self.state,
                &agent_key(&agent.id),
                |current: Option<AgentRecord>| {
                    Ok(match current {
                        Some(record)
                            if record.card.status == AgentStatus::Offline
                                && record.card.last_seen <= cutoff
                                && !record.credentials.is_keyed() =>
                        {
                            Step::Remove(true)
                        }
                        _ => Step::Keep(false),
                    })
                },
            )
            .await?;
            if removed {
                pruned.push(agent.id);
            }
        }
        Ok(pruned)
    }

    async fn insert_message(&self, out: NewMessage, authenticated: bool) -> Result<Message> {
        let thread_id = match out.reply_to {
            None => None,
            Some(parent) => {
                let parent_message = self.synced().await?.message(parent)?.ok_or_else(|| {
                    RelayError::Invalid(format!("replyTo {parent}: no such message"))
                })?;
                Some(parent_message.thread_id)
            }
        };
        let stored = StoredMessage {
            out,
            thread_id,
            created_at: now_ms(),
            authenticated,
        };
        let payload = serde_json::to_vec(&stored)
            .map_err(|e| RelayError::Internal(format!("encoding the message: {e}")))?;
        let msg_id = random_hex(16).map_err(|e| RelayError::Internal(e.to_string()))?;
        let seq = self
            .publish_durably(&self.names.message_subject, payload.into(), &msg_id)
            .await?;
        Ok(stored.into_message(i64::try_from(seq).unwrap_or(i64::MAX)))
    }

    async fn mark_read(&self, id: i64, agent: &str, now: i64) -> Result<Option<Message>> {
        if self.synced().await?.message(id)?.is_none() {
            return Ok(None);
        }
        let key = format!("read.{id}.{}", key_part(agent));
        if read::<ReadRecord>(&self.message_state, &key)
            .await?
            .value
            .is_none()
        {
            write(&self.message_state, &key, &ReadRecord { at: now }, 0).await?;
        }
        self.synced().await?.message(id)
    }

    async fn delete_message(&self, id: i64) -> Result<bool> {
        if self.synced().await?.message(id)?.is_none() {
            return Ok(false);
        }
        let tombstone = random_hex(16).map_err(|e| RelayError::Internal(e.to_string()))?;
        self.publish_durably(
            &self.names.deleted_subject,
            id.to_string().into(),
            &tombstone,
        )
        .await?;
        if let Ok(seq) = u64::try_from(id) {
            // Already gone (expired, or deleted by another frontend) is fine.
            let _ = self.messages.delete_message(seq).await;
        }
        Ok(true)
    }

    async fn claim_message(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        self.change_claim(id, |current| match current {
            Some(claim) if claim.agent != agent && claim.expires_at > now => {
                Step::Keep(Some(claim.agent))
            }
            current => Step::Put(
                ClaimRecord {
                    agent: agent.to_string(),
                    // The holder claiming again keeps its start.
                    claimed_at: current
                        .filter(|c| c.agent == agent)
                        .map_or(now, |c| c.claimed_at),
                    expires_at: now + lease_ms,
                },
                None,
            ),
        })
        .await
    }

    async fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        self.change_claim(id, |current| match current {
            Some(claim) if claim.agent == agent && claim.expires_at > now => Step::Put(
                ClaimRecord {
                    expires_at: now + lease_ms,
                    ..claim
                },
                None,
            ),
            other => Step::Keep(other.map(|c| c.agent)),
        })
        .await
    }

    async fn release_claim(&self, id: i64, agent: &str) -> Result<ClaimOutcome> {
        self.change_claim(id, |current| match current {
            Some(claim) if claim.agent == agent => Step::Remove(None),
            other => Step::Keep(other.map(|c| c.agent)),
        })
        .await
    }

    /// The stream prunes itself (its max age); this prunes the view.
    async fn prune_messages(&self, cutoff: i64) -> Result<usize> {
        self.view.prune_messages(cutoff)
    }

    async fn create_pair(
        &self,
        id: String,
        from: &str,
        candidates: &[String],
        objective: Option<String>,
        now: i64,
    ) -> Result<Pair> {
        if let Err(open) = self.lock_pair(from, &id, now).await? {
            return Err(RelayError::Conflict(format!(
                "{from} is already in pair {open}; hang it up (or let it be rejected) before starting another"
            )));
        }
        let mut chosen = None;
        for candidate in candidates {
            if self.lock_pair(candidate, &id, now).await?.is_ok() {
                chosen = Some(candidate.clone());
                break;
            }
        }
        let Some(to) = chosen else {
            self.unlock_pair(from, &id).await?;
            return Err(RelayError::Conflict(
                "every matching agent is already in a pair".into(),
            ));
        };
        let pair = Pair {
            id: id.clone(),
            from: from.to_string(),
            to,
            objective,
            status: PairStatus::Pending,
            created_at: now,
            updated_at: now,
            ended_by: None,
        };
        write(&self.state, &pair_key(&id), &pair, 0).await?;
        Ok(pair)
    }

    async fn transition_pair(
        &self,
        id: &str,
        from_states: &[PairStatus],
        next: PairStatus,
        actor: &str,
        now: i64,
    ) -> Result<Option<Pair>> {
        let updated = modify(&self.state, &pair_key(id), |current: Option<Pair>| {
            Ok(match current {
                Some(mut pair) if from_states.contains(&pair.status) => {
                    pair.status = next;
                    pair.updated_at = now;
                    if matches!(next, PairStatus::Rejected | PairStatus::Ended) {
                        pair.ended_by = Some(actor.to_string());
                    }
                    Step::Put(pair.clone(), Some(pair))
                }
                _ => Step::Keep(None),
            })
        })
        .await?;
        if let Some(pair) = updated
            .as_ref()
            .filter(|p| !matches!(p.status, PairStatus::Pending | PairStatus::Active))
        {
            self.unlock_pair(&pair.from, id).await?;
            self.unlock_pair(&pair.to, id).await?;
        }
        Ok(updated)
    }

    async fn ingest_task(&self, new: NewTask, message: NewMessage, now: i64) -> Result<Ingested> {
        let dedupe = new
            .dedupe_key
            .as_ref()
            .map(|key| format!("dedupe.{}.{}", key_part(&new.source), key_part(key)));
        if let Some(dedupe) = &dedupe {
            if let Some(task) = self.repeat_task(dedupe, &new, now).await? {
                return Ok(Ingested::Repeated(Box::new(task)));
            }
        }
        let id = self.next_task_id().await?;
        let own_key = task_key(id);
        let mut task = Task {
            id,
            source: new.source.clone(),
            kind: new.kind.clone(),
            severity: new.severity.clone(),
            dedupe_key: new.dedupe_key.clone(),
            title: new.title.clone(),
            body: new.body.clone(),
            target: new.target.clone(),
            channel: new.channel.clone(),
            external_url: new.external_url.clone(),
            metadata: new.metadata.clone(),
            status: TaskStatus::Open,
            claimed_by: None,
            result: None,
            progress: None,
            occurrence_count: 1,
            message_id: None,
            created_at: now,
            updated_at: now,
            last_seen_at: now,
        };
        // The task is written before its dedupe key, so a dedupe key always
        // names a task that exists.
        let revision = write(&self.state, &own_key, &task, 0)
            .await?
            .ok_or_else(|| RelayError::Internal(format!("task {id} exists already")))?;
        if let Some(dedupe) = &dedupe {
            if let Some(task) = self.take_dedupe(dedupe, id, &own_key, &new, now).await? {
                return Ok(Ingested::Repeated(Box::new(task)));
            }
        }
        let mut message = message;
        message.meta.insert("taskId".into(), Value::from(id));
        let message = self.insert_message(message, false).await?;
        task.message_id = Some(message.id);
        write(&self.state, &own_key, &task, revision).await?;
        self.add_task_event(
            id,
            "created",
            Some(&new.source),
            json!({ "messageId": message.id }),
            now,
        )
        .await?;
        Ok(Ingested::Created {
            task: Box::new(task),
            message: Box::new(message),
        })
    }

    async fn claim_task(&self, id: i64, agent: &str, now: i64) -> Result<TaskClaim> {
        let outcome = modify(&self.state, &task_key(id), |current: Option<Task>| {
            Ok(match current {
                None => Step::Keep(TaskClaim::NotFound),
                Some(mut task) => {
                    let mine = task.claimed_by.as_deref() == Some(agent)
                        && task.status == TaskStatus::Claimed;
                    if task.status == TaskStatus::Open || mine {
                        task.status = TaskStatus::Claimed;
                        task.claimed_by = Some(agent.to_string());
                        task.updated_at = now;
                        Step::Put(task.clone(), TaskClaim::Done(Box::new(task)))
                    } else {
                        Step::Keep(TaskClaim::HeldBy(task.claimed_by, task.status))
                    }
                }
            })
        })
        .await?;
        if matches!(outcome, TaskClaim::Done(_)) {
            self.add_task_event(id, "claimed", Some(agent), json!({}), now)
                .await?;
        }
        Ok(outcome)
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
        let updated = modify(&self.state, &task_key(id), |current: Option<Task>| {
            Ok(match current {
                None => Step::Keep(None),
                Some(mut task) => {
                    task.status = status;
                    task.result = result.clone().or(task.result);
                    task.progress = progress.clone().or(task.progress);
                    task.claimed_by = match status {
                        TaskStatus::Open => None,
                        _ => task.claimed_by.or_else(|| actor.map(String::from)),
                    };
                    task.updated_at = now;
                    Step::Put(task.clone(), Some(task))
                }
            })
        })
        .await?;
        if updated.is_some() {
            let detail =
                json!({ "status": status.as_str(), "result": result, "progress": progress });
            self.add_task_event(id, "status", actor, detail, now)
                .await?;
        }
        Ok(updated)
    }

    /// Queued on the work-queue stream, recorded as pending; one frontend's
    /// [`deliver_callbacks`] takes it.
    async fn queue_callback(&self, job: CallbackJob, now: i64) -> Result<()> {
        let record = CallbackJobRecord {
            task: job.task,
            integration: job.integration,
            url: job.url,
            event: job.event,
            payload: job.payload,
            created_at: now,
        };
        let payload = serde_json::to_vec(&record)
            .map_err(|e| RelayError::Internal(format!("encoding the callback: {e}")))?;
        let msg_id = random_hex(16).map_err(|e| RelayError::Internal(e.to_string()))?;
        let seq = self
            .publish_durably(&self.names.callback_subject, payload.into(), &msg_id)
            .await?;
        let pending = callback_record(
            i64::try_from(seq).unwrap_or(i64::MAX),
            &record,
            "pending",
            0,
            None,
        );
        // The deliverer may have written the outcome already: never over it.
        write(
            &self.state,
            &format!("callback.{}.{seq}", record.task),
            &pending,
            0,
        )
        .await?;
        Ok(())
    }
}

impl Nats {
    /// Points `dedupe` at the new task `id`, unless another active task took
    /// it meanwhile: then the new task is withdrawn and the other one counts
    /// the occurrence (returned).
    async fn take_dedupe(
        &self,
        dedupe: &str,
        id: i64,
        own_key: &str,
        new: &NewTask,
        now: i64,
    ) -> Result<Option<Task>> {
        loop {
            let current = read::<i64>(&self.state, dedupe).await?;
            if let Some(other) = current.value.filter(|other| *other != id) {
                let active = read::<Task>(&self.state, &task_key(other))
                    .await?
                    .value
                    .is_some_and(|t| t.status.is_active());
                if active {
                    if let Some(task) = self.repeat_task(dedupe, new, now).await? {
                        modify(&self.state, own_key, |_: Option<Task>| Ok(Step::Remove(())))
                            .await?;
                        return Ok(Some(task));
                    }
                    continue;
                }
            }
            if write(&self.state, dedupe, &id, current.revision)
                .await?
                .is_some()
            {
                return Ok(None);
            }
        }
    }

    /// When an active task holds `dedupe`, counts one more occurrence of it.
    async fn repeat_task(&self, dedupe: &str, new: &NewTask, now: i64) -> Result<Option<Task>> {
        let Some(id) = read::<i64>(&self.state, dedupe).await?.value else {
            return Ok(None);
        };
        let repeated = modify(&self.state, &task_key(id), |current: Option<Task>| {
            Ok(match current {
                Some(mut task) if task.status.is_active() => {
                    task.occurrence_count += 1;
                    task.last_seen_at = now;
                    task.updated_at = now;
                    Step::Put(task.clone(), Some(task))
                }
                _ => Step::Keep(None),
            })
        })
        .await?;
        if repeated.is_some() {
            self.add_task_event(
                id,
                "occurrence",
                Some(&new.source),
                json!({ "title": new.title }),
                now,
            )
            .await?;
        }
        Ok(repeated)
    }
}
