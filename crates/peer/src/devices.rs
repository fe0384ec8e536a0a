//! One person on several computers. Each computer's Perch holds the
//! person's id on the relay with a key of its own, named after its
//! end-to-end device key (which the person's card lists), and was admitted
//! by a one-time code from a computer that already held the id. Agents stay
//! one per computer: two Perches never share an agent id.

use crate::error::{PeerError, Result};
use crate::peer::Peer;
use perch_protocol::peer::{DeviceLinkCode, PersonDevice, PersonDevices};

impl Peer {
    /// The computers holding the person's id, with the end-to-end key the
    /// card lists for each.
    pub async fn person_devices(&self) -> Result<PersonDevices> {
        let id = self.person_id();
        if !self.client.has_key(id) {
            return Err(PeerError::Invalid(format!(
                "this computer does not hold {id} on {} yet: join it with a code from a computer that does (Join with a code, or `perch peers join CODE`)",
                self.client.url()
            )));
        }
        let listed = self.client.devices(id).await?;
        let card = self.client.agent(id).await?;
        let keys = perch_e2e::devices_in(&card.meta, id);
        Ok(PersonDevices {
            person_id: id.to_string(),
            devices: listed
                .into_iter()
                .map(|d| PersonDevice {
                    fingerprint: keys
                        .iter()
                        .find(|k| k.device == d.device)
                        .map(perch_e2e::DeviceEntry::fingerprint),
                    device: d.device,
                    created_at: d.created_at,
                    this_device: d.this_device,
                })
                .collect(),
        })
    }

    /// A one-time code that lets another computer join the person's id.
    pub async fn link_device(&self) -> Result<DeviceLinkCode> {
        let code = self.client.link(self.person_id()).await?;
        Ok(DeviceLinkCode {
            person_id: code.id,
            code: code.code,
            expires_at: code.expires_at,
        })
    }

    /// Joins this computer to the person's id with a code from another one:
    /// the relay gives it a key of its own (kept in the secret store), and
    /// the link is tried again at once.
    pub async fn join_device(&self, code: &str) -> Result<PersonDevices> {
        let id = self.person_id().to_string();
        if self.client.has_key(&id) {
            return Err(PeerError::Invalid(format!(
                "this Perch already holds {id} on {}; a code joins a computer that does not",
                self.client.url()
            )));
        }
        self.register_one(&id, true, Some(code)).await?;
        self.wake.notify_one();
        self.person_devices().await
    }

    /// Takes another computer's key of the person's id away, and its
    /// end-to-end key off the card, so that nothing new reaches it.
    pub async fn unlink_device(&self, device: &str) -> Result<PersonDevices> {
        let id = self.person_id();
        if self.sealing.key(id).is_some_and(|k| k.device() == device) {
            return Err(PeerError::Invalid(format!(
                "{device} is this computer; unlink it from another computer that holds {id}"
            )));
        }
        self.client.remove_device(id, device).await?;
        let card = self.client.agent(id).await?;
        let mut meta = serde_json::Map::new();
        meta.insert(
            perch_e2e::META_KEY.into(),
            perch_e2e::key_list_without(&card.meta, id, device),
        );
        self.client
            .update_meta(id, &self.person_proof(), &meta)
            .await?;
        self.person_devices().await
    }
}
