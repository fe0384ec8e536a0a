//! Who may act as an id: the digests of its devices' keys, each with the
//! instance of that device that may act now, and the link codes that admit
//! one more device. Both backends keep [`Credentials`] next to the card and
//! change it only through the functions here, inside their own transaction
//! (SQLite) or compare-and-set (NATS), so the rules are the same on both.
//!
//! Invariants: no key and no code is stored, only SHA-256 digests; a code
//! admits one device, once, before it expires; an id has at most
//! [`MAX_DEVICES`] devices.

use crate::error::{RelayError, Result};
use perch_relay_protocol::{AgentDevice, RegisterAgent};
use serde::{Deserialize, Serialize};

/// As many devices as the end-to-end key list of a card holds.
pub const MAX_DEVICES: usize = 8;
/// Codes waiting to be used, per id.
pub const MAX_LINKS: usize = 4;
/// How long a link code can be used.
pub const LINK_TTL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    #[serde(default)]
    pub devices: Vec<DeviceKey>,
    #[serde(default)]
    pub links: Vec<PendingLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceKey {
    pub device: String,
    pub hash: String,
    pub instance_id: Option<String>,
    pub epoch: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingLink {
    pub hash: String,
    pub expires_at: i64,
    /// The device that made it.
    pub by: String,
}

/// What a registration was allowed to do, decided by
/// [`Relay::register`](crate::Relay::register) from the key or code it
/// presented and carried out by [`Credentials::admit`].
#[derive(Debug, Clone)]
pub enum Grant {
    /// An id without keys, acting as agent-relay allows anyone to.
    Anonymous,
    /// The first key of an id that held none (`wantKey`).
    FirstKey { hash: String },
    /// A device that presented its key.
    Device { hash: String },
    /// A new device admitted by a link code, with its new key.
    Linked { code_hash: String, hash: String },
}

/// A change to an id's credentials other than a registration.
#[derive(Debug, Clone)]
pub enum CredentialChange {
    AddLink(PendingLink),
    RemoveDevice(String),
    /// `perch relay forget-key`: the id's next registration may claim it.
    ForgetAll,
}

impl Credentials {
    pub fn is_keyed(&self) -> bool {
        !self.devices.is_empty()
    }

    /// The device whose key digest is `hash`.
    pub fn device_with(&self, hash: &str) -> Option<&DeviceKey> {
        self.devices.iter().find(|d| stdx::ct_eq(&d.hash, hash))
    }

    /// Whether `instance` at `epoch` is the instance one of the devices
    /// registered last.
    pub fn current_instance(&self, instance: &str, epoch: i64) -> bool {
        self.devices
            .iter()
            .any(|d| d.instance_id.as_deref() == Some(instance) && d.epoch == epoch)
    }

    /// The devices as `GET /api/agents/{id}/devices` lists them to the
    /// holder of `caller` (a key digest).
    pub fn listed(&self, caller: &str) -> Vec<AgentDevice> {
        self.devices
            .iter()
            .map(|d| AgentDevice {
                device: d.device.clone(),
                created_at: d.created_at,
                instance_id: d.instance_id.clone(),
                epoch: d.epoch,
                this_device: stdx::ct_eq(&d.hash, caller),
            })
            .collect()
    }

    /// Carries out `grant` for a registration whose card would be at
    /// `card_epoch`; answers the instance and epoch the card then shows
    /// (`None`: an anonymous id, whose card keeps its own). Checked again
    /// here because another registration may have changed things since the
    /// grant was decided.
    pub fn admit(
        &mut self,
        id: &str,
        grant: &Grant,
        reg: &RegisterAgent,
        card_epoch: i64,
        now: i64,
    ) -> Result<Option<(Option<String>, i64)>> {
        self.links.retain(|l| l.expires_at > now);
        let index = match grant {
            Grant::Anonymous if self.is_keyed() => return Err(needs_key(id)),
            Grant::Anonymous => return Ok(None),
            Grant::FirstKey { .. } if self.is_keyed() => {
                return Err(RelayError::Forbidden(format!(
                    "{id} got a key from another registration a moment ago; register again with that key"
                )))
            }
            Grant::FirstKey { hash } => self.add(id, hash, reg, card_epoch, now)?,
            Grant::Linked { code_hash, hash } => {
                let Some(at) = self
                    .links
                    .iter()
                    .position(|l| stdx::ct_eq(&l.hash, code_hash))
                else {
                    return Err(RelayError::Forbidden(format!(
                        "that link code is not one {id} is waiting for: it is mistyped, used or older than {} minutes. Make a new one on a device that holds {id} (`perch peers link`).",
                        LINK_TTL_MS / 60_000
                    )));
                };
                self.links.remove(at);
                self.add(id, hash, reg, card_epoch, now)?
            }
            Grant::Device { hash } => {
                let at = self
                    .devices
                    .iter()
                    .position(|d| stdx::ct_eq(&d.hash, hash))
                    .ok_or_else(|| removed(id))?;
                if let Some(name) = &reg.device {
                    if self.devices.iter().all(|d| &d.device != name) {
                        self.devices[at].device = name.clone();
                    }
                }
                let device = &mut self.devices[at];
                if reg.instance_id.is_some() && reg.instance_id != device.instance_id {
                    // A new instance of this device fences its older ones
                    // (and no other device's).
                    device.instance_id = reg.instance_id.clone();
                    device.epoch = device.epoch.max(card_epoch) + 1;
                }
                at
            }
        };
        let device = &self.devices[index];
        Ok(Some((device.instance_id.clone(), device.epoch)))
    }

    fn add(
        &mut self,
        id: &str,
        hash: &str,
        reg: &RegisterAgent,
        card_epoch: i64,
        now: i64,
    ) -> Result<usize> {
        if self.devices.len() >= MAX_DEVICES {
            return Err(RelayError::Conflict(format!(
                "{id} is already held by {MAX_DEVICES} devices; remove one first (`perch peers unlink`)"
            )));
        }
        let mut name = reg
            .device
            .clone()
            .unwrap_or_else(|| format!("device-{}", self.devices.len() + 1));
        while self.devices.iter().any(|d| d.device == name) {
            name.push('+');
        }
        self.devices.push(DeviceKey {
            device: name,
            hash: hash.to_string(),
            instance_id: reg.instance_id.clone(),
            epoch: card_epoch + 1,
            created_at: now,
        });
        Ok(self.devices.len() - 1)
    }

    /// Carries out `change`; 404/409 with what to do when it cannot be.
    pub fn apply(&mut self, id: &str, change: &CredentialChange, now: i64) -> Result<()> {
        self.links.retain(|l| l.expires_at > now);
        match change {
            CredentialChange::AddLink(link) => {
                if !self.is_keyed() {
                    return Err(RelayError::Conflict(format!(
                        "{id} holds no agent key, so anyone may act as it on this relay; a device is linked to a keyed id"
                    )));
                }
                if self.links.len() >= MAX_LINKS {
                    self.links.remove(0);
                }
                self.links.push(link.clone());
            }
            CredentialChange::RemoveDevice(device) => {
                let at = self
                    .devices
                    .iter()
                    .position(|d| &d.device == device)
                    .ok_or_else(|| {
                        RelayError::NotFound(format!("{id} has no device {device:?}"))
                    })?;
                if self.devices.len() == 1 {
                    return Err(RelayError::Conflict(format!(
                        "{device} is the only device of {id}; removing it would leave the id to anyone. To give the id up, remove the agent; to start over with a lost key, run `perch relay forget-key {id}` where the relay runs."
                    )));
                }
                self.devices.remove(at);
            }
            CredentialChange::ForgetAll => *self = Self::default(),
        }
        Ok(())
    }
}

pub fn needs_key(id: &str) -> RelayError {
    RelayError::Forbidden(format!(
        "{id} holds an agent key; a call as {id} must present it (header X-Agent-Key)"
    ))
}

fn removed(id: &str) -> RelayError {
    RelayError::Forbidden(format!(
        "this device's key for {id} was removed (another device unlinked it); link it again with a code from a device that holds {id}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(instance: &str, device: Option<&str>) -> RegisterAgent {
        serde_json::from_value(serde_json::json!({
            "id": "ada", "instanceId": instance, "device": device
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_device_fences_only_its_own_older_instances() -> Result<()> {
        let mut creds = Credentials::default();
        let first = Grant::FirstKey { hash: "k1".into() };
        assert_eq!(
            creds.admit("ada", &first, &reg("a1", Some("laptop")), 0, 1)?,
            Some((Some("a1".into()), 1))
        );
        creds.apply(
            "ada",
            &CredentialChange::AddLink(PendingLink {
                hash: "c1".into(),
                expires_at: 100,
                by: "laptop".into(),
            }),
            2,
        )?;
        let linked = Grant::Linked {
            code_hash: "c1".into(),
            hash: "k2".into(),
        };
        let (_, desk_epoch) = creds
            .admit("ada", &linked, &reg("d1", Some("desk")), 1, 3)?
            .ok_or_else(|| RelayError::Internal("no instance".into()))?;
        assert!(creds.current_instance("a1", 1), "the laptop is not fenced");
        assert!(creds.current_instance("d1", desk_epoch));
        // The code was used up.
        assert!(creds
            .admit("ada", &linked, &reg("x", Some("thief")), 1, 4)
            .is_err());
        // The laptop restarts: its old instance is fenced, the desk's is not.
        let again = Grant::Device { hash: "k1".into() };
        creds.admit("ada", &again, &reg("a2", None), desk_epoch, 5)?;
        assert!(!creds.current_instance("a1", 1));
        assert!(creds.current_instance("d1", desk_epoch));
        // Removing the desk: its key no longer registers; the last device stays.
        creds.apply("ada", &CredentialChange::RemoveDevice("desk".into()), 6)?;
        let desk = Grant::Device { hash: "k2".into() };
        assert!(creds.admit("ada", &desk, &reg("d2", None), 9, 7).is_err());
        assert!(creds
            .apply("ada", &CredentialChange::RemoveDevice("laptop".into()), 8)
            .is_err());
        Ok(())
    }

    #[test]
    fn a_code_expires() -> Result<()> {
        let mut creds = Credentials::default();
        creds.admit(
            "ada",
            &Grant::FirstKey { hash: "k1".into() },
            &reg("a", None),
            0,
            1,
        )?;
        creds.apply(
            "ada",
            &CredentialChange::AddLink(PendingLink {
                hash: "c".into(),
                expires_at: 10,
                by: "device-1".into(),
            }),
            2,
        )?;
        let linked = Grant::Linked {
            code_hash: "c".into(),
            hash: "k2".into(),
        };
        let late = creds.admit("ada", &linked, &reg("b", None), 1, 10);
        assert!(late.is_err_and(|e| e.to_string().contains("older than")));
        Ok(())
    }
}
