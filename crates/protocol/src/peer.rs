//! `/api/peer/*`: the person's side of the peer network.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// `POST /api/peer/messages`: a message the person sends (`perch send`, the Inbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// An agent id, `tag:…`, `cap:…`, `label:…` or `broadcast`.
    pub to: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub reply_to: Option<i64>,
    /// Optional on the wire (false when absent).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub urgent: bool,
    /// Optional on the wire (false when absent).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub claimable: bool,
}

/// `POST /api/peer/read`: messages the person has read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadMarks {
    #[ts(type = "Array<number>")]
    pub ids: Vec<i64>,
}

/// How peer messages reach Perch's agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    #[default]
    Idle,
    Delivering,
    Retrying,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    /// Messages waiting for a turn.
    #[ts(type = "number")]
    pub queued: usize,
    pub state: DeliveryState,
    pub attempt: u32,
    /// Why the last delivery failed, while retrying or failed.
    pub error: Option<String>,
}

/// `GET /api/peer` with the network on, and what `peer.status` carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerLink {
    /// Always true here.
    #[ts(type = "true")]
    pub enabled: bool,
    pub relay_url: String,
    /// The relay runs inside this Perch.
    pub embedded: bool,
    pub connected: bool,
    /// Perch's agent on the relay.
    pub agent_id: String,
    /// The person using Perch: sends and receives as this id.
    pub person_id: String,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub capabilities: Vec<String>,
    pub channels: Vec<String>,
    /// The Codex session peer messages are delivered to.
    pub session_id: Option<String>,
    /// Messages to the person not read yet.
    #[ts(type = "number")]
    pub unread: usize,
    pub last_error: Option<String>,
    pub delivery: DeliveryStatus,
}

/// `GET /api/peer`, and what `peer.status` carries: the link, or
/// `{"enabled": false}` when the network is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(untagged)]
pub enum PeerStatus {
    On(Box<PeerLink>),
    Off(PeerOff),
}

impl PeerStatus {
    pub fn link(&self) -> Option<&PeerLink> {
        match self {
            Self::On(link) => Some(link),
            Self::Off(_) => None,
        }
    }
}

/// The peer network is off (`[peer] enabled = false`, or no relay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerOff {
    /// Always false here.
    #[ts(type = "false")]
    pub enabled: bool,
    /// Why, when it is not the person's choice (the relay's port is taken
    /// by another program), with what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
}

/// A relay message as the person's side sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct PeerMessage {
    #[serde(flatten)]
    #[ts(flatten)]
    pub message: perch_relay_protocol::Message,
    /// It reaches the person, who has not read it.
    pub unread: bool,
    /// What this Perch checked end to end (the relay cannot set it).
    #[serde(flatten)]
    #[ts(flatten)]
    pub seal: Seal,
}

/// How a peer message was protected end to end, as the reading Perch
/// checked it. Separate from `authenticated`, which the relay vouches for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Seal {
    /// Subject and body travelled encrypted to the recipients' device keys;
    /// the relay stored ciphertext only.
    pub encrypted: bool,
    /// Its signature checks against a device key the sender's card lists
    /// (in the clear or encrypted). False: unverified.
    pub signed: bool,
    /// Why its subject and body are not shown, and it was not given to
    /// the agent: changed or forged, not decryptable here, or encrypted
    /// for others.
    pub withheld: Option<String>,
    /// It failed its checks (changed, forged, broken): not merely meant
    /// for others. The person is told.
    pub tampered: bool,
    /// The sender's device key changed since the person pinned it (see
    /// `GET /api/peer/keys`): the fingerprint now on the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key_changed: Option<String>,
}

/// `POST /api/peer/read`: the person's unread count after marking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Unread {
    #[ts(type = "number")]
    pub unread: usize,
}

/// The query of `GET /api/peer/messages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct InboxQuery {
    /// Only this channel.
    #[serde(default)]
    #[ts(optional)]
    pub channel: Option<String>,
    /// Only messages from or to this agent.
    #[serde(default)]
    #[ts(optional)]
    pub agent: Option<String>,
    /// Older than this message id (for paging back).
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub before_id: Option<i64>,
    /// At most this many, 1 to 500 (default 200; more is 500).
    #[serde(default)]
    #[ts(optional)]
    #[param(maximum = 4_294_967_295_u32)]
    pub limit: Option<u32>,
}

/// `GET /api/peer/keys`: the device keys every card on the relay publishes
/// (Perch's own ids too), with what the person pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct PeersKeys {
    pub peers: Vec<PeerKeys>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerKeys {
    pub id: String,
    /// One of this Perch's ids (its agent, the person).
    pub ours: bool,
    /// The person pinned this id's devices.
    pub pinned: bool,
    /// The devices its card lists and verify; empty: it sends and receives
    /// in the clear, unverified.
    pub devices: Vec<KeyDevice>,
    /// Fingerprints the person pinned that its card no longer lists.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyDevice {
    pub device: String,
    /// What to compare with the peer another way (ten groups of hex).
    pub fingerprint: String,
    #[ts(type = "number")]
    pub created: i64,
    /// This Perch's own key for that id.
    pub this_device: bool,
    pub standing: KeyStanding,
}

/// A device key against the person's pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum KeyStanding {
    /// Nobody pinned the id: its card is believed (trust on first use).
    Unpinned,
    Pinned,
    /// Replaced by a new key that the pinned one announced; the pin follows.
    Rotated,
    /// The id is pinned but this device is not: nothing is encrypted to it
    /// until the person pins the id again.
    NewDevice,
    /// The key changed without an announcement from the pinned key: sending
    /// to the id is refused until the person pins it again or unpins it.
    Changed,
}

/// `POST /api/peer/keys/pin` and `/unpin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinKeys {
    /// The peer's relay id.
    pub id: String,
}

/// `GET /api/peer/devices`: the computers that hold the person's id on the
/// relay (one person on several machines: each has a key of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonDevices {
    pub person_id: String,
    pub devices: Vec<PersonDevice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonDevice {
    /// Its name on the relay: the id of its end-to-end device key.
    pub device: String,
    #[ts(type = "number")]
    pub created_at: i64,
    /// This computer.
    pub this_device: bool,
    /// Its end-to-end key as the person's card lists it (absent: the card
    /// lists no key for it yet).
    pub fingerprint: Option<String>,
}

/// `POST /api/peer/devices/link`: a one-time code for another computer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLinkCode {
    pub person_id: String,
    pub code: String,
    #[ts(type = "number")]
    pub expires_at: i64,
}

/// `POST /api/peer/devices/join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinDevice {
    /// The code `POST /api/peer/devices/link` gave on the other computer.
    pub code: String,
}
