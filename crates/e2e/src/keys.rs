//! Device keys, their public entries on agent cards, and fingerprints.

use crate::{MAX_DEVICES, META_KEY};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use rand_core::{OsRng, TryRngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub(crate) type KexKem = X25519HkdfSha256;
pub(crate) type KexPrivate = <KexKem as Kem>::PrivateKey;
pub(crate) type KexPublic = <KexKem as Kem>::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error("the stored device key is not readable: {0}")]
    Stored(String),
}

/// The key statement of a device: what its own key and, after a rotation,
/// the key before it sign. Bound to the owner's id, so an entry cannot be
/// moved to another card.
fn statement(owner: &str, device: &str, sign: &str, kex: &str, created: i64) -> Vec<u8> {
    format!("perch-e2e device v1\n{owner}\n{device}\n{sign}\n{kex}\n{created}").into_bytes()
}

pub(crate) fn random32() -> Result<[u8; 32], KeyError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

pub(crate) fn decode32(text: &str) -> Option<[u8; 32]> {
    B64.decode(text).ok()?.try_into().ok()
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn verifying_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&decode32(text)?).ok()
}

pub(crate) fn check(key: &VerifyingKey, data: &[u8], sig: &str) -> bool {
    let Some(sig) = B64
        .decode(sig)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
    else {
        return false;
    };
    key.verify_strict(data, &sig).is_ok()
}

/// What the key before a rotation said about the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationProof {
    /// The previous signing key.
    pub sign: String,
    /// Its signature over the new key's statement.
    pub sig: String,
}

/// The secret key of one id on one device. Never printed.
#[derive(Clone)]
pub struct DeviceKey {
    device: String,
    seed: [u8; 32],
    created: i64,
    rotated_from: Option<RotationProof>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.device)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    v: u8,
    device: String,
    seed: String,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_from: Option<RotationProof>,
}

impl DeviceKey {
    /// A new device: a random device id and seed.
    pub fn generate(now_ms: i64) -> Result<Self, KeyError> {
        let id = random32()?;
        Ok(Self {
            device: hex(&id[..8]),
            seed: random32()?,
            created: now_ms,
            rotated_from: None,
        })
    }

    /// A new key for the same device, announced by this one: peers that
    /// knew this key accept the new one without a warning.
    pub fn rotate(&self, owner: &str, now_ms: i64) -> Result<Self, KeyError> {
        let mut next = Self {
            device: self.device.clone(),
            seed: random32()?,
            created: now_ms,
            rotated_from: None,
        };
        let entry = next.entry(owner);
        let said = statement(owner, &entry.device, &entry.sign, &entry.kex, entry.created);
        next.rotated_from = Some(RotationProof {
            sign: encode(self.signing().verifying_key().as_bytes()),
            sig: encode(&self.signing().sign(&said).to_bytes()),
        });
        Ok(next)
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// The text kept in the keyring.
    pub fn to_secret(&self) -> String {
        json!(StoredKey {
            v: 1,
            device: self.device.clone(),
            seed: encode(&self.seed),
            created: self.created,
            rotated_from: self.rotated_from.clone(),
        })
        .to_string()
    }

    pub fn from_secret(text: &str) -> Result<Self, KeyError> {
        let stored: StoredKey =
            serde_json::from_str(text).map_err(|e| KeyError::Stored(e.to_string()))?;
        let seed = decode32(&stored.seed)
            .ok_or_else(|| KeyError::Stored("the seed is not 32 bytes of base64url".into()))?;
        Ok(Self {
            device: stored.device,
            seed,
            created: stored.created,
            rotated_from: stored.rotated_from,
        })
    }

    pub(crate) fn signing(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }

    /// The X25519 pair, derived from the seed under its own label so the
    /// two keys share no bytes.
    pub(crate) fn kex(&self) -> (KexPrivate, KexPublic) {
        let ikm = Sha256::new()
            .chain_update(b"perch-e2e kex v1\0")
            .chain_update(self.seed)
            .finalize();
        KexKem::derive_keypair(&ikm)
    }

    /// The public entry for `owner`'s card.
    pub fn entry(&self, owner: &str) -> DeviceEntry {
        let sign = encode(self.signing().verifying_key().as_bytes());
        let kex = encode(&self.kex().1.to_bytes());
        let said = statement(owner, &self.device, &sign, &kex, self.created);
        DeviceEntry {
            device: self.device.clone(),
            sig: encode(&self.signing().sign(&said).to_bytes()),
            sign,
            kex,
            created: self.created,
            rotated_from: self.rotated_from.clone(),
        }
    }
}

/// One device's public keys on a card (`meta.e2e.devices[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceEntry {
    pub device: String,
    /// Ed25519 public key, base64url.
    pub sign: String,
    /// X25519 public key, base64url.
    pub kex: String,
    pub created: i64,
    /// The device key's signature over its statement.
    pub sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<RotationProof>,
}

