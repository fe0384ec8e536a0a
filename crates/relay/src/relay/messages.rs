//! Messages: send, read, claims.

use super::*;

impl Relay {
    /// Sends as `from` without proof (in-process callers: tests, benches).
    pub async fn send(&self, req: NewMessage) -> Result<Message> {
        self.send_as(req, false).await
    }

    /// Validates and stores `req` (on the SQLite backend, committed with
    /// whatever else is waiting). `authenticated`: the caller proved the key
    /// of `from` ([`Relay::authorize`]).
    pub async fn send_as(&self, req: NewMessage, authenticated: bool) -> Result<Message> {
        let out = self.validate_message(req)?;
        self.backend.insert_message(out, authenticated).await
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

    pub async fn message(&self, id: i64) -> Result<Message> {
        self.view()
            .await?
            .message(id)?
            .ok_or_else(|| unknown_message(id))
    }

    /// `for=` reads through the agent's current card (id, tags, capabilities,
    /// label, broadcast); a reader that never registered (a person, a script)
    /// gets what is addressed to its id and to `broadcast`.
    pub async fn messages(&self, query: &MessageQuery) -> Result<Vec<Message>> {
        let view = self.view().await?;
        let reader = match &query.for_agent {
            None => None,
            Some(id) => {
                let id = check_id("for", id)?;
                let addresses = match view.agent(&id)? {
                    Some(agent) => Target::addresses_of(&agent),
                    None => vec![id.clone(), "broadcast".into()],
                };
                Some(Reader {
                    agent_id: id,
                    addresses,
                })
            }
        };
        view.messages(query, reader.as_ref())
    }

    pub async fn cursor(&self) -> Result<i64> {
        self.view().await?.latest_message_id()
    }

    /// The newest message id this frontend's view holds, without waiting
    /// for the store: the event stream's `ready` and `resync` (everything
    /// after it arrives on the stream).
    pub(crate) fn view_cursor(&self) -> Result<i64> {
        self.backend.view().latest_message_id()
    }

    pub async fn mark_read(&self, id: i64, agent: &str) -> Result<Message> {
        let agent = check_id("readBy", agent)?;
        let message = self
            .backend
            .mark_read(id, &agent, now_ms())
            .await?
            .ok_or_else(|| unknown_message(id))?;
        self.backend
            .publish(RelayEvent::MessageRead(MessageRead {
                id,
                agent_id: agent,
            }))
            .await;
        Ok(message)
    }

    pub async fn delete_message(&self, id: i64) -> Result<()> {
        if !self.backend.delete_message(id).await? {
            return Err(unknown_message(id));
        }
        self.backend
            .publish(RelayEvent::MessageDeleted(MessageDeleted { id }))
            .await;
        Ok(())
    }

    pub(super) async fn claimant(&self, agent: &str, proof: &InstanceProof) -> Result<String> {
        let agent = check_id("agentId", agent)?;
        let card = self.agents_view().await?.agent(&agent)?.ok_or_else(|| {
            RelayError::NotFound(format!(
                "agent {agent} is not registered; register it (POST /api/agents) before claiming"
            ))
        })?;
        self.check_proof(&card, proof).await?;
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

    pub async fn claim(
        &self,
        id: i64,
        agent: &str,
        proof: &InstanceProof,
        lease_ms: Option<i64>,
    ) -> Result<Message> {
        let agent = self.claimant(agent, proof).await?;
        let lease_ms = self.lease_ms(lease_ms)?;
        let outcome = self
            .backend
            .claim_message(id, &agent, now_ms(), lease_ms)
            .await?;
        let message = claim_outcome(id, outcome, "claimed by")?;
        self.backend
            .publish(RelayEvent::MessageClaimed(message.clone()))
            .await;
        Ok(message)
    }

    pub async fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        proof: &InstanceProof,
        lease_ms: Option<i64>,
    ) -> Result<Message> {
        let agent = self.claimant(agent, proof).await?;
        let lease_ms = self.lease_ms(lease_ms)?;
        let outcome = self
            .backend
            .renew_claim(id, &agent, now_ms(), lease_ms)
            .await?;
        claim_outcome(id, outcome, "not held by you; holder:")
    }

    pub async fn release_claim(
        &self,
        id: i64,
        agent: &str,
        proof: &InstanceProof,
    ) -> Result<Message> {
        let agent = self.claimant(agent, proof).await?;
        let outcome = self.backend.release_claim(id, &agent).await?;
        let message = claim_outcome(id, outcome, "not held by you; holder:")?;
        self.backend
            .publish(RelayEvent::MessageReleased(message.clone()))
            .await;
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
