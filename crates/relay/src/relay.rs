//! The relay's core: validation, fencing, routing and events over the store.
//! The HTTP routes are thin adapters over these methods.

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
    http: reqwest::Client,
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
        let http = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            .build()
            .map_err(|e| RelayError::Internal(format!("building the callback client: {e}")))?;
        let (writer, queue) = std::sync::mpsc::sync_channel(WRITER_QUEUE);
        let relay = Arc::new(Self {
            store: Arc::new(store),
            writer,
            settings,
            bus: EventBus::default(),
            http,
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

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    // ------------------------------------------------------------ agents

    pub fn register(&self, req: RegisterAgent) -> Result<Agent> {
        check_meta("meta", &req.meta)?;
        let registration = RegisterAgent {
            id: check_id("id", &req.id)?,
            name: check_optional("name", req.name, MAX_SHORT_CHARS)?,
            label: check_optional("label", req.label, MAX_SHORT_CHARS)?,
            machine: check_optional("machine", req.machine, MAX_SHORT_CHARS)?,
            rig: check_optional("rig", req.rig, MAX_SHORT_CHARS)?,
            tags: check_list("tags", req.tags)?,
            capabilities: check_list("capabilities", req.capabilities)?,
            channels: check_list("channels", req.channels)?,
            status: req.status,
            ready: req.ready,
            instance_id: check_optional("instanceId", req.instance_id, MAX_ID_CHARS)?,
            meta: req.meta,
        };
        let agent = self.store.register_agent(registration, now_ms())?;
        self.bus.publish(RelayEvent::AgentRegistered(agent.clone()));
        Ok(agent)
    }

    pub fn agent(&self, id: &str) -> Result<Agent> {
        self.store.agent(id)?.ok_or_else(|| unknown_agent(id))
    }

    pub fn agents(&self) -> Result<Vec<Agent>> {
        self.store.agents()
    }

    pub fn remove_agent(&self, id: &str) -> Result<()> {
        if !self.store.delete_agent(id)? {
            return Err(unknown_agent(id));
        }
        self.bus.publish(RelayEvent::AgentRemoved(AgentRemoved {
            id: id.to_string(),
        }));
        Ok(())
    }

    /// 409 when the call comes from an instance a newer registration replaced.
    fn check_proof(&self, agent: &Agent, proof: &InstanceProof) -> Result<()> {
        match (&proof.instance_id, proof.epoch) {
            (None, None) => Ok(()),
            (Some(instance), Some(epoch)) => {
                if agent.instance_id.as_deref() == Some(instance.as_str()) && agent.epoch == epoch {
                    Ok(())
                } else {
                    Err(RelayError::StaleInstance(format!(
                        "agent {} is now instance {} at epoch {}; this call came from an older instance ({instance}, epoch {epoch}); stop it or register again",
                        agent.id,
                        agent.instance_id.as_deref().unwrap_or("-"),
                        agent.epoch
                    )))
                }
            }
            _ => Err(RelayError::Invalid(
                "send `instanceId` and `epoch` together, or neither".into(),
            )),
        }
    }

    pub fn heartbeat(&self, id: &str, proof: &InstanceProof) -> Result<Agent> {
        self.update_agent(id, proof, AgentPatch::default())
    }

    /// Applies a change to an agent card (after the fencing check) and
    /// publishes it.
    pub fn update_agent(
        &self,
        id: &str,
        proof: &InstanceProof,
        mut patch: AgentPatch,
    ) -> Result<Agent> {
        let current = self.agent(id)?;
        self.check_proof(&current, proof)?;
        if patch.status.is_none() && current.status == AgentStatus::Offline {
            // A heartbeat or any other call from an agent means it is back.
            patch.status = Some(AgentStatus::Online);
        }
        let status_changed = patch.status.is_some_and(|s| s != current.status)
            || patch.ready.is_some_and(|r| r != current.ready);
        let card_changed = patch.label.is_some()
            || patch.tags.is_some()
            || patch.capabilities.is_some()
            || patch.channels.is_some()
            || patch.meta.is_some();
        if let Some(meta) = &patch.meta {
            check_meta("meta", meta)?;
        }
        let agent = self
            .store
            .update_agent(id, patch, now_ms())?
            .ok_or_else(|| unknown_agent(id))?;
        if status_changed {
            self.bus.publish(RelayEvent::AgentStatus(agent.clone()));
        }
        if card_changed {
            self.bus.publish(RelayEvent::AgentUpdated(agent.clone()));
        }
        Ok(agent)
    }

    // ---------------------------------------------------------- messages

    pub fn send(&self, req: NewMessage) -> Result<Message> {
        let out = self.validate_message(req)?;
        self.store_and_publish(out)
    }

    fn validate_message(&self, req: NewMessage) -> Result<NewMessage> {
        check_meta("meta", &req.meta)?;
        Ok(NewMessage {
            from: check_id("from", &req.from)?,
            to: Target::parse(&req.to)?.to_wire(),
            channel: check_optional("channel", req.channel, MAX_SHORT_CHARS)?,
            subject: check_optional("subject", req.subject, MAX_SHORT_CHARS)?,
            body: nonempty_body(&req.body)?,
            reply_to: req.reply_to,
            claimable: req.claimable,
            kind: check_optional("type", req.kind, MAX_SHORT_CHARS)?,
            meta: req.meta,
            urgent: req.urgent,
        })
    }

    /// `send` for request handlers: the message is committed with whatever
    /// else is waiting (group commit) without blocking a runtime worker.
    pub async fn send_grouped(&self, req: NewMessage) -> Result<Message> {
        let out = self.validate_message(req)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || RelayError::Internal("the relay's writer stopped".into());
        match self.writer.try_send(Pending { out, reply }) {
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

    fn store_and_publish(&self, out: NewMessage) -> Result<Message> {
        let message = self.store.insert_message(out, now_ms())?;
        self.bus.publish(RelayEvent::MessageNew(message.clone()));
        Ok(message)
    }

    pub fn message(&self, id: i64) -> Result<Message> {
        self.store.message(id)?.ok_or_else(|| unknown_message(id))
    }

    /// `for=` reads through the agent's current card (id, tags, capabilities,
    /// label, broadcast); a reader that never registered (a person, a script)
    /// gets what is addressed to its id and to `broadcast`.
    pub fn messages(&self, query: &MessageQuery) -> Result<Vec<Message>> {
        let reader = match &query.for_agent {
            None => None,
            Some(id) => {
                let id = check_id("for", id)?;
                let addresses = match self.store.agent(&id)? {
                    Some(agent) => Target::addresses_of(&agent),
                    None => vec![id.clone(), "broadcast".into()],
                };
                Some(Reader {
                    agent_id: id,
                    addresses,
                })
            }
        };
        self.store.messages(query, reader.as_ref())
    }

    pub fn cursor(&self) -> Result<i64> {
        self.store.latest_message_id()
    }

    pub fn mark_read(&self, id: i64, agent: &str) -> Result<Message> {
        let agent = check_id("readBy", agent)?;
        let message = self
            .store
            .mark_read(id, &agent, now_ms())?
            .ok_or_else(|| unknown_message(id))?;
        self.bus.publish(RelayEvent::MessageRead(MessageRead {
            id,
            agent_id: agent,
        }));
        Ok(message)
    }

    pub fn delete_message(&self, id: i64) -> Result<()> {
        if !self.store.delete_message(id)? {
            return Err(unknown_message(id));
        }
        self.bus
            .publish(RelayEvent::MessageDeleted(MessageDeleted { id }));
        Ok(())
    }

    fn claimant(&self, agent: &str, proof: &InstanceProof) -> Result<String> {
        let agent = check_id("agentId", agent)?;
        let card = self.store.agent(&agent)?.ok_or_else(|| {
            RelayError::NotFound(format!(
                "agent {agent} is not registered; register it (POST /api/agents) before claiming"
            ))
        })?;
        self.check_proof(&card, proof)?;
        Ok(agent)
    }

    fn lease_ms(&self, lease_ms: Option<i64>) -> Result<i64> {
        match lease_ms {
            None => Ok(millis(self.settings.claim_lease)),
            Some(ms) if (1_000..=86_400_000).contains(&ms) => Ok(ms),
            Some(ms) => Err(RelayError::Invalid(format!(
                "leaseMs {ms} must be between 1000 and 86400000"
            ))),
        }
    }

    pub fn claim(
        &self,
        id: i64,
        agent: &str,
        proof: &InstanceProof,
        lease_ms: Option<i64>,
    ) -> Result<Message> {
        let agent = self.claimant(agent, proof)?;
        let outcome = self
            .store
            .claim_message(id, &agent, now_ms(), self.lease_ms(lease_ms)?)?;
        let message = claim_outcome(id, outcome, "claimed by")?;
        self.bus
            .publish(RelayEvent::MessageClaimed(message.clone()));
        Ok(message)
    }

    pub fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        proof: &InstanceProof,
        lease_ms: Option<i64>,
    ) -> Result<Message> {
        let agent = self.claimant(agent, proof)?;
        let outcome = self
            .store
            .renew_claim(id, &agent, now_ms(), self.lease_ms(lease_ms)?)?;
        claim_outcome(id, outcome, "not held by you; holder:")
    }

    pub fn release_claim(&self, id: i64, agent: &str, proof: &InstanceProof) -> Result<Message> {
        let agent = self.claimant(agent, proof)?;
        let message = claim_outcome(
            id,
            self.store.release_claim(id, &agent)?,
            "not held by you; holder:",
        )?;
        self.bus
            .publish(RelayEvent::MessageReleased(message.clone()));
        Ok(message)
    }

    // ------------------------------------------------------------- pairs

    /// Invites `target` (an id, or the most recently seen ready agent that
    /// matches a `tag:`/`cap:`/`label:`) to pair with `from`.
    pub fn invite(&self, from: &str, target: &str, objective: Option<String>) -> Result<Pair> {
        let from = check_id("from", from)?;
        let objective = check_optional("objective", objective, MAX_BODY_CHARS)?;
        let candidates: Vec<String> = match Target::parse(target)? {
            Target::Broadcast => {
                return Err(RelayError::Invalid(
                    "a pair needs one agent: use an id, tag:, cap: or label:".into(),
                ))
            }
            Target::Agent(id) => {
                if id == from {
                    return Err(RelayError::Invalid(
                        "an agent cannot pair with itself".into(),
                    ));
                }
                vec![self.agent(&id)?.id]
            }
            target => {
                let mut matching: Vec<Agent> = self
                    .store
                    .agents()?
                    .into_iter()
                    .filter(|a| {
                        a.id != from
                            && a.ready
                            && a.status != AgentStatus::Offline
                            && target.matches(a)
                    })
                    .collect();
                matching.sort_by_key(|a| std::cmp::Reverse(a.last_seen));
                if matching.is_empty() {
                    return Err(RelayError::NotFound(format!(
                        "no ready, online agent matches {}",
                        target.to_wire()
                    )));
                }
                matching.into_iter().map(|a| a.id).collect()
            }
        };
        let id = format!(
            "pair-{}",
            random_hex(8).map_err(|e| RelayError::Internal(e.to_string()))?
        );
        let pair = self
            .store
            .create_pair(id, &from, &candidates, objective.clone(), now_ms())?;
        let body = objective.unwrap_or_else(|| format!("{from} would like to pair with you."));
        self.pair_notice(
            &pair,
            &from,
            &pair.to,
            "pair.invite",
            format!("Pair invite from {from}"),
            body,
        )?;
        self.bus.publish(RelayEvent::PairInvited(pair.clone()));
        Ok(pair)
    }

    pub fn pair(&self, id: &str) -> Result<Pair> {
        self.store
            .pair(id)?
            .ok_or_else(|| RelayError::NotFound(format!("no pair {id}")))
    }

    pub fn pairs(&self, agent: Option<&str>, status: Option<PairStatus>) -> Result<Vec<Pair>> {
        self.store.pairs(agent, status)
    }

    /// Accept (`to` only), reject (`to` only) or hang up (either side).
    pub fn answer_pair(&self, id: &str, agent: &str, next: PairStatus) -> Result<Pair> {
        let pair = self.pair(id)?;
        let agent = check_id("agentId", agent)?;
        let member = agent == pair.from || agent == pair.to;
        let (allowed_from, may_act): (&[PairStatus], bool) = match next {
            PairStatus::Active | PairStatus::Rejected => (&[PairStatus::Pending], agent == pair.to),
            PairStatus::Ended => (&[PairStatus::Pending, PairStatus::Active], member),
            PairStatus::Pending => {
                return Err(RelayError::Invalid(
                    "a pair cannot go back to pending".into(),
                ))
            }
        };
        if !may_act {
            return Err(RelayError::Forbidden(format!(
                "{agent} may not {} pair {id}",
                verb(next)
            )));
        }
        let updated = self
            .store
            .transition_pair(id, allowed_from, next, &agent, now_ms())?
            .ok_or_else(|| {
                RelayError::Conflict(format!(
                    "pair {id} is {}; it cannot be {}",
                    pair.status.as_str(),
                    past(next)
                ))
            })?;
        let other = if agent == pair.from {
            &pair.to
        } else {
            &pair.from
        };
        let (event, subject) = match next {
            PairStatus::Active => (
                RelayEvent::PairAccepted(updated.clone()),
                format!("{agent} accepted the pair"),
            ),
            PairStatus::Rejected => (
                RelayEvent::PairRejected(updated.clone()),
                format!("{agent} declined the pair"),
            ),
            _ => (
                RelayEvent::PairEnded(updated.clone()),
                format!("{agent} ended the pair"),
            ),
        };
        self.pair_notice(
            &updated,
            &agent,
            other,
            event.kind(),
            subject.clone(),
            subject,
        )?;
        self.bus.publish(event);
        Ok(updated)
    }

    /// Pair chat: from one member to the other, on channel `pair:<id>`.
    pub fn pair_message(&self, id: &str, from: &str, body: &str) -> Result<Message> {
        let pair = self.pair(id)?;
        let from = check_id("from", from)?;
        if from != pair.from && from != pair.to {
            return Err(RelayError::Forbidden(format!("{from} is not in pair {id}")));
        }
        if pair.status != PairStatus::Active {
            return Err(RelayError::Conflict(format!(
                "pair {id} is {}, not active",
                pair.status.as_str()
            )));
        }
        let to = if from == pair.from {
            pair.to
        } else {
            pair.from
        };
        let mut meta = Map::new();
        meta.insert("pairId".into(), Value::from(id));
        self.store_and_publish(NewMessage {
            from,
            to,
            channel: Some(format!("pair:{id}")),
            subject: None,
            body: nonempty_body(body)?,
            reply_to: None,
            claimable: false,
            kind: Some("pair.message".into()),
            meta,
            urgent: false,
        })
    }

    pub fn pair_messages(&self, id: &str) -> Result<Vec<Message>> {
        self.pair(id)?;
        let query = MessageQuery {
            channel: Some(format!("pair:{id}")),
            limit: Some(1000),
            ..Default::default()
        };
        self.store.messages(&query, None)
    }

    fn pair_notice(
        &self,
        pair: &Pair,
        from: &str,
        to: &str,
        kind: &str,
        subject: String,
        body: String,
    ) -> Result<Message> {
        let mut meta = Map::new();
        meta.insert("pairId".into(), Value::from(pair.id.clone()));
        meta.insert("pairStatus".into(), Value::from(pair.status.as_str()));
        self.store_and_publish(NewMessage {
            from: from.to_string(),
            to: to.to_string(),
            channel: Some(format!("pair:{}", pair.id)),
            subject: Some(subject),
            body,
            reply_to: None,
            claimable: false,
            kind: Some(kind.to_string()),
            meta,
            urgent: false,
        })
    }

    // ------------------------------------------------------------- tasks

    /// The integration this token belongs to (compared in constant time).
    pub fn integration_for_token(&self, token: &str) -> Option<&Integration> {
        self.settings
            .integrations
            .iter()
            .find(|i| ct_eq(&i.token, token))
    }

    fn check_rate(&self, integration: &Integration) -> Result<()> {
        let limit = self.settings.integration_rate_limit_per_minute;
        let mut rate = self.rate.lock_unpoisoned();
        let now = Instant::now();
        let entry = rate.entry(integration.name.clone()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let retry_after_secs = 60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1);
            return Err(RelayError::RateLimited {
                integration: integration.name.clone(),
                limit,
                retry_after_secs,
            });
        }
        entry.1 += 1;
        Ok(())
    }

    /// `POST /api/integrations/events`: creates a task (and its claimable
    /// message), counts a repeat of an active one, or resolves it. Returns
    /// the task and whether it was created.
    pub fn ingest(
        &self,
        integration: &Integration,
        event: IntegrationEvent,
    ) -> Result<(Task, bool)> {
        if !integration.scopes.iter().any(|s| s == "tasks:create") {
            return Err(RelayError::Forbidden(format!(
                "integration {:?} lacks the tasks:create scope",
                integration.name
            )));
        }
        self.check_rate(integration)?;
        check_meta("metadata", &event.metadata)?;
        let source = integration.name.clone();
        let dedupe_key = check_optional("dedupeKey", event.dedupe_key, MAX_SHORT_CHARS)?;
        if event.status.as_deref() == Some("resolved") {
            let key = dedupe_key.ok_or_else(|| {
                RelayError::Invalid("`status: resolved` needs the task's dedupeKey".into())
            })?;
            let task = self.store.active_task(&source, &key)?.ok_or_else(|| {
                RelayError::NotFound(format!(
                    "no active task from {source} with dedupeKey {key:?}"
                ))
            })?;
            let task = self.set_task_status(
                task.id,
                TaskStatus::Done,
                Some("resolved by the source".into()),
                None,
                Some(&source),
            )?;
            return Ok((task, false));
        }
        if let Some(status) = event.status.as_deref().filter(|s| *s != "open") {
            return Err(RelayError::Invalid(format!(
                "`status` may be \"resolved\" (or omitted), not {status:?}"
            )));
        }
        let target = Target::parse(
            event
                .target
                .as_deref()
                .or(integration.targets.first().map(String::as_str))
                .ok_or_else(|| {
                    RelayError::Invalid(
                        "`target` is required (an id, tag:, cap:, label: or broadcast)".into(),
                    )
                })?,
        )?
        .to_wire();
        if !integration.targets.is_empty() && !integration.targets.contains(&target) {
            return Err(RelayError::Forbidden(format!(
                "integration {source:?} may target {:?}, not {target:?}",
                integration.targets
            )));
        }
        let channel = check_optional("channel", event.channel, MAX_SHORT_CHARS)?
            .or_else(|| integration.channels.first().cloned());
        if let Some(channel) = &channel {
            if !integration.channels.is_empty() && !integration.channels.contains(channel) {
                return Err(RelayError::Forbidden(format!(
                    "integration {source:?} may post in {:?}, not {channel:?}",
                    integration.channels
                )));
            }
        }
        let title = check_optional("title", event.title, MAX_SHORT_CHARS)?
            .ok_or_else(|| RelayError::Invalid("`title` is required".into()))?;
        let body = check_optional("body", event.body, MAX_BODY_CHARS)?;
        let kind =
            check_optional("type", event.kind, MAX_SHORT_CHARS)?.unwrap_or_else(|| "event".into());
        let severity = check_optional("severity", event.severity, MAX_SHORT_CHARS)?;
        let external_url = check_optional("externalUrl", event.external_url, 2_000)?;
        let message_body = [Some(title.clone()), body.clone(), external_url.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut meta = Map::new();
        meta.insert("source".into(), Value::from(source.clone()));
        if let Some(severity) = &severity {
            meta.insert("severity".into(), Value::from(severity.clone()));
        }
        let message = NewMessage {
            from: format!("integration:{source}"),
            to: target.clone(),
            channel: channel.clone(),
            subject: Some(title.clone()),
            body: message_body,
            reply_to: None,
            claimable: true,
            kind: Some("task".into()),
            meta,
            urgent: severity.as_deref() == Some("critical"),
        };
        let new = NewTask {
            source,
            kind,
            severity,
            dedupe_key,
            title,
            body,
            target,
            channel,
            external_url,
            metadata: event.metadata,
        };
        match self.store.ingest_task(new, message, now_ms())? {
            Ingested::Created { task, message } => {
                self.bus.publish(RelayEvent::MessageNew((*message).clone()));
                self.bus.publish(RelayEvent::TaskCreated((*task).clone()));
                self.callback(integration, &task, "task.created");
                Ok((*task, true))
            }
            Ingested::Repeated(task) => {
                self.bus.publish(RelayEvent::TaskUpdated((*task).clone()));
                Ok((*task, false))
            }
        }
    }

    pub fn task(&self, id: i64) -> Result<Task> {
        self.store
            .task(id)?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))
    }

    pub fn tasks(
        &self,
        status: Option<&str>,
        source: Option<&str>,
        target: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Task>> {
        let status = status
            .map(|s| TaskStatus::parse(s).ok_or_else(|| invalid_task_status(s)))
            .transpose()?;
        self.store
            .tasks(status, source, target, limit.unwrap_or(100).clamp(1, 1000))
    }

    pub fn task_events(&self, id: i64) -> Result<Vec<TaskEvent>> {
        self.task(id)?;
        self.store.task_events(id)
    }

    pub fn task_callbacks(&self, id: i64) -> Result<Vec<Callback>> {
        self.task(id)?;
        self.store.callbacks(id)
    }

    pub fn claim_task(&self, id: i64, agent: &str, proof: &InstanceProof) -> Result<Task> {
        let agent = self.claimant(agent, proof)?;
        let task = match self.store.claim_task(id, &agent, now_ms())? {
            TaskClaim::Done(task) => *task,
            TaskClaim::NotFound => return Err(RelayError::NotFound(format!("no task {id}"))),
            TaskClaim::HeldBy(holder, status) => {
                return Err(RelayError::Conflict(format!(
                    "task {id} is {} (held by {})",
                    status.as_str(),
                    holder.as_deref().unwrap_or("nobody")
                )))
            }
        };
        self.bus.publish(RelayEvent::TaskClaimed(task.clone()));
        self.callback_for_source(&task, "task.claimed");
        Ok(task)
    }

    pub fn update_task(
        &self,
        id: i64,
        status: &str,
        result: Option<String>,
        progress: Option<String>,
        agent: Option<&str>,
    ) -> Result<Task> {
        let status = TaskStatus::parse(status).ok_or_else(|| invalid_task_status(status))?;
        let result = check_optional("result", result, MAX_BODY_CHARS)?;
        let progress = check_optional("progress", progress, MAX_SHORT_CHARS)?;
        let agent = agent.map(|a| check_id("agentId", a)).transpose()?;
        self.task(id)?;
        self.set_task_status(id, status, result, progress, agent.as_deref())
    }

    fn set_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
    ) -> Result<Task> {
        let task = self
            .store
            .update_task_status(id, status, result, progress, actor, now_ms())?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))?;
        self.bus.publish(RelayEvent::TaskStatus(task.clone()));
        self.callback_for_source(&task, "task.status");
        Ok(task)
    }

    fn callback_for_source(&self, task: &Task, event: &str) {
        if let Some(integration) = self
            .settings
            .integrations
            .iter()
            .find(|i| i.name == task.source)
        {
            self.callback(integration, task, event);
        }
    }

    /// Records the callback in SQLite, then POSTs it once in the background.
    fn callback(&self, integration: &Integration, task: &Task, event: &str) {
        let Some(url) = integration.callback_url.clone() else {
            return;
        };
        let payload = json!({ "event": event, "task": task });
        let id = match self.store.insert_callback(
            task.id,
            &integration.name,
            &url,
            event,
            &payload,
            now_ms(),
        ) {
            Ok(id) => id,
            Err(err) => {
                tracing::error!(
                    "relay: recording a callback for task {} failed: {err}",
                    task.id
                );
                return;
            }
        };
        let http = self.http.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let relay_store = Arc::downgrade(&self.store);
        runtime.spawn(async move {
            let outcome = match http.post(&url).json(&payload).send().await {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some(format!("HTTP {}", response.status())),
                Err(err) => Some(err.to_string()),
            };
            if let Some(store) = relay_store.upgrade() {
                if let Err(err) = store.finish_callback(id, outcome.as_deref(), now_ms()) {
                    tracing::error!("relay: recording callback {id}'s outcome failed: {err}");
                }
            }
        });
    }

    // ------------------------------------------------------------- upkeep

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

