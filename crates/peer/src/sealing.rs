//! End to end at Perch's edge of the network: the device keys of Perch's
//! two ids (in the secret store), the devices peers' cards publish and the
//! ones the person pinned, sealing what Perch sends and opening what it
//! reads.
//!
//! Invariants:
//! - A message shows as signed only after its signature checked against a
//!   device the sender's card lists (and, for a pinned peer, a pinned device
//!   or one a pinned key rotated to).
//! - Nothing is sealed to a pinned peer's device whose key changed without
//!   a rotation its pinned key signed: the send is refused with the
//!   fingerprints, and the person decides.
//! - A message that fails its checks keeps no subject or body in what
//!   Perch shows or delivers; only the reason.

use crate::error::{PeerError, Result};
use crate::ledger::{ChannelKeyRow, Ledger, Pin};
use perch_e2e::{ChannelKey, DeviceEntry, DeviceKey, Header, OpenError};
use perch_protocol::peer::Seal;
use perch_relay_protocol::{Agent, Message, NewMessage, Target};
use perch_runtime::host::SecretStore;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stdx::MutexExt;

/// The secret-store name of `id`'s key on this device.
fn secret_name(id: &str) -> String {
    let digest = stdx::sha256_hex(&format!("e2e-device\n{id}"));
    format!("e2e-device-{}", &digest[..32])
}

/// `id`'s key on this device: the stored one, else a new one, stored
/// before it is published.
pub(crate) async fn device_key(secrets: &Arc<dyn SecretStore>, id: &str) -> Result<DeviceKey> {
    let (store, name, owner) = (secrets.clone(), secret_name(id), id.to_string());
    tokio::task::spawn_blocking(move || {
        let fail = |e: String| PeerError::Invalid(format!("the device key of {owner}: {e}"));
        if let Some(text) = store.get(&name).map_err(|e| fail(e.to_string()))? {
            return DeviceKey::from_secret(&text).map_err(|e| fail(e.to_string()));
        }
        let key = DeviceKey::generate(stdx::now_ms()).map_err(|e| fail(e.to_string()))?;
        store
            .set(&name, &key.to_secret())
            .map_err(|e| fail(e.to_string()))?;
        Ok(key)
    })
    .await
    .map_err(|e| PeerError::Invalid(format!("the device key of {id}: {e}")))?
}

/// Replaces `id`'s key with a new one announced by the old.
pub(crate) async fn rotate_device_key(
    secrets: &Arc<dyn SecretStore>,
    id: &str,
    old: &DeviceKey,
) -> Result<DeviceKey> {
    let next = old
        .rotate(id, stdx::now_ms())
        .map_err(|e| PeerError::Invalid(format!("rotating the device key of {id}: {e}")))?;
    let (store, name, text) = (secrets.clone(), secret_name(id), next.to_secret());
    tokio::task::spawn_blocking(move || store.set(&name, &text))
        .await
        .map_err(|e| PeerError::Invalid(format!("keeping the new device key of {id}: {e}")))?
        .map_err(|e| PeerError::Invalid(format!("keeping the new device key of {id}: {e}")))?;
    Ok(next)
}

/// What a pinned peer's device is now, against its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Nobody pinned this id: its card is believed (first use).
    Unpinned,
    Pinned,
    /// Pinned, and since rotated by the pinned key (the pin follows).
    Rotated,
    /// The id is pinned but this device is not: not sealed to, until pinned.
    NewDevice,
    /// Same device, a different key that the pinned one did not announce.
    Changed,
}

pub(crate) fn standing(pins: &[Pin], device: &DeviceEntry) -> Standing {
    if pins.is_empty() {
        return Standing::Unpinned;
    }
    match pins.iter().find(|p| p.device == device.device) {
        None => Standing::NewDevice,
        Some(pin) if pin.sign == device.sign => Standing::Pinned,
        Some(pin)
            if device
                .rotated_from
                .as_ref()
                .is_some_and(|r| r.sign == pin.sign) =>
        {
            Standing::Rotated
        }
        Some(_) => Standing::Changed,
    }
}

