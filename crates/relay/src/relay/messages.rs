//! Messages: send (alone or through the group-commit writer), read, claims.

use super::*;

impl Relay {
    /// Sends as `from` without proof (in-process callers: tests, benches).
    pub fn send(&self, req: NewMessage) -> Result<Message> {
        let out = self.validate_message(req)?;
        self.store_and_publish(out, false)
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
    /// `authenticated`: the caller proved the key of `from` ([`Relay::authorize`]).
    pub async fn send_grouped(&self, req: NewMessage, authenticated: bool) -> Result<Message> {
        let out = self.validate_message(req)?;
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

    pub(super) fn store_and_publish(
        &self,
        out: NewMessage,
        authenticated: bool,
    ) -> Result<Message> {
        let message = self.store.insert_message(out, authenticated, now_ms())?;
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

    pub(super) fn claimant(&self, agent: &str, proof: &InstanceProof) -> Result<String> {
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

/// Messages waiting for the writer; senders wait beyond it. The channel
/// allocates every slot up front (about 220 bytes each): two batches
/// keep the writer busy without holding megabytes at idle.
pub(super) const WRITER_QUEUE: usize = 2 * WRITER_BATCH;
/// The most messages one transaction commits.
const WRITER_BATCH: usize = 512;

pub(super) struct Pending {
    out: NewMessage,
    authenticated: bool,
    reply: tokio::sync::oneshot::Sender<Result<Message>>,
}

/// The writer thread: takes what is queued, commits it in one transaction,
/// publishes each message (in id order), answers each sender. Ends with the
/// relay.
pub(super) fn write_messages(
    relay: std::sync::Weak<Relay>,
    queue: std::sync::mpsc::Receiver<Pending>,
) {
    while let Ok(first) = queue.recv() {
        let Some(relay) = relay.upgrade() else { return };
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
