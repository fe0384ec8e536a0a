//! What the relay keeps in JetStream, and under which names.
//!
//! With the namespace `perch-relay` (the default; [`Names`]):
//! - Stream `perch-relay-messages`: every message on `perch_relay.msg` (its
//!   stream sequence is its id), and on `perch_relay.deleted` the id of a
//!   message someone deleted (the view drops it; the stream deletes it).
//!   Retention is the stream's max age.
//! - KV bucket `perch-relay-state`: `agent.<id>`, `pair.<id>`, `pairof.<agent>`
//!   (the agent's open pair: at most one, by compare-and-set), `task.<id>`,
//!   `taskseq` (the last task id), `dedupe.<source>.<key>` (the task that
//!   absorbs repeats), `taskevent.<task>.<nuid>` (its id is its revision),
//!   `callback.<task>.<id>`.
//! - KV bucket `perch-relay-msgstate`: `claim.<message>` and
//!   `read.<message>.<agent>`, kept as long as messages are.
//! - KV bucket `perch-relay-locks`: `upkeep`, held by one frontend, expiring
//!   with the bucket's max age.
//! - Work-queue stream `perch-relay-callbacks` (subject
//!   `perch_relay.callback`, durable consumer `perch-relay-callbacks`):
//!   integration callbacks, taken by exactly one frontend each.
//! - Core subject `perch_relay.events`: every event but `message.new`.
//!
//! Ids become key tokens with [`key_part`]: letters, digits, `-` and `_`
//! stay, any other byte is `=XX`.

use crate::store::{Credentials, DeviceKey};
use perch_relay_protocol::{Agent, Message, NewMessage};
use serde::{Deserialize, Serialize};

/// The names of everything one relay keeps on the cluster, all from its
/// namespace (`perch-relay` unless `--nats-namespace` says otherwise).
#[derive(Debug, Clone)]
pub struct Names {
    pub messages: String,
    pub message_subject: String,
    pub deleted_subject: String,
    pub state_bucket: String,
    pub message_state_bucket: String,
    pub lock_bucket: String,
    pub callbacks: String,
    pub callback_subject: String,
    pub event_subject: String,
}

impl Names {
    pub fn new(namespace: &str) -> Self {
        let subject = namespace.replace('-', "_");
        Self {
            messages: format!("{namespace}-messages"),
            message_subject: format!("{subject}.msg"),
            deleted_subject: format!("{subject}.deleted"),
            state_bucket: format!("{namespace}-state"),
            message_state_bucket: format!("{namespace}-msgstate"),
            lock_bucket: format!("{namespace}-locks"),
            callbacks: format!("{namespace}-callbacks"),
            callback_subject: format!("{subject}.callback"),
            event_subject: format!("{subject}.events"),
        }
    }
}

/// Whether `namespace` can name streams, buckets and subjects.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= 32
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The header that names an event on the event subject.
pub const EVENT_HEADER: &str = "Perch-Event";

/// An id as one key token.
pub fn key_part(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    out
}

/// The key of agent `id`'s card.
pub fn agent_key(id: &str) -> String {
    format!("agent.{}", key_part(id))
}

pub fn pair_key(id: &str) -> String {
    format!("pair.{}", key_part(id))
}

/// The key of the open pair `agent` is in.
pub fn pair_lock_key(agent: &str) -> String {
    format!("pairof.{}", key_part(agent))
}

pub fn task_key(id: i64) -> String {
    format!("task.{id}")
}

/// The id a [`key_part`] token came from.
pub fn id_of(part: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(part.len());
    let mut rest = part.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'=' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A message as the stream holds it: everything but what the stream or
/// other keys give (its id, claims, read markers).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    #[serde(flatten)]
    pub out: NewMessage,
    /// `None`: the message starts its own thread.
    pub thread_id: Option<i64>,
    pub created_at: i64,
    pub authenticated: bool,
}

impl StoredMessage {
    pub fn into_message(self, id: i64) -> Message {
        let out = self.out;
        Message {
            id,
            from: out.from,
            to: out.to,
            channel: out.channel,
            subject: out.subject,
            body: out.body,
            reply_to: out.reply_to,
            thread_id: self.thread_id.unwrap_or(id),
            claimable: out.claimable,
            claimed_by: None,
            claimed_at: None,
            claim_expires_at: None,
            kind: out.kind,
            meta: out.meta,
            urgent: out.urgent,
            created_at: self.created_at,
            read_by: Vec::new(),
            authenticated: self.authenticated,
        }
    }
}

/// `agent.<id>`: the card and who may act as it.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase", from = "StoredAgent")]
pub struct AgentRecord {
    pub card: Agent,
    pub credentials: Credentials,
}

/// An `agent.<id>` as any version wrote it: before devices, one `keyHash`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAgent {
    card: Agent,
    #[serde(default)]
    credentials: Credentials,
    #[serde(default)]
    key_hash: Option<String>,
}

impl From<StoredAgent> for AgentRecord {
    fn from(stored: StoredAgent) -> Self {
        let mut credentials = stored.credentials;
        if let (Some(hash), false) = (stored.key_hash, credentials.is_keyed()) {
            credentials.devices.push(DeviceKey {
                device: "device-1".into(),
                hash,
                instance_id: stored.card.instance_id.clone(),
                epoch: stored.card.epoch,
                created_at: stored.card.registered_at,
            });
        }
        let mut card = stored.card;
        card.authenticated = credentials.is_keyed();
        Self { card, credentials }
    }
}

/// `claim.<message>`.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRecord {
    pub agent: String,
    pub claimed_at: i64,
    pub expires_at: i64,
}

/// `read.<message>.<agent>`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadRecord {
    pub at: i64,
}

/// `pairof.<agent>`: the agent's open pair, and since when (a lock whose
/// pair never got written is stale after a while).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairLock {
    pub pair: String,
    pub since: i64,
}

/// A message of the callback queue: the callback as recorded (its id
/// is this message's sequence).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackJobRecord {
    pub task: i64,
    pub integration: String,
    pub url: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_key_tokens() {
        for id in ["alice", "perch-bob_2", "a.b", "tag:x", "ünï", "=41", "a*>b"] {
            let part = key_part(id);
            assert!(part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)));
            assert_eq!(id_of(&part).as_deref(), Some(id), "{part}");
        }
        assert_eq!(id_of("=4"), None);
    }
}