fn claim_outcome(id: i64, outcome: ClaimOutcome, held: &str) -> Result<Message> {
    match outcome {
        ClaimOutcome::Done(message) => Ok(*message),
        ClaimOutcome::NotFound => Err(unknown_message(id)),
        ClaimOutcome::NotClaimable => Err(RelayError::Invalid(format!(
            "message {id} is not claimable"
        ))),
        ClaimOutcome::HeldBy(holder) => Err(RelayError::Conflict(format!(
            "message {id} is {held} {}",
            holder.as_deref().unwrap_or("nobody (or its lease ran out)")
        ))),
    }
}

fn nonempty_body(body: &str) -> Result<String> {
    if body.trim().is_empty() {
        return Err(RelayError::Invalid("`body` is empty".into()));
    }
    Ok(check_text("body", body, MAX_BODY_CHARS)?)
}

fn unknown_agent(id: &str) -> RelayError {
    RelayError::NotFound(format!("no agent {id}; register it with POST /api/agents"))
}

fn unknown_message(id: i64) -> RelayError {
    RelayError::NotFound(format!("no message {id}"))
}

pub(crate) fn parse_status(s: &str) -> Result<AgentStatus> {
    AgentStatus::parse(s).ok_or_else(|| {
        RelayError::Invalid(format!(
            "status {s:?} is not one of online, busy, idle, away, offline"
        ))
    })
}

