//! Agent cards: registration, presence, fencing.

use super::*;

impl Relay {
    /// Registers (or refreshes) a card. An id that holds a key is refused
    /// (403) unless `key` is it; an id without one gets one when it asks
    /// (`wantKey`), returned here once.
    pub fn register(&self, req: RegisterAgent, key: Option<&str>) -> Result<Registered> {
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
        let proven = self.authorize(&registration.id, key)?;
        let new_key = if registration.want_key && !proven {
            Some(random_hex(32).map_err(|e| RelayError::Internal(e.to_string()))?)
        } else {
            None
        };
        let key_hash = new_key.as_deref().map(stdx::sha256_hex);
        let agent = self
            .store
            .register_agent(registration, key_hash.as_deref(), now_ms())?;
        self.bus.publish(RelayEvent::AgentRegistered(agent.clone()));
        Ok(Registered {
            agent,
            key: new_key,
        })
    }

    /// Whether a call acting as `id` proved its key: `true` with the right
    /// key, `false` when the id holds none (anyone may act as it, as on
    /// agent-relay), 403 when it holds one and `key` is missing or wrong.
    pub fn authorize(&self, id: &str, key: Option<&str>) -> Result<bool> {
        let Some(hash) = self.store.agent_key_hash(id)? else {
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
    pub fn forget_key(&self, id: &str) -> Result<()> {
        if !self.store.forget_agent_key(id)? {
            return Err(unknown_agent(id));
        }
        Ok(())
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
}

pub(crate) fn parse_status(s: &str) -> Result<AgentStatus> {
    AgentStatus::parse(s).ok_or_else(|| {
        RelayError::Invalid(format!(
            "status {s:?} is not one of online, busy, idle, away, offline"
        ))
    })
}
