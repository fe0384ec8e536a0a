//! Channel keys (Agent Chatham's model): a message to a group (`tag:`,
//! `cap:`, `label:`, `broadcast`) is encrypted once, under the group's
//! current key, and signed by the sender's device. The key reaches each
//! member device inside an ordinary sealed message (a *share*) from a
//! member who holds it; a new key replaces it when a member leaves.

use crate::envelope::{signed_digest, Header};
use crate::keys::{check, encode, random32, verifying_key};
use crate::{Content, DeviceEntry, DeviceKey, KeyError, OpenError, Sealed};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One generation of a group's key.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelKey {
    /// Random, names this generation on the wire.
    pub id: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for ChannelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelKey({})", self.id)
    }
}

/// What a share carries (as the body of a sealed message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelShare {
    /// The group's wire form, `tag:ops`.
    pub group: String,
    pub id: String,
    pub key: String,
    /// Every `(id, device)` the key was shared with so far.
    pub members: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct ChannelEnvelope {
    v: u8,
    device: String,
    key: String,
    nonce: String,
    ct: String,
    sig: String,
}

impl ChannelKey {
    pub fn generate() -> Result<Self, KeyError> {
        let id = random32()?;
        Ok(Self {
            id: encode(&id[..12]),
            secret: random32()?,
        })
    }

    /// The share for `group` and `members`, as a sealed message's body.
    pub fn share(&self, group: &str, members: Vec<(String, String)>) -> ChannelShare {
        ChannelShare {
            group: group.to_string(),
            id: self.id.clone(),
            key: encode(&self.secret),
            members,
        }
    }

    pub fn from_share(share: &ChannelShare) -> Option<Self> {
        let secret = crate::keys::decode32(&share.key)?;
        (!share.id.is_empty() && share.id.len() <= 64).then(|| Self {
            id: share.id.clone(),
            secret,
        })
    }

    /// The text kept locally (the key's secret).
    pub fn secret_text(&self) -> String {
        encode(&self.secret)
    }

    pub fn from_secret_text(id: &str, text: &str) -> Option<Self> {
        Some(Self {
            id: id.to_string(),
            secret: crate::keys::decode32(text)?,
        })
    }

    /// Encrypts `content` for the group and signs it with `sender`.
    pub fn seal(
        &self,
        sender: &DeviceKey,
        header: &Header,
        content: &Content,
    ) -> Result<Sealed, KeyError> {
        let header_bytes = header.bytes();
        let nonce_bytes: [u8; 12] = random32()?[..12].try_into().unwrap_or_default();
        let ct = ChaCha20Poly1305::new(&self.secret.into())
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                Payload {
                    msg: &serde_json::to_vec(content).unwrap_or_default(),
                    aad: &header_bytes,
                },
            )
            .map_err(|_| KeyError::Random("sealing failed".into()))?;
        let digest = signed_digest(
            b"perch-e2e channel v1\0",
            &[&header_bytes, self.id.as_bytes(), &nonce_bytes, &ct],
        );
        let envelope = ChannelEnvelope {
            v: 1,
            device: sender.device().to_string(),
            key: self.id.clone(),
            nonce: encode(&nonce_bytes),
            ct: encode(&ct),
            sig: encode(&sender.signing().sign(&digest).to_bytes()),
        };
        Ok(Sealed {
            body: serde_json::to_string(&envelope).unwrap_or_default(),
            mark: json!({ "channel": self.id }),
        })
    }
}

/// The sender device a channel message names (not yet verified).
pub fn channel_signer(body: &str) -> Option<String> {
    serde_json::from_str::<ChannelEnvelope>(body)
        .ok()
        .map(|e| e.device)
}

/// Opens a channel message with `key` after its signature checked against
/// `sender`'s listed devices.
pub fn open_channel(
    key: &ChannelKey,
    header: &Header,
    body: &str,
    sender: &[DeviceEntry],
) -> Result<Content, OpenError> {
    let envelope: ChannelEnvelope = serde_json::from_str(body).map_err(|_| OpenError::Malformed)?;
    let device = sender
        .iter()
        .find(|d| d.device == envelope.device)
        .ok_or_else(|| OpenError::UnknownDevice(header.from.clone()))?;
    let nonce: [u8; 12] = B64
        .decode(&envelope.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(OpenError::Malformed)?;
    let ct = B64.decode(&envelope.ct).map_err(|_| OpenError::Malformed)?;
    let header_bytes = header.bytes();
    let digest = signed_digest(
        b"perch-e2e channel v1\0",
        &[&header_bytes, envelope.key.as_bytes(), &nonce, &ct],
    );
    let signer = verifying_key(&device.sign).ok_or(OpenError::Malformed)?;
    if !check(&signer, &digest, &envelope.sig) {
        return Err(OpenError::BadSignature(header.from.clone()));
    }
    if envelope.key != key.id {
        return Err(OpenError::NotForUs);
    }
    let plain = ChaCha20Poly1305::new(&key.secret.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &header_bytes,
            },
        )
        .map_err(|_| OpenError::Undecryptable)?;
    serde_json::from_slice(&plain).map_err(|_| OpenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_channel_message_opens_with_its_key_only_and_checks_its_signer() -> TestResult {
        let ada = DeviceKey::generate(1)?;
        let key = ChannelKey::generate()?;
        let header = Header {
            from: "ada".into(),
            to: "tag:ops".into(),
            channel: Some("ops".into()),
            reply_to: None,
        };
        let content = Content {
            subject: Some("Rota".into()),
            body: "bob is on call".into(),
        };
        let sealed = key.seal(&ada, &header, &content)?;
        assert!(!sealed.body.contains("on call") && !sealed.body.contains("Rota"));
        assert_eq!(channel_signer(&sealed.body).as_deref(), Some(ada.device()));
        let senders = [ada.entry("ada")];
        assert_eq!(
            open_channel(&key, &header, &sealed.body, &senders),
            Ok(content.clone())
        );
        // The share carries the key whole.
        let share = key.share("tag:ops", vec![("bob".into(), "d1".into())]);
        let again = ChannelKey::from_share(&share).ok_or("no key")?;
        assert_eq!(again, key);
        // Another generation does not open it; another signer is refused.
        let next = ChannelKey::generate()?;
        assert_eq!(
            open_channel(&next, &header, &sealed.body, &senders),
            Err(OpenError::NotForUs)
        );
        let mallory = DeviceKey::generate(1)?;
        let forged = key.seal(&mallory, &header, &content)?;
        assert_eq!(
            open_channel(&key, &header, &forged.body, &senders),
            Err(OpenError::UnknownDevice("ada".into()))
        );
        let moved = Header {
            to: "broadcast".into(),
            ..header
        };
        assert_eq!(
            open_channel(&key, &moved, &sealed.body, &senders),
            Err(OpenError::BadSignature("ada".into()))
        );
        Ok(())
    }
}
