//! Agent cards: registration, presence, fencing.

use super::*;

impl Relay {
    /// Registers (or refreshes) a card. An id that holds a key is refused
    /// (403) unless `key` is it; an id without one gets one when it asks
    /// (`wantKey`), returned here once.
    pub async fn register(&self, req: RegisterAgent, key: Option<&str>) -> Result<Registered> {
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
            want_key: req.want_key,
        };
        let proven = self.authorize(&registration.id, key).await?;
        let new_key = if registration.want_key && !proven {
            Some(random_hex(32).map_err(|e| RelayError::Internal(e.to_string()))?)
        } else {
            None
        };
        let key_hash = new_key.as_deref().map(stdx::sha256_hex);
        let agent = self
            .backend
            .register_agent(registration, key_hash, now_ms())
            .await?;
        self.backend
            .publish(RelayEvent::AgentRegistered(agent.clone()))
            .await;
        Ok(Registered {
            agent,
            key: new_key,
        })
    }

    /// Whether a call acting as `id` proved its key: `true` with the right
    /// key, `false` when the id holds none (anyone may act as it, as on
    /// agent-relay), 403 when it holds one and `key` is missing or wrong.
    pub async fn authorize(&self, id: &str, key: Option<&str>) -> Result<bool> {
        let Some(hash) = self.agents_view().await?.agent_key_hash(id)? else {
            return Ok(false);
        };
        match key {
            Some(key) if stdx::ct_eq(&stdx::sha256_hex(key), &hash) => Ok(true),
            Some(_) => Err(RelayError::Forbidden(format!(
                "the agent key presented for {id} is not its key"
            ))),
            None => Err(RelayError::Forbidden(format!(
                "{id} holds an agent key; a call as {id} must present it (header X-Agent-Key)"
            ))),
        }
    }

    /// Takes the key of `id` away, so that the next registration may claim
    /// it (`perch relay forget-key`, for a person whose Perch lost its key).
    pub async fn forget_key(&self, id: &str) -> Result<()> {
        if !self.backend.forget_agent_key(id).await? {
            return Err(unknown_agent(id));
        }
        Ok(())
    }

    pub async fn agent(&self, id: &str) -> Result<Agent> {
        self.agents_view()
            .await?
            .agent(id)?
            .ok_or_else(|| unknown_agent(id))
    }

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        self.agents_view().await?.agents()
    }

    pub async fn remove_agent(&self, id: &str) -> Result<()> {
        if !self.backend.delete_agent(id).await? {
            return Err(unknown_agent(id));
        }
        self.backend
            .publish(RelayEvent::AgentRemoved(AgentRemoved {
                id: id.to_string(),
            }))
            .await;
        Ok(())
    }

    /// 409 when the call comes from an instance a newer registration replaced.
    pub(super) fn check_proof(&self, agent: &Agent, proof: &InstanceProof) -> Result<()> {
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

    pub async fn heartbeat(&self, id: &str, proof: &InstanceProof) -> Result<Agent> {
        self.update_agent(id, proof, AgentPatch::default()).await
    }

    /// Applies a change to an agent card (after the fencing check) and
    /// publishes it.
    pub async fn update_agent(
        &self,
        id: &str,
        proof: &InstanceProof,
        mut patch: AgentPatch,
    ) -> Result<Agent> {
        let current = self.agent(id).await?;
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
            .backend
            .update_agent(id, patch, now_ms())
            .await?
            .ok_or_else(|| unknown_agent(id))?;
        if status_changed {
            self.backend
                .publish(RelayEvent::AgentStatus(agent.clone()))
                .await;
        }
        if card_changed {
            self.backend
                .publish(RelayEvent::AgentUpdated(agent.clone()))
                .await;
        }
        Ok(agent)
    }
}

pub(crate) fn parse_status(s: &str) -> Result<AgentStatus> {
    AgentStatus::parse(s).ok_or_else(|| {
        RelayError::Invalid(format!(
            "status {s:?} is not one of online, busy, idle, away, offline"
        ))
    })
}
