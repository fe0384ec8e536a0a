//! The runtime's own data: what the API serializes to its clients.
//! Field names are camelCase on the wire (see docs/api.md). Sessions and
//! turns are the API contract's own types (`perch-protocol`), re-exported;
//! the rest moves there route by route.

use perch_codex::{Health, HealthState};
pub use perch_protocol::sessions::{
    NewSession, SendMode, Sent, Session, SessionPatch, TokenUsage, TurnStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The status Perch records for a Codex turn status (one it does not know
/// is `failed`).
pub fn turn_status_of(status: perch_codex::protocol::TurnStatus) -> TurnStatus {
    use perch_codex::protocol::TurnStatus as Codex;
    match status {
        Codex::InProgress => TurnStatus::InProgress,
        Codex::Completed => TurnStatus::Completed,
        Codex::Interrupted => TurnStatus::Interrupted,
        Codex::Failed | Codex::Unknown => TurnStatus::Failed,
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryTurn {
    pub id: String,
    pub status: TurnStatus,
    pub error: Option<String>,
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalKind {
    Command,
    FileChange,
    McpElicitation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalStatus {
    Pending,
    Accept,
    AcceptForSession,
    Decline,
    Cancel,
    /// The Codex process that asked is gone; nobody can answer it any more.
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accept => "accept",
            Self::AcceptForSession => "acceptForSession",
            Self::Decline => "decline",
            Self::Cancel => "cancel",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "accept" => Self::Accept,
            "acceptForSession" => Self::AcceptForSession,
            "decline" => Self::Decline,
            "cancel" => Self::Cancel,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

impl From<perch_codex::protocol::Decision> for ApprovalStatus {
    fn from(decision: perch_codex::protocol::Decision) -> Self {
        use perch_codex::protocol::Decision;
        match decision {
            Decision::Accept => Self::Accept,
            Decision::AcceptForSession => Self::AcceptForSession,
            Decision::Decline => Self::Decline,
            Decision::Cancel => Self::Cancel,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: String,
    pub session_id: String,
    pub turn_id: Option<String>,
    pub item_id: Option<String>,
    pub kind: ApprovalKind,
    pub title: String,
    pub detail: Option<String>,
    pub status: ApprovalStatus,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    /// Who answered: "person", "timeout", "shutdown", "codex-restart".
    pub answered_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTurn {
    pub session_id: String,
    pub turn_id: String,
    pub stalled: bool,
    pub started_at: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodexStatus {
    pub state: HealthState,
    pub detail: Option<String>,
    pub version: Option<String>,
    pub pinned_version: &'static str,
    pub restarts: u32,
    pub pid: Option<u32>,
    pub bin: String,
}

impl CodexStatus {
    pub fn from_health(health: &Health, bin: String) -> Self {
        Self {
            state: health.state,
            detail: health.detail.clone(),
            version: health.version.clone(),
            pinned_version: perch_codex::PINNED_CODEX_VERSION,
            restarts: health.restarts,
            pid: health.pid,
            bin,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub version: &'static str,
    pub codex: CodexStatus,
    pub active_turns: Vec<ActiveTurn>,
    pub pending_approvals: usize,
    pub approval_policy: crate::config::ApprovalPolicy,
    pub model: Option<String>,
    pub data_dir: String,
    /// Things a person should fix (secrets outside the keyring, ...).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub id: String,
    pub display_name: String,
    pub efforts: Vec<String>,
    pub default_effort: Option<String>,
    pub is_default: bool,
}

/// Every event on the bus. The `type` tag is the wire name.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum EventKind {
    #[serde(rename = "codex.state")]
    CodexState {
        state: HealthState,
        detail: Option<String>,
    },
    #[serde(rename = "session.updated")]
    SessionUpdated { session: Session },
    #[serde(rename = "turn.started")]
    TurnStarted { session_id: String, turn_id: String },
    #[serde(rename = "turn.completed")]
    TurnCompleted {
        session_id: String,
        turn_id: String,
        status: TurnStatus,
        error: Option<String>,
    },
    #[serde(rename = "turn.stalled")]
    TurnStalled {
        session_id: String,
        turn_id: String,
        silent_for_ms: u64,
    },
    #[serde(rename = "item.started")]
    ItemStarted {
        session_id: String,
        turn_id: String,
        item: Value,
    },
    #[serde(rename = "item.completed")]
    ItemCompleted {
        session_id: String,
        turn_id: String,
        item: Value,
    },
    #[serde(rename = "item.delta")]
    ItemDelta {
        session_id: String,
        turn_id: String,
        item_id: String,
        kind: DeltaKind,
        delta: String,
    },
    #[serde(rename = "turn.diff")]
    TurnDiff {
        session_id: String,
        turn_id: String,
        diff: String,
    },
    #[serde(rename = "tokens.updated")]
    TokensUpdated {
        session_id: String,
        usage: TokenUsage,
    },
    #[serde(rename = "approval.requested")]
    ApprovalRequested { approval: Approval },
    #[serde(rename = "approval.resolved")]
    ApprovalResolved { approval: Approval },
    #[serde(rename = "warning")]
    Warning {
        session_id: Option<String>,
        message: String,
    },
    #[serde(rename = "settings.changed")]
    SettingsChanged {
        settings: Box<crate::settings::Settings>,
    },
    /// A relay message that reaches, or was sent by, the person or Perch's
    /// agent (the relay's message JSON plus `unread`).
    #[serde(rename = "peer.message")]
    PeerMessage {
        message: Value,
        to_person: bool,
        to_agent: bool,
    },
    /// The peer connection or the delivery of peer messages changed.
    #[serde(rename = "peer.status")]
    PeerStatus { status: Value },
    /// Peer messages stopped reaching Codex after every retry.
    #[serde(rename = "peer.failed")]
    PeerDeliveryFailed { error: String, queued: usize },
    #[serde(rename = "memory.changed")]
    MemoryChanged {
        action: crate::memory::MemoryAction,
        ids: Vec<i64>,
    },
    /// `plan: null` when it was deleted.
    #[serde(rename = "plan.changed")]
    PlanChanged {
        plan_id: i64,
        plan: Option<crate::planner::Plan>,
    },
    /// `wakeup: null` when it was deleted.
    #[serde(rename = "wakeup.changed")]
    WakeupChanged {
        wakeup_id: i64,
        wakeup: Option<Box<crate::wakeups::Wakeup>>,
    },
    /// A run was claimed, skipped, missed, started or finished; `notify`
    /// is the wakeup's own setting.
    #[serde(rename = "wakeup.run")]
    WakeupRun {
        run: crate::wakeups::WakeupRun,
        notify: bool,
    },
}

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::CodexState { .. } => "codex.state",
            Self::SessionUpdated { .. } => "session.updated",
            Self::TurnStarted { .. } => "turn.started",
            Self::TurnCompleted { .. } => "turn.completed",
            Self::TurnStalled { .. } => "turn.stalled",
            Self::ItemStarted { .. } => "item.started",
            Self::ItemCompleted { .. } => "item.completed",
            Self::ItemDelta { .. } => "item.delta",
            Self::TurnDiff { .. } => "turn.diff",
            Self::SettingsChanged { .. } => "settings.changed",
            Self::TokensUpdated { .. } => "tokens.updated",
            Self::ApprovalRequested { .. } => "approval.requested",
            Self::ApprovalResolved { .. } => "approval.resolved",
            Self::Warning { .. } => "warning",
            Self::PeerMessage { .. } => "peer.message",
            Self::PeerStatus { .. } => "peer.status",
            Self::PeerDeliveryFailed { .. } => "peer.failed",
            Self::MemoryChanged { .. } => "memory.changed",
            Self::PlanChanged { .. } => "plan.changed",
            Self::WakeupChanged { .. } => "wakeup.changed",
            Self::WakeupRun { .. } => "wakeup.run",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeltaKind {
    AgentMessage,
    Reasoning,
    CommandOutput,
    FileChange,
}
