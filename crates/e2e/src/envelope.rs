//! Sealing a message to recipient devices, signing one in the clear, and
//! opening and verifying what arrives.

use crate::keys::{check, encode, random32, verifying_key, KexKem, KexPrivate};
use crate::{DeviceEntry, DeviceKey, KeyError, MAX_RECIPIENTS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::Signer;
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use rand_core::{OsRng, TryRngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WRAP_INFO: &[u8] = b"perch-e2e key wrap v1";

/// The routing fields the relay needs in the clear; bound to the
/// ciphertext and the signature, so a relay that changes one is caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub from: String,
    pub to: String,
    pub channel: Option<String>,
    pub reply_to: Option<i64>,
}

impl Header {
    pub(crate) fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What only the recipients read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub subject: Option<String>,
    pub body: String,
}

#[derive(Serialize, Deserialize)]
struct Wrap {
    /// The recipient's id and device.
    id: String,
    device: String,
    /// HPKE's encapsulated key and the sealed one-time key.
    enc: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u8,
    /// The sender's device.
    device: String,
    to: Vec<Wrap>,
    ct: String,
    sig: String,
}

/// A sealed message: the body the relay stores and the message's mark.
pub struct Sealed {
    pub body: String,
    pub mark: Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("it says it is end-to-end encrypted, but its envelope is not readable")]
    Malformed,
    #[error("it is signed by a device key that {0}'s card does not list")]
    UnknownDevice(String),
    #[error("its signature does not check against {0}'s published key: it was changed after it was sent, or someone else wrote it")]
    BadSignature(String),
    #[error("it was encrypted for other devices, not for this one")]
    NotForUs,
    #[error("it cannot be decrypted with this device's key")]
    Undecryptable,
}

impl OpenError {
    /// A message that is not ours to read is not a fault; every other
    /// error means the message was changed, forged or broken.
    pub fn is_fault(&self) -> bool {
        *self != Self::NotForUs
    }
}

pub(crate) fn signed_digest(label: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut hash = Sha256::new().chain_update(label);
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().to_vec()
}

fn wrap_aad(id: &str, device: &str, header: &[u8]) -> Vec<u8> {
    signed_digest(
        b"perch-e2e wrap v1\0",
        &[id.as_bytes(), device.as_bytes(), header],
    )
}

/// Seals `content` to every `(owner, device)` in `recipients` (the sender's
/// own devices belong there too, so its history reads back) and signs it
/// with `key`. Recipients are distinct pairs, at most [`MAX_RECIPIENTS`].
pub fn seal(
    key: &DeviceKey,
    header: &Header,
    content: &Content,
    recipients: &[(String, DeviceEntry)],
) -> Result<Sealed, KeyError> {
    let header_bytes = header.bytes();
    let one_time = random32()?;
    let ct = ChaCha20Poly1305::new(&one_time.into())
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &serde_json::to_vec(content).unwrap_or_default(),
                aad: &header_bytes,
            },
        )
        .map_err(|_| KeyError::Random("sealing failed".into()))?;
    let mut rng = OsRng.unwrap_err();
    let mut wraps = Vec::new();
    for (owner, device) in recipients.iter().take(MAX_RECIPIENTS) {
        let Some(public) = device.kex_key() else {
            continue;
        };
        let (enc, sealed) = hpke::single_shot_seal::<HpkeChaCha, HkdfSha256, KexKem, _>(
            &OpModeS::Base,
            &public,
            WRAP_INFO,
            &one_time,
            &wrap_aad(owner, &device.device, &header_bytes),
            &mut rng,
        )
        .map_err(|e| KeyError::Random(format!("wrapping the key: {e}")))?;
        wraps.push(Wrap {
            id: owner.clone(),
            device: device.device.clone(),
            enc: encode(&enc.to_bytes()),
            key: encode(&sealed),
        });
    }
    let wraps_bytes = serde_json::to_vec(&wraps).unwrap_or_default();
    let digest = signed_digest(
        b"perch-e2e message v1\0",
        &[&header_bytes, &wraps_bytes, &ct],
    );
    let envelope = Envelope {
        v: 1,
        device: key.device().to_string(),
        to: wraps,
        ct: encode(&ct),
        sig: encode(&key.signing().sign(&digest).to_bytes()),
    };
    Ok(Sealed {
        body: serde_json::to_string(&envelope).unwrap_or_default(),
        mark: json!({ "sealed": 1 }),
    })
}

