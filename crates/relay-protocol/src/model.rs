//! Agent cards, messages, pairs, tasks, and the request bodies of the Agent
//! Relay API (camelCase, as agent-relay sends), with the limits and checks
//! every relay applies to them.

use crate::{Invalid, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MAX_ID_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 64 * 1024;
pub const MAX_SHORT_CHARS: usize = 500;
pub const MAX_LIST_ITEMS: usize = 64;
pub const MAX_META_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct Agent {
    pub id: String,
    pub name: Option<String>,
    pub label: Option<String>,
    pub machine: Option<String>,
    pub rig: Option<String>,
    pub tags: Vec<String>,
    pub capabilities: Vec<String>,
    pub channels: Vec<String>,
    pub status: AgentStatus,
    pub ready: bool,
    #[cfg_attr(feature = "contract", schema(value_type = Object))]
    #[cfg_attr(feature = "contract", ts(type = "Record<string, unknown>"))]
    pub meta: Map<String, Value>,
    pub instance_id: Option<String>,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub epoch: i64,
    /// The id holds a key: every call as it (re-registering, heartbeats,
    /// messages from it) proved the key. `false`: anyone may speak as it.
    #[serde(default)]
    pub authenticated: bool,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub registered_at: i64,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub last_seen: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub enum AgentStatus {
    Online,
    Busy,
    Idle,
    Away,
    Offline,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Busy => "busy",
            Self::Idle => "idle",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct Message {
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub id: i64,
    pub from: String,
    pub to: String,
    pub channel: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    #[cfg_attr(feature = "contract", ts(type = "number | null"))]
    pub reply_to: Option<i64>,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub thread_id: i64,
    pub claimable: bool,
    pub claimed_by: Option<String>,
    #[cfg_attr(feature = "contract", ts(type = "number | null"))]
    pub claimed_at: Option<i64>,
    #[cfg_attr(feature = "contract", ts(type = "number | null"))]
    pub claim_expires_at: Option<i64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[cfg_attr(feature = "contract", schema(value_type = Object))]
    #[cfg_attr(feature = "contract", ts(type = "Record<string, unknown>"))]
    pub meta: Map<String, Value>,
    pub urgent: bool,
    /// The sender proved the key of its `from` id. Not a signature: the
    /// relay vouches for it, nothing end to end.
    #[serde(default)]
    pub authenticated: bool,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub created_at: i64,
    pub read_by: Vec<String>,
}

/// Where a message goes. Resolved against agent cards when read, so an agent
/// that gains a tag later also sees earlier `tag:` messages it did not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Agent(String),
    Tag(String),
    Capability(String),
    Label(String),
    Broadcast,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let nonempty = |kind: &str, value: &str| -> Result<String> {
            if value.trim().is_empty() {
                Err(Invalid(format!("`{kind}:` needs a name after the colon")))
            } else {
                Ok(value.trim().to_string())
            }
        };
        let target = if raw == "broadcast" {
            Self::Broadcast
        } else if let Some(tag) = raw.strip_prefix("tag:") {
            Self::Tag(nonempty("tag", tag)?)
        } else if let Some(cap) = raw.strip_prefix("cap:") {
            Self::Capability(nonempty("cap", cap)?)
        } else if let Some(label) = raw.strip_prefix("label:") {
            Self::Label(nonempty("label", label)?)
        } else {
            Self::Agent(check_id("to", raw)?)
        };
        Ok(target)
    }

    /// The stored form (`tag:x`, `broadcast`, or the agent id).
    pub fn to_wire(&self) -> String {
        match self {
            Self::Agent(id) => id.clone(),
            Self::Tag(t) => format!("tag:{t}"),
            Self::Capability(c) => format!("cap:{c}"),
            Self::Label(l) => format!("label:{l}"),
            Self::Broadcast => "broadcast".into(),
        }
    }

    pub fn matches(&self, agent: &Agent) -> bool {
        match self {
            Self::Agent(id) => *id == agent.id,
            Self::Tag(t) => agent.tags.contains(t),
            Self::Capability(c) => agent.capabilities.contains(c),
            Self::Label(l) => agent.label.as_deref() == Some(l.as_str()),
            Self::Broadcast => true,
        }
    }

    /// Every stored `to` value that reaches `agent`.
    pub fn addresses_of(agent: &Agent) -> Vec<String> {
        let mut all = vec![agent.id.clone(), "broadcast".to_string()];
        all.extend(agent.tags.iter().map(|t| format!("tag:{t}")));
        all.extend(agent.capabilities.iter().map(|c| format!("cap:{c}")));
        all.extend(agent.label.iter().map(|l| format!("label:{l}")));
        all
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct Pair {
    pub id: String,
    pub from: String,
    pub to: String,
    pub objective: Option<String>,
    pub status: PairStatus,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub created_at: i64,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub updated_at: i64,
    pub ended_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub enum PairStatus {
    Pending,
    Active,
    Rejected,
    Ended,
}

impl PairStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct Task {
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub id: i64,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Option<String>,
    pub dedupe_key: Option<String>,
    pub title: String,
    pub body: Option<String>,
    pub target: String,
    pub channel: Option<String>,
    pub external_url: Option<String>,
    #[cfg_attr(feature = "contract", schema(value_type = Object))]
    #[cfg_attr(feature = "contract", ts(type = "Record<string, unknown>"))]
    pub metadata: Map<String, Value>,
    pub status: TaskStatus,
    pub claimed_by: Option<String>,
    pub result: Option<String>,
    pub progress: Option<String>,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub occurrence_count: i64,
    #[cfg_attr(feature = "contract", ts(type = "number | null"))]
    pub message_id: Option<i64>,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub created_at: i64,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub updated_at: i64,
    #[cfg_attr(feature = "contract", ts(type = "number"))]
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "contract", derive(ts_rs::TS, utoipa::ToSchema))]
pub enum TaskStatus {
    Open,
    Claimed,
    InProgress,
    Blocked,
    Done,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::InProgress => "in_progress",
            Self::Blocked => "blocked",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }

    /// Active tasks absorb repeated events with the same dedupe key.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    pub id: i64,
    pub task_id: i64,
    pub kind: String,
    pub actor: Option<String>,
    pub detail: Map<String, Value>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub id: i64,
    pub task_id: i64,
    pub integration: String,
    pub url: String,
    pub event: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

// ------------------------------------------------------------------ requests

/// Proves which instance of an agent is calling (agent-relay-codex sends it
/// with every call after registering).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceProof {
    pub instance_id: Option<String>,
    pub epoch: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterAgent {
    pub id: String,
    pub name: Option<String>,
    pub label: Option<String>,
    pub machine: Option<String>,
    pub rig: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    pub status: Option<AgentStatus>,
    pub ready: Option<bool>,
    pub instance_id: Option<String>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// Ask for an agent key (returned once, in `key`). Ignored when the id
    /// already holds one: the call must then present it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub want_key: bool,
    /// The name of the device this registration comes from, for an id held
    /// on several machines (one key per device; each device fences only its
    /// own older instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// A one-time code another device of this id made
    /// (`POST /api/agents/{id}/links`): it gives this device a key of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_code: Option<String>,
}

/// What `POST /api/agents/{id}/links` answers: a code another machine
/// registers `id` with (`linkCode`), once, before `expiresAt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LinkCode {
    pub id: String,
    pub code: String,
    pub expires_at: i64,
}

/// One device that holds a key of an id (`GET /api/agents/{id}/devices`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentDevice {
    pub device: String,
    pub created_at: i64,
    /// The instance of this device that may act now (older ones are fenced).
    pub instance_id: Option<String>,
    pub epoch: i64,
    /// Whether the key of the call that asked is this device's.
    pub this_device: bool,
}

/// What `POST /api/agents` answers: the card, and the agent key when this
/// registration issued one (it is never shown again; the relay keeps only
/// its digest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The header that carries an agent key.
pub const AGENT_KEY_HEADER: &str = "x-agent-key";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage {
    pub from: String,
    pub to: String,
    pub body: String,
    pub subject: Option<String>,
    pub channel: Option<String>,
    pub reply_to: Option<i64>,
    #[serde(default)]
    pub claimable: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub urgent: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQuery {
    /// Messages that reach this agent (by id, tag, capability, label or
    /// broadcast), not sent by it.
    #[serde(rename = "for")]
    pub for_agent: Option<String>,
    /// With `for`: only messages it has not marked read.
    pub unread: Option<bool>,
    pub since_id: Option<i64>,
    pub before_id: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub thread_id: Option<i64>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationEvent {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub severity: Option<String>,
    pub dedupe_key: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub target: Option<String>,
    pub channel: Option<String>,
    pub external_url: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// `resolved` marks the active task with this dedupe key done.
    pub status: Option<String>,
}

// ---------------------------------------------------------------- validation

/// An id: 1..=200 visible characters without spaces or slashes.
pub fn check_id(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_ID_CHARS {
        return Err(Invalid(format!(
            "`{field}` must be 1 to {MAX_ID_CHARS} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(Invalid(format!(
            "`{field}` {value:?} may not contain spaces, control characters or '/'"
        )));
    }
    Ok(value.to_string())
}

pub fn check_text(field: &str, value: &str, max: usize) -> Result<String> {
    if value.chars().count() > max {
        return Err(Invalid(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(value.to_string())
}

pub fn check_optional(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    value
        .map(|v| check_text(field, v.trim(), max))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

pub fn check_list(field: &str, values: Vec<String>) -> Result<Vec<String>> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(Invalid(format!(
            "`{field}` has more than {MAX_LIST_ITEMS} items"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = check_text(field, value.trim(), MAX_SHORT_CHARS)?;
        if !value.is_empty() && !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

pub fn check_meta(field: &str, meta: &Map<String, Value>) -> Result<()> {
    if serde_json::to_vec(meta)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
        > MAX_META_BYTES
    {
        return Err(Invalid(format!(
            "`{field}` is larger than {MAX_META_BYTES} bytes of JSON"
        )));
    }
    Ok(())
}