impl DeviceEntry {
    /// Whether the entry is well formed, signed by its own key for `owner`,
    /// and (after a rotation) by the key before it.
    pub fn verifies(&self, owner: &str) -> bool {
        let said = statement(owner, &self.device, &self.sign, &self.kex, self.created);
        let own = verifying_key(&self.sign).is_some_and(|key| check(&key, &said, &self.sig));
        let kex_ok = self.kex_key().is_some();
        let rotation_ok = self.rotated_from.as_ref().is_none_or(|proof| {
            verifying_key(&proof.sign).is_some_and(|key| check(&key, &said, &proof.sig))
        });
        own && kex_ok && rotation_ok && !self.device.is_empty() && self.device.len() <= 64
    }

    pub(crate) fn kex_key(&self) -> Option<KexPublic> {
        KexPublic::from_bytes(&decode32(&self.kex)?).ok()
    }

    /// What a person compares out of band: SHA-256 of both public keys,
    /// the first 20 bytes in groups of four hex digits.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(decode32(&self.sign).unwrap_or_default())
            .chain_update(decode32(&self.kex).unwrap_or_default())
            .finalize();
        hex(&digest[..20])
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The devices `owner`'s card lists that verify (the rest are dropped).
pub fn devices_in(meta: &Map<String, Value>, owner: &str) -> Vec<DeviceEntry> {
    meta.get(META_KEY)
        .and_then(|list| list.get("devices"))
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .take(MAX_DEVICES * 2)
                .filter_map(|d| serde_json::from_value::<DeviceEntry>(d.clone()).ok())
                .filter(|d| d.verifies(owner))
                .collect()
        })
        .unwrap_or_default()
}

/// The card's `meta.e2e` for `owner`: this device's entry, and the other
/// devices `current` lists (one person on two machines), newest first, at
/// most [`MAX_DEVICES`].
pub fn key_list(current: &Map<String, Value>, owner: &str, mine: &DeviceEntry) -> Value {
    let mut devices: Vec<DeviceEntry> = devices_in(current, owner)
        .into_iter()
        .filter(|d| d.device != mine.device)
        .collect();
    devices.push(mine.clone());
    devices.sort_by_key(|d| std::cmp::Reverse(d.created));
    devices.truncate(MAX_DEVICES);
    json!({ "v": 1, "devices": devices })
}

/// The card's `meta.e2e` for `owner` without `device` (a computer the
/// person unlinked: nothing new is sealed to it).
pub fn key_list_without(current: &Map<String, Value>, owner: &str, device: &str) -> Value {
    let devices: Vec<DeviceEntry> = devices_in(current, owner)
        .into_iter()
        .filter(|d| d.device != device)
        .collect();
    json!({ "v": 1, "devices": devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(list: Value) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert(META_KEY.into(), list);
        meta
    }

    #[test]
    fn an_entry_verifies_for_its_owner_only_and_survives_the_keyring() -> Result<(), KeyError> {
        let key = DeviceKey::generate(1)?;
        let entry = key.entry("perch-ada");
        assert!(entry.verifies("perch-ada"));
        assert!(!entry.verifies("perch-bob"), "moved to another card");
        let mut forged = entry.clone();
        forged.kex = DeviceKey::generate(1)?.entry("perch-ada").kex;
        assert!(!forged.verifies("perch-ada"), "a swapped agreement key");
        let again = DeviceKey::from_secret(&key.to_secret())?;
        assert_eq!(again.entry("perch-ada"), entry);
        assert_eq!(entry.fingerprint().split(' ').count(), 10);
        assert!(!format!("{key:?}").contains(&encode(&key.seed)));
        Ok(())
    }

    #[test]
    fn a_rotation_is_signed_by_the_key_before() -> Result<(), KeyError> {
        let old = DeviceKey::generate(1)?;
        let new = old.rotate("ada", 2)?;
        let entry = new.entry("ada");
        assert_eq!(entry.device, old.device());
        let proof = entry
            .rotated_from
            .clone()
            .ok_or(KeyError::Stored("no proof".into()))?;
        assert_eq!(proof.sign, old.entry("ada").sign);
        assert!(entry.verifies("ada"));
        let mut lying = entry;
        lying.rotated_from = Some(RotationProof {
            sign: DeviceKey::generate(1)?.entry("ada").sign,
            ..proof
        });
        assert!(!lying.verifies("ada"));
        Ok(())
    }

    #[test]
    fn the_key_list_keeps_other_devices_and_drops_forgeries() -> Result<(), KeyError> {
        let laptop = DeviceKey::generate(1)?;
        let desktop = DeviceKey::generate(2)?;
        let mut stranger = DeviceKey::generate(3)?.entry("someone-else");
        stranger.created = 3;
        let current =
            meta(json!({"v": 1, "devices": [laptop.entry("ada"), stranger, {"junk": true}]}));
        let list = key_list(&current, "ada", &desktop.entry("ada"));
        let devices = devices_in(&meta(list), "ada");
        assert_eq!(
            devices
                .iter()
                .map(|d| d.device.as_str())
                .collect::<Vec<_>>(),
            [desktop.device(), laptop.device()]
        );
        Ok(())
    }
}
