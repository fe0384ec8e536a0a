//! Agent cards: registration, presence, fencing.

use super::*;
use crate::store::{CredentialChange, Credentials, Grant, PendingLink, LINK_TTL_MS};

/// How a link code is kept: the digest of its digits, however it was typed.
fn link_code_hash(code: &str) -> String {
    let digits: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    stdx::sha256_hex(&digits)
}

fn needs_key(id: &str) -> RelayError {
    crate::store::needs_key(id)
}

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
            device: req.device.map(|d| check_id("device", &d)).transpose()?,
            link_code: check_optional("linkCode", req.link_code, MAX_SHORT_CHARS)?,
        };
        let credentials = self
            .agents_view()
            .await?
            .agent_credentials(&registration.id)?;
        let mut new_key = None;
        let mut issue_key = || -> Result<String> {
            let key = random_hex(32).map_err(|e| RelayError::Internal(e.to_string()))?;
            let hash = stdx::sha256_hex(&key);
            new_key = Some(key);
            Ok(hash)
        };
        let grant = match (key, &registration.link_code) {
            _ if !credentials.is_keyed() && registration.want_key => {
                Grant::FirstKey { hash: issue_key()? }
            }
            _ if !credentials.is_keyed() => Grant::Anonymous,
            (Some(key), _) => Grant::Device {
                hash: self.proven_device(&registration.id, &credentials, key)?,
            },
            (None, Some(code)) => Grant::Linked {
                code_hash: link_code_hash(code),
                hash: issue_key()?,
            },
            (None, None) => return Err(needs_key(&registration.id)),
        };
        let agent = self
            .backend
            .register_agent(registration, grant, now_ms())
            .await?;
        self.backend
            .publish(RelayEvent::AgentRegistered(agent.clone()))
            .await;
        Ok(Registered {
            agent,
            key: new_key,
        })
    }

    /// Whether a call acting as `id` proved its key: `true` with the key of
    /// one of its devices, `false` when the id holds none (anyone may act
    /// as it, as on agent-relay), 403 when it holds one and `key` is
    /// missing or wrong.
    pub async fn authorize(&self, id: &str, key: Option<&str>) -> Result<bool> {
        let credentials = self.agents_view().await?.agent_credentials(id)?;
        if !credentials.is_keyed() {
            return Ok(false);
        }
        let key = key.ok_or_else(|| needs_key(id))?;
        self.proven_device(id, &credentials, key)?;
        Ok(true)
    }

    /// The digest of `key` when it is the key of one of the id's devices.
    fn proven_device(&self, id: &str, credentials: &Credentials, key: &str) -> Result<String> {
        let hash = stdx::sha256_hex(key);
        match credentials.device_with(&hash) {
            Some(_) => Ok(hash),
            None => Err(RelayError::Forbidden(format!(
                "the agent key presented for {id} is not its key (nor the key of a device linked to it)"
            ))),
        }
    }

    /// The digest of the caller's key, which must be one of the id's
    /// devices (a keyless id has no devices to link or list).
    async fn device_caller(&self, id: &str, key: Option<&str>) -> Result<(String, Credentials)> {
        let credentials = self.agents_view().await?.agent_credentials(id)?;
        if !credentials.is_keyed() {
            self.agent(id).await?;
            return Err(RelayError::Conflict(format!(
                "{id} holds no agent key, so anyone may act as it on this relay and it has no devices; a Perch that registers it asks for a key"
            )));
        }
        let key = key.ok_or_else(|| needs_key(id))?;
        Ok((self.proven_device(id, &credentials, key)?, credentials))
    }

    /// A one-time code that admits one more device of `id` (the caller must
    /// be one): `perch peers link`.
    pub async fn link_device(&self, id: &str, key: Option<&str>) -> Result<LinkCode> {
        let (caller, credentials) = self.device_caller(id, key).await?;
        let by = credentials
            .device_with(&caller)
            .map(|d| d.device.clone())
            .unwrap_or_default();
        let raw = random_hex(10).map_err(|e| RelayError::Internal(e.to_string()))?;
        let code = raw
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        let now = now_ms();
        let expires_at = now + LINK_TTL_MS;
        let link = PendingLink {
            hash: link_code_hash(&code),
            expires_at,
            by,
        };
        self.backend
            .change_credentials(id, CredentialChange::AddLink(link), now)
            .await?;
        Ok(LinkCode {
            id: id.to_string(),
            code,
            expires_at,
        })
    }

    /// The devices holding a key of `id`, for one of them.
    pub async fn devices(&self, id: &str, key: Option<&str>) -> Result<Vec<AgentDevice>> {
        let (caller, credentials) = self.device_caller(id, key).await?;
        Ok(credentials.listed(&caller))
    }

    /// Takes `device`'s key of `id` away (one of the id's devices asks; the
    /// last one stays).
    pub async fn remove_device(&self, id: &str, key: Option<&str>, device: &str) -> Result<()> {
        self.device_caller(id, key).await?;
        self.backend
            .change_credentials(id, CredentialChange::RemoveDevice(device.into()), now_ms())
            .await?;
        Ok(())
    }

    /// Takes the keys of `id` away, so that the next registration may claim
    /// it (`perch relay forget-key`, for a person whose Perch lost its key).
    pub async fn forget_key(&self, id: &str) -> Result<()> {
        if !self
            .backend
            .change_credentials(id, CredentialChange::ForgetAll, now_ms())
            .await?
        {
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

    /// 409 when the call comes from an instance a newer registration
    /// replaced: the card's, or for an id held on several devices, the
    /// caller's device's.
    pub(super) async fn check_proof(&self, agent: &Agent, proof: &InstanceProof) -> Result<()> {
        match (&proof.instance_id, proof.epoch) {
            (None, None) => Ok(()),
            (Some(instance), Some(epoch)) => {
                let current = if agent.authenticated {
                    self.agents_view()
                        .await?
                        .agent_credentials(&agent.id)?
                        .current_instance(instance, epoch)
                } else {
                    agent.instance_id.as_deref() == Some(instance.as_str()) && agent.epoch == epoch
                };
                if current {
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
        self.check_proof(&current, proof).await?;
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