fn invalid_task_status(s: &str) -> RelayError {
    RelayError::Invalid(format!(
        "task status {s:?} is not one of open, claimed, in_progress, blocked, done, failed, cancelled"
    ))
}

fn verb(next: PairStatus) -> &'static str {
    match next {
        PairStatus::Active => "accept",
        PairStatus::Rejected => "reject",
        _ => "hang up",
    }
}

fn past(next: PairStatus) -> &'static str {
    match next {
        PairStatus::Active => "accepted",
        PairStatus::Rejected => "rejected",
        _ => "ended",
    }
}

const WRITER_QUEUE: usize = 4096;
/// The most messages one transaction commits.
const WRITER_BATCH: usize = 512;

struct Pending {
    out: NewMessage,
    reply: tokio::sync::oneshot::Sender<Result<Message>>,
}

/// The writer thread: takes what is queued, commits it in one transaction,
/// publishes each message (in id order), answers each sender. Ends with the
/// relay.
fn write_messages(relay: std::sync::Weak<Relay>, queue: std::sync::mpsc::Receiver<Pending>) {
    while let Ok(first) = queue.recv() {
        let Some(relay) = relay.upgrade() else { return };
        let mut batch = vec![first];
        while batch.len() < WRITER_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (outs, replies): (Vec<NewMessage>, Vec<_>) =
            batch.into_iter().map(|p| (p.out, p.reply)).unzip();
        match relay.store.insert_messages(outs, now_ms()) {
            Ok(outcomes) => {
                for (outcome, reply) in outcomes.into_iter().zip(replies) {
                    if let Ok(message) = &outcome {
                        relay.bus.publish(RelayEvent::MessageNew(message.clone()));
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