/// Opens a sealed `body` for one of `mine` (`(owner, key)` pairs), after
/// its signature checked against `sender`'s listed devices.
pub fn open(
    mine: &[(&str, &DeviceKey)],
    header: &Header,
    body: &str,
    sender: &[DeviceEntry],
) -> Result<Content, OpenError> {
    let envelope: Envelope = serde_json::from_str(body).map_err(|_| OpenError::Malformed)?;
    let header_bytes = header.bytes();
    let device = sender
        .iter()
        .find(|d| d.device == envelope.device)
        .ok_or_else(|| OpenError::UnknownDevice(header.from.clone()))?;
    let ct = B64.decode(&envelope.ct).map_err(|_| OpenError::Malformed)?;
    let wraps_bytes = serde_json::to_vec(&envelope.to).unwrap_or_default();
    let digest = signed_digest(
        b"perch-e2e message v1\0",
        &[&header_bytes, &wraps_bytes, &ct],
    );
    let signer = verifying_key(&device.sign).ok_or(OpenError::Malformed)?;
    if !check(&signer, &digest, &envelope.sig) {
        return Err(OpenError::BadSignature(header.from.clone()));
    }
    let (wrap, key) = envelope
        .to
        .iter()
        .find_map(|w| {
            mine.iter()
                .find(|(owner, key)| *owner == w.id && key.device() == w.device)
                .map(|(_, key)| (w, *key))
        })
        .ok_or(OpenError::NotForUs)?;
    let secret: KexPrivate = key.kex().0;
    let enc = B64
        .decode(&wrap.enc)
        .ok()
        .and_then(|b| <KexKem as Kem>::EncappedKey::from_bytes(&b).ok())
        .ok_or(OpenError::Malformed)?;
    let sealed = B64.decode(&wrap.key).map_err(|_| OpenError::Malformed)?;
    let one_time = hpke::single_shot_open::<HpkeChaCha, HkdfSha256, KexKem>(
        &OpModeR::Base,
        &secret,
        &enc,
        WRAP_INFO,
        &sealed,
        &wrap_aad(&wrap.id, &wrap.device, &header_bytes),
    )
    .ok()
    .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
    .ok_or(OpenError::Undecryptable)?;
    let plain = ChaCha20Poly1305::new(&one_time.into())
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: &ct,
                aad: &header_bytes,
            },
        )
        .map_err(|_| OpenError::Undecryptable)?;
    serde_json::from_slice(&plain).map_err(|_| OpenError::Malformed)
}

/// The sender device a sealed body names (not yet verified).
pub fn sealed_by(body: &str) -> Option<String> {
    serde_json::from_str::<Envelope>(body)
        .ok()
        .map(|e| e.device)
}

fn plain_digest(header: &Header, content: &Content) -> Vec<u8> {
    signed_digest(
        b"perch-e2e signed v1\0",
        &[
            &header.bytes(),
            &serde_json::to_vec(content).unwrap_or_default(),
        ],
    )
}

/// The mark of a message sent in the clear but signed.
pub fn sign_plain(key: &DeviceKey, header: &Header, content: &Content) -> Value {
    let sig = key.signing().sign(&plain_digest(header, content));
    json!({ "device": key.device(), "sig": encode(&sig.to_bytes()) })
}

/// The device and signature of a signed plain message's mark.
pub fn plain_signature(mark: &Value) -> Option<(&str, &str)> {
    Some((mark.get("device")?.as_str()?, mark.get("sig")?.as_str()?))
}