/// This device's keys for Perch's two ids, and what cards said.
pub(crate) struct Sealing {
    agent_id: String,
    person_id: String,
    keys: Mutex<HashMap<String, DeviceKey>>,
    /// The devices each id's card listed when last seen (verified).
    directory: Mutex<HashMap<String, Vec<DeviceEntry>>>,
}

/// The header a message's routing fields give.
fn header_of(message: &Message) -> Header {
    Header {
        from: message.from.clone(),
        to: message.to.clone(),
        channel: message.channel.clone(),
        reply_to: message.reply_to,
    }
}

impl Sealing {
    pub(crate) fn new(agent: (String, DeviceKey), person: (String, DeviceKey)) -> Self {
        Self {
            agent_id: agent.0.clone(),
            person_id: person.0.clone(),
            keys: Mutex::new(HashMap::from([agent, person])),
            directory: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn key(&self, id: &str) -> Option<DeviceKey> {
        self.keys.lock_unpoisoned().get(id).cloned()
    }

    pub(crate) fn set_key(&self, id: &str, key: DeviceKey) {
        self.keys.lock_unpoisoned().insert(id.to_string(), key);
    }

    /// `meta.e2e` for `id`'s card: this device and the others `current` lists.
    pub(crate) fn key_list(&self, id: &str, current: &Map<String, Value>) -> Option<Value> {
        let key = self.key(id)?;
        Some(perch_e2e::key_list(current, id, &key.entry(id)))
    }

    /// Remembers what a card lists.
    pub(crate) fn learn(&self, card: &Agent) {
        let devices = perch_e2e::devices_in(&card.meta, &card.id);
        self.directory
            .lock_unpoisoned()
            .insert(card.id.clone(), devices);
    }

    pub(crate) fn devices(&self, id: &str) -> Option<Vec<DeviceEntry>> {
        self.directory.lock_unpoisoned().get(id).cloned()
    }

    fn ours(&self, id: &str) -> bool {
        id == self.agent_id || id == self.person_id
    }

    /// Seals `message` for every device of every card `target` reaches (and
    /// this Perch's own devices, so its history reads back), or signs it in
    /// the clear when one of them publishes no key. A direct message is
    /// sealed to each device; a group's under its channel key (`current`,
    /// this device's newest for the group), which is shared with members
    /// that lack it and replaced when a member left. `cards` is the relay's
    /// list now (already learnt); `pins` what the person pinned.
    pub(crate) fn outgoing(
        &self,
        mut message: NewMessage,
        cards: &[Agent],
        pins: &HashMap<String, Vec<Pin>>,
        current: Option<ChannelKeyRow>,
    ) -> Result<Outgoing> {
        let key = self.key(&message.from).ok_or_else(|| {
            PeerError::Invalid(format!("{} is not one of this Perch's ids", message.from))
        })?;
        let target = Target::parse(&message.to).map_err(|e| PeerError::Invalid(e.to_string()))?;
        message.to = target.to_wire();
        let header = Header {
            from: message.from.clone(),
            to: message.to.clone(),
            channel: message.channel.clone(),
            reply_to: message.reply_to,
        };
        let content = perch_e2e::Content {
            subject: message.subject.clone(),
            body: message.body.clone(),
        };
        let Some(mut recipients) = self.recipients(&target, cards, pins)? else {
            message.meta.insert(
                perch_e2e::META_KEY.into(),
                json!({ "signed": perch_e2e::sign_plain(&key, &header, &content) }),
            );
            return Ok(Outgoing {
                share: None,
                message,
                keep: None,
            });
        };
        for id in [&self.agent_id, &self.person_id] {
            let mine = self.key(id).map(|k| k.entry(id));
            let listed = self.devices(id).unwrap_or_default();
            for device in mine.into_iter().chain(listed) {
                if !recipients
                    .iter()
                    .any(|(o, d)| o == id && d.device == device.device)
                {
                    recipients.push((id.clone(), device));
                }
            }
        }
        let (sealed, share, keep) = if matches!(target, Target::Agent(_)) {
            let sealed = perch_e2e::seal(&key, &header, &content, &recipients)
                .map_err(|e| PeerError::Invalid(format!("sealing the message: {e}")))?;
            (sealed, None, None)
        } else {
            self.for_group(&key, &header, &content, &recipients, current)?
        };
        fits(&sealed.body, recipients.len())?;
        message.body = sealed.body;
        message.subject = None;
        message.meta.insert(perch_e2e::META_KEY.into(), sealed.mark);
        let share = share.map(|body: perch_e2e::Sealed| NewMessage {
            from: message.from.clone(),
            to: message.to.clone(),
            body: body.body,
            subject: None,
            channel: message.channel.clone(),
            reply_to: None,
            claimable: false,
            kind: Some(KEY_SHARE.into()),
            meta: serde_json::Map::from_iter([(perch_e2e::META_KEY.to_string(), body.mark)]),
            urgent: false,
        });
        Ok(Outgoing {
            share,
            message,
            keep,
        })
    }

    /// The devices `target` reaches now, or `None` when one of its cards
    /// publishes no key (or none is reached): the message goes in the clear.
    fn recipients(
        &self,
        target: &Target,
        cards: &[Agent],
        pins: &HashMap<String, Vec<Pin>>,
    ) -> Result<Option<Vec<(String, DeviceEntry)>>> {
        let reached: Vec<&Agent> = cards
            .iter()
            .filter(|c| target.matches(c) && !self.ours(&c.id))
            .collect();
        let mut recipients: Vec<(String, DeviceEntry)> = Vec::new();
        // Only this Perch's own ids (the agent writing to its person, on
        // this computer and the person's others): sealed to their devices.
        let mut clear = !cards.iter().any(|c| target.matches(c));
        for card in &reached {
            let devices = perch_e2e::devices_in(&card.meta, &card.id);
            if devices.is_empty() {
                clear = true;
            }
            let pinned = pins.get(&card.id).map(Vec::as_slice).unwrap_or_default();
            let before = recipients.len();
            let listed = devices.len();
            for device in devices {
                match standing(pinned, &device) {
                    Standing::Changed => {
                        return Err(PeerError::KeyChanged(format!(
                            "{}'s key on device {} changed since you pinned it (now {}), and the pinned key did not announce the change. Compare the fingerprint with {} another way, then pin it again on the Peers page (or `perch peers pin {}`); nothing was sent",
                            card.id,
                            device.device,
                            device.fingerprint(),
                            card.id,
                            card.id
                        )))
                    }
                    Standing::NewDevice => {}
                    _ => recipients.push((card.id.clone(), device)),
                }
            }
            if listed > 0 && recipients.len() == before {
                return Err(PeerError::KeyChanged(format!(
                    "{} lists only devices you have not pinned, so nothing could be encrypted to it. Compare their fingerprints with {} another way, then pin them on the Peers page (or `perch peers pin {}`), or unpin it; nothing was sent",
                    card.id, card.id, card.id
                )));
            }
        }
        Ok((!clear).then_some(recipients))
    }

    /// A group message under the group's key: the current one, shared with
    /// the members that lack it; a new one, shared with every member, when
    /// there is none or a member left since it was made.
    fn for_group(
        &self,
        key: &DeviceKey,
        header: &Header,
        content: &perch_e2e::Content,
        members: &[(String, DeviceEntry)],
        current: Option<ChannelKeyRow>,
    ) -> Result<(
        perch_e2e::Sealed,
        Option<perch_e2e::Sealed>,
        Option<ChannelKeyRow>,
    )> {
        let fail = |e: perch_e2e::KeyError| PeerError::Invalid(format!("sealing the message: {e}"));
        let mut now: Vec<(String, String)> = members
            .iter()
            .map(|(id, d)| (id.clone(), d.device.clone()))
            .collect();
        now.sort();
        now.dedup();
        let usable = current.and_then(|row| {
            let left = row.members.iter().any(|m| !now.contains(m));
            let channel = ChannelKey::from_secret_text(&row.key_id, &row.secret)?;
            (!left).then_some((channel, row))
        });
        let (channel, to_share, created_at) = match usable {
            Some((channel, row)) => {
                let joiners: Vec<&(String, DeviceEntry)> = members
                    .iter()
                    .filter(|(id, d)| !row.members.contains(&(id.clone(), d.device.clone())))
                    .collect();
                (channel, joiners, row.created_at)
            }
            None => (
                ChannelKey::generate().map_err(fail)?,
                members.iter().collect(),
                stdx::now_ms(),
            ),
        };
        let share = if to_share.is_empty() {
            None
        } else {
            let text =
                serde_json::to_string(&channel.share(&header.to, now.clone())).unwrap_or_default();
            let share_content = perch_e2e::Content {
                subject: None,
                body: text,
            };
            let wraps: Vec<(String, DeviceEntry)> = to_share.into_iter().cloned().collect();
            // The share is its own message: it replies to nothing.
            let share_header = Header {
                reply_to: None,
                ..header.clone()
            };
            Some(perch_e2e::seal(key, &share_header, &share_content, &wraps).map_err(fail)?)
        };
        let sealed = channel.seal(key, header, content).map_err(fail)?;
        let keep = ChannelKeyRow {
            key_id: channel.id.clone(),
            group: header.to.clone(),
            secret: channel.secret_text(),
            members: now,
            created_at,
        };
        Ok((sealed, share, Some(keep)))
    }

    /// Opens or verifies `message` with the sender's `devices` (its card's,
    /// as known now) and the person's `pins` for it. `Err(UnknownDevice)`
    /// asks the caller to read the sender's card again and retry.
    pub(crate) fn open(
        &self,
        message: &Message,
        devices: &[DeviceEntry],
        pins: &[Pin],
        channel_key: Option<&ChannelKey>,
    ) -> std::result::Result<(Message, Seal), OpenError> {
        let Some(mark) = message.meta.get(perch_e2e::META_KEY) else {
            return Ok((message.clone(), Seal::default()));
        };
        let header = header_of(message);
        let key_changed = |signer: &str| {
            devices
                .iter()
                .find(|d| d.device == signer)
                .filter(|d| standing(pins, d) == Standing::Changed)
                .map(DeviceEntry::fingerprint)
        };
        let sealed = if let Some(key_id) = mark.get("channel").and_then(Value::as_str) {
            let channel = channel_key
                .filter(|k| k.id == key_id)
                .ok_or(OpenError::NotForUs)?;
            Some((
                perch_e2e::open_channel(channel, &header, &message.body, devices)?,
                perch_e2e::channel_signer(&message.body),
            ))
        } else if mark.get("sealed").is_some() {
            let keys = self.keys.lock_unpoisoned().clone();
            let mine: Vec<(&str, &DeviceKey)> =
                keys.iter().map(|(id, k)| (id.as_str(), k)).collect();
            Some((
                perch_e2e::open(&mine, &header, &message.body, devices)?,
                perch_e2e::sealed_by(&message.body),
            ))
        } else {
            None
        };
        if let Some((content, signer)) = sealed {
            let mut opened = message.clone();
            opened.subject = content.subject;
            opened.body = content.body;
            let seal = Seal {
                encrypted: true,
                signed: true,
                withheld: None,
                tampered: false,
                key_changed: key_changed(&signer.unwrap_or_default()),
            };
            return Ok((opened, seal));
        }
        let signature = mark.get("signed").cloned().unwrap_or(Value::Null);
        let content = perch_e2e::Content {
            subject: message.subject.clone(),
            body: message.body.clone(),
        };
        perch_e2e::verify_plain(&header, &content, &signature, devices)?;
        let signer = perch_e2e::plain_signature(&signature)
            .map(|(device, _)| device.to_string())
            .unwrap_or_default();
        Ok((
            message.clone(),
            Seal {
                encrypted: false,
                signed: true,
                withheld: None,
                tampered: false,
                key_changed: key_changed(&signer),
            },
        ))
    }
}

/// What is left of a message that failed its checks, or is not ours to
/// read: routing only, and why.
pub(crate) fn withheld(message: &Message, err: &OpenError) -> (Message, Seal) {
    let mut kept = message.clone();
    kept.subject = None;
    kept.body = String::new();
    let mark = message.meta.get(perch_e2e::META_KEY);
    let channel = mark.is_some_and(|m| m.get("channel").is_some());
    let encrypted = channel || mark.is_some_and(|m| m.get("sealed").is_some());
    let why = match err {
        OpenError::NotForUs if channel => "it is encrypted with a channel key this device was not given: it was sent before this device was a member, or after it left".to_string(),
        err => err.to_string(),
    };
    (
        kept,
        Seal {
            encrypted,
            signed: false,
            withheld: Some(why),
            tampered: err.is_fault(),
            key_changed: None,
        },
    )
}

/// A message that carries a channel key to members: read by Perch, never
/// shown or delivered.
pub(crate) const KEY_SHARE: &str = "perch.channel-key";

pub(crate) fn is_key_share(message: &Message) -> bool {
    message.kind.as_deref() == Some(KEY_SHARE)
}

/// What `Sealing::outgoing` gives: a channel key's share to post first
/// (when a group gained members or its key was replaced), the message, and
/// the channel key to keep.
pub(crate) struct Outgoing {
    pub share: Option<NewMessage>,
    pub message: NewMessage,
    pub keep: Option<ChannelKeyRow>,
}

fn fits(body: &str, devices: usize) -> Result<()> {
    let chars = body.chars().count();
    if chars > perch_relay_protocol::MAX_BODY_CHARS {
        return Err(PeerError::Invalid(format!(
            "the message is too long to send encrypted: sealed for {devices} devices it is {chars} characters, and a relay takes {}; shorten it",
            perch_relay_protocol::MAX_BODY_CHARS
        )));
    }
    Ok(())
}

/// Pins grouped by id.
pub(crate) fn pins_by_id(ledger: &Ledger) -> Result<HashMap<String, Vec<Pin>>> {
    let mut all: HashMap<String, Vec<Pin>> = HashMap::new();
    for pin in ledger.pins(None)? {
        all.entry(pin.id.clone()).or_default().push(pin);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: &str, tags: &[&str], devices: &[DeviceEntry]) -> Agent {
        let mut meta = Map::new();
        if !devices.is_empty() {
            meta.insert("e2e".into(), json!({ "v": 1, "devices": devices }));
        }
        serde_json::from_value(json!({
            "id": id, "name": null, "label": null, "machine": null, "rig": null,
            "tags": tags, "capabilities": [], "channels": [], "status": "online", "ready": true,
            "meta": meta, "instanceId": null, "epoch": 1, "registeredAt": 1, "lastSeen": 1
        }))
        .unwrap_or_else(|e| panic!("card: {e}"))
    }

    fn to(target: &str) -> NewMessage {
        NewMessage {
            from: "perch-ada".into(),
            to: target.into(),
            body: "hello".into(),
            subject: Some("hi".into()),
            channel: None,
            reply_to: None,
            claimable: false,
            kind: None,
            meta: Map::new(),
            urgent: false,
        }
    }

    fn pin(id: &str, device: &DeviceEntry) -> Pin {
        Pin {
            id: id.into(),
            device: device.device.clone(),
            sign: device.sign.clone(),
            fingerprint: device.fingerprint(),
            pinned_at: 1,
        }
    }

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn pins_decide_what_is_sealed_to_and_what_is_refused() -> TestResult {
        let sealing = Sealing::new(
            ("perch-ada".into(), DeviceKey::generate(1)?),
            ("ada".into(), DeviceKey::generate(1)?),
        );
        let bob = DeviceKey::generate(1)?;
        let bob_laptop = DeviceKey::generate(2)?;
        let cards = [card(
            "bob",
            &["crew"],
            &[bob.entry("bob"), bob_laptop.entry("bob")],
        )];
        // Unpinned: both devices, the body sealed, the subject gone.
        let out = sealing.outgoing(to("bob"), &cards, &HashMap::new(), None)?;
        assert_eq!(out.message.meta["e2e"], json!({ "sealed": 1 }));
        assert!(out.message.subject.is_none() && !out.message.body.contains("hello"));
        assert!(out.share.is_none() && out.keep.is_none());
        // Pinned on one device: the other is a new device, left out.
        let pins = HashMap::from([("bob".to_string(), vec![pin("bob", &bob.entry("bob"))])]);
        let envelope: Value = serde_json::from_str(
            &sealing
                .outgoing(to("bob"), &cards, &pins, None)?
                .message
                .body,
        )?;
        let wrapped: Vec<&str> = envelope["to"]
            .as_array()
            .map(|w| w.iter().filter_map(|w| w["device"].as_str()).collect())
            .unwrap_or_default();
        assert!(wrapped.contains(&bob.device()) && !wrapped.contains(&bob_laptop.device()));
        // A key swapped under the pinned device id: refused, with the fingerprint.
        let swapped = DeviceKey::from_secret(
            &json!({ "v": 1, "device": bob.device(), "seed": "E".repeat(43), "created": 3 })
                .to_string(),
        )?;
        let changed = [card("bob", &[], &[swapped.entry("bob")])];
        let err = sealing.outgoing(to("bob"), &changed, &pins, None).err();
        assert!(
            matches!(&err, Some(PeerError::KeyChanged(m)) if m.contains(&swapped.entry("bob").fingerprint())),
            "{err:?}"
        );
        // Only devices nobody pinned: refused rather than sealed to nobody.
        let strangers = [card("bob", &[], &[bob_laptop.entry("bob")])];
        assert!(matches!(
            sealing.outgoing(to("bob"), &strangers, &pins, None),
            Err(PeerError::KeyChanged(_))
        ));
        // A group with a keyless member goes in the clear, signed.
        let mixed = [cards[0].clone(), card("curl-bot", &["crew"], &[])];
        let out = sealing.outgoing(to("tag:crew"), &mixed, &HashMap::new(), None)?;
        assert_eq!(out.message.body, "hello");
        assert!(out.message.meta["e2e"]["signed"]["sig"].is_string());
        Ok(())
    }

    #[test]
    fn a_group_key_is_kept_while_members_stay_and_replaced_when_one_leaves() -> TestResult {
        let sealing = Sealing::new(
            ("perch-ada".into(), DeviceKey::generate(1)?),
            ("ada".into(), DeviceKey::generate(1)?),
        );
        let (bob, carol) = (DeviceKey::generate(1)?, DeviceKey::generate(1)?);
        let both = [
            card("bob", &["crew"], &[bob.entry("bob")]),
            card("carol", &["crew"], &[carol.entry("carol")]),
        ];
        let first = sealing.outgoing(to("tag:crew"), &both, &HashMap::new(), None)?;
        let kept = first.keep.ok_or("no key kept")?;
        assert!(first.share.is_some(), "a new key is shared");
        assert_eq!(first.message.meta["e2e"]["channel"], json!(kept.key_id));
        // Same members: same key, nothing to share.
        let again = sealing.outgoing(to("tag:crew"), &both, &HashMap::new(), Some(kept.clone()))?;
        assert!(again.share.is_none());
        assert_eq!(again.keep.as_ref().map(|k| &k.key_id), Some(&kept.key_id));
        // Carol leaves: a new key, shared with those who stay.
        let after = sealing.outgoing(
            to("tag:crew"),
            &both[..1],
            &HashMap::new(),
            Some(kept.clone()),
        )?;
        let next = after.keep.ok_or("no key kept")?;
        assert_ne!(next.key_id, kept.key_id);
        assert!(!next.members.iter().any(|(id, _)| id == "carol"));
        assert!(after.share.is_some());
        Ok(())
    }
}