/// Checks a signed plain message against `sender`'s listed devices.
pub fn verify_plain(
    header: &Header,
    content: &Content,
    mark: &Value,
    sender: &[DeviceEntry],
) -> Result<(), OpenError> {
    let (device, sig) = plain_signature(mark).ok_or(OpenError::Malformed)?;
    let entry = sender
        .iter()
        .find(|d| d.device == device)
        .ok_or_else(|| OpenError::UnknownDevice(header.from.clone()))?;
    let key = verifying_key(&entry.sign).ok_or(OpenError::Malformed)?;
    if check(&key, &plain_digest(header, content), sig) {
        Ok(())
    } else {
        Err(OpenError::BadSignature(header.from.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(from: &str, to: &str) -> Header {
        Header {
            from: from.into(),
            to: to.into(),
            channel: Some("ops".into()),
            reply_to: None,
        }
    }

    fn content() -> Content {
        Content {
            subject: Some("Deploy plan".into()),
            body: "ship the thing at noon".into(),
        }
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_sealed_message_opens_for_each_recipient_and_hides_subject_and_body() -> TestResult {
        let ada = DeviceKey::generate(1)?;
        let bob = DeviceKey::generate(1)?;
        let bob2 = DeviceKey::generate(2)?;
        let eve = DeviceKey::generate(1)?;
        let h = header("ada", "bob");
        let recipients = vec![
            ("bob".to_string(), bob.entry("bob")),
            ("bob".to_string(), bob2.entry("bob")),
            ("ada".to_string(), ada.entry("ada")),
        ];
        let sealed = seal(&ada, &h, &content(), &recipients)?;
        assert!(!sealed.body.contains("Deploy") && !sealed.body.contains("noon"));
        let senders = [ada.entry("ada")];
        for (owner, key) in [("bob", &bob), ("bob", &bob2), ("ada", &ada)] {
            assert_eq!(
                open(&[(owner, key)], &h, &sealed.body, &senders),
                Ok(content())
            );
        }
        assert_eq!(
            open(&[("eve", &eve)], &h, &sealed.body, &senders),
            Err(OpenError::NotForUs)
        );
        // Bob's key under another name does not open Bob's wrap.
        assert_eq!(
            open(&[("carol", &bob)], &h, &sealed.body, &senders),
            Err(OpenError::NotForUs)
        );
        Ok(())
    }

    #[test]
    fn tampering_and_forgery_are_refused() -> TestResult {
        let ada = DeviceKey::generate(1)?;
        let bob = DeviceKey::generate(1)?;
        let mallory = DeviceKey::generate(1)?;
        let h = header("ada", "bob");
        let to_bob = vec![("bob".to_string(), bob.entry("bob"))];
        let senders = [ada.entry("ada")];
        let sealed = seal(&ada, &h, &content(), &to_bob)?;
        let mine = [("bob", &bob)];

        // A flipped ciphertext byte.
        let mut envelope: Value = serde_json::from_str(&sealed.body)?;
        let ct = envelope["ct"].as_str().unwrap_or_default().to_string();
        let mut bytes = B64.decode(&ct)?;
        bytes[0] ^= 1;
        envelope["ct"] = json!(encode(&bytes));
        assert_eq!(
            open(&mine, &h, &envelope.to_string(), &senders),
            Err(OpenError::BadSignature("ada".into()))
        );
        // A changed routing field.
        let moved = Header {
            channel: Some("general".into()),
            ..h.clone()
        };
        assert_eq!(
            open(&mine, &moved, &sealed.body, &senders),
            Err(OpenError::BadSignature("ada".into()))
        );
        // Mallory seals as Ada with her own key: Ada's card does not list it.
        let forged = seal(&mallory, &h, &content(), &to_bob)?;
        assert_eq!(
            open(&mine, &h, &forged.body, &senders),
            Err(OpenError::UnknownDevice("ada".into()))
        );
        // ... and under Ada's device id, her signature does not check.
        let mut posing: Value = serde_json::from_str(&forged.body)?;
        posing["device"] = json!(ada.device());
        assert_eq!(
            open(&mine, &h, &posing.to_string(), &senders),
            Err(OpenError::BadSignature("ada".into()))
        );
        assert_eq!(
            open(&mine, &h, "hello", &senders),
            Err(OpenError::Malformed)
        );
        Ok(())
    }

    #[test]
    fn a_signed_plain_message_verifies_and_a_changed_one_does_not() -> TestResult {
        let ada = DeviceKey::generate(1)?;
        let h = header("ada", "tag:ops");
        let mark = sign_plain(&ada, &h, &content());
        let senders = [ada.entry("ada")];
        assert_eq!(verify_plain(&h, &content(), &mark, &senders), Ok(()));
        let changed = Content {
            body: "ship it at midnight".into(),
            ..content()
        };
        assert_eq!(
            verify_plain(&h, &changed, &mark, &senders),
            Err(OpenError::BadSignature("ada".into()))
        );
        assert_eq!(
            verify_plain(&h, &content(), &mark, &[]),
            Err(OpenError::UnknownDevice("ada".into()))
        );
        Ok(())
    }
}
