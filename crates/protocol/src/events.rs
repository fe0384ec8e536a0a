//! `GET /api/events`: every event on the bus, as the SSE stream sends it
//! (the `type` tag is the SSE `event:` name too).

use crate::account::AccountState;
use crate::approvals::Approval;
use crate::changes::AgentChange;
use crate::items::Item;
use crate::memory::MemoryAction;
use crate::peer::{PeerMessage, PeerStatus};
use crate::plans::Plan;
use crate::sessions::{Session, TokenUsage, TurnStatus};
use crate::settings::Settings;
use crate::system::CodexState;
use crate::wakeups::{Wakeup, WakeupRun};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// One event: its place in the stream, when, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Event {
    /// 1, 2, 3… without gaps; the SSE `id:` (`Last-Event-ID` replays after it).
    #[ts(type = "number")]
    pub seq: u64,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub at: i64,
    #[serde(flatten)]
    #[ts(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// The wire name (`turn.completed`), used as the SSE `event:` field.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

/// Every event on the bus. The `type` tag is the wire name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum EventKind {
    #[serde(rename = "codex.state")]
    CodexState {
        state: CodexState,
        detail: Option<String>,
    },
    #[serde(rename = "session.updated")]
    SessionUpdated { session: Session },
    /// A session that had no message yet moved to a new Codex thread (its
    /// own could not be resumed, e.g. after the model provider changed):
    /// `session` is it under its new id; `previous_id` is gone.
    #[serde(rename = "session.replaced")]
    SessionReplaced {
        previous_id: String,
        session: Session,
    },
    /// Turns were taken back (an edited or retried message,
    /// `POST /api/sessions/{id}/resend`): they left the session's history.
    #[serde(rename = "session.rewound")]
    SessionRewound {
        session_id: String,
        turn_ids: Vec<String>,
    },
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
        #[ts(type = "number")]
        silent_for_ms: u64,
    },
    #[serde(rename = "item.started")]
    ItemStarted {
        session_id: String,
        turn_id: String,
        item: Item,
    },
    #[serde(rename = "item.completed")]
    ItemCompleted {
        session_id: String,
        turn_id: String,
        item: Item,
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
    SettingsChanged { settings: Box<Settings> },
    /// A relay message that reaches, or was sent by, the person or Perch's
    /// agent.
    #[serde(rename = "peer.message")]
    PeerMessage {
        message: PeerMessage,
        to_person: bool,
        to_agent: bool,
    },
    /// The peer connection or the delivery of peer messages changed.
    #[serde(rename = "peer.status")]
    PeerStatus { status: PeerStatus },
    /// Peer messages stopped reaching Codex after every retry.
    #[serde(rename = "peer.failed")]
    PeerDeliveryFailed {
        error: String,
        #[ts(type = "number")]
        queued: usize,
    },
    /// Another process registered one of Perch's ids on the relay (a newer
    /// instance), so messages to it stopped reaching Perch; Perch has
    /// registered it again. `message` says what happened and what to do.
    #[serde(rename = "peer.fenced")]
    PeerFenced { id: String, message: String },
    /// Codex had trouble with the model during a turn: it retries
    /// (`willRetry`), or gives up (the turn then fails with it).
    #[serde(rename = "turn.problem")]
    TurnProblem {
        session_id: String,
        turn_id: Option<String>,
        problem: TurnProblem,
    },
    /// Whom Codex is signed in as changed (or was first read).
    #[serde(rename = "account.updated")]
    AccountUpdated { account: AccountState },
    /// Codex reported the plan's rate-limit usage (after a turn, or when
    /// asked).
    #[serde(rename = "account.usage")]
    UsageUpdated { usage: crate::account::Usage },
    /// A sign-in Perch started ended: `error` says why it failed.
    #[serde(rename = "account.login")]
    LoginCompleted {
        /// The sign-in it ends (`LoginStarted`'s `loginId`): with two
        /// windows signing in, each follows its own.
        login_id: Option<String>,
        success: bool,
        error: Option<String>,
    },
    /// A peer-driven turn asked for a change that waits for the person.
    #[serde(rename = "change.pending")]
    ChangePending { change: Box<AgentChange> },
    /// A change ran (at once or accepted), failed, or was discarded.
    #[serde(rename = "change.decided")]
    ChangeDecided { change: Box<AgentChange> },
    #[serde(rename = "memory.changed")]
    MemoryChanged {
        action: MemoryAction,
        #[ts(type = "Array<number>")]
        ids: Vec<i64>,
    },
    /// `plan: null` when it was deleted.
    #[serde(rename = "plan.changed")]
    PlanChanged {
        #[ts(type = "number")]
        plan_id: i64,
        plan: Option<Plan>,
    },
    /// `wakeup: null` when it was deleted.
    #[serde(rename = "wakeup.changed")]
    WakeupChanged {
        #[ts(type = "number")]
        wakeup_id: i64,
        wakeup: Option<Box<Wakeup>>,
    },
    /// A run was claimed, skipped, missed, started or finished; `notify`
    /// is the wakeup's own setting.
    #[serde(rename = "wakeup.run")]
    WakeupRun { run: WakeupRun, notify: bool },
}

/// What went wrong between Codex and the model, for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnProblem {
    pub kind: ProblemKind,
    /// Codex's words.
    pub message: String,
    /// Codex tries again by itself.
    pub will_retry: bool,
    /// The endpoint's HTTP status, when it answered.
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProblemKind {
    /// The model endpoint cannot be reached (refused, cut, no network).
    Unreachable,
    /// Too many requests, or a usage limit.
    RateLimited,
    /// The endpoint answered with an HTTP error.
    HttpError,
    /// Codex changed how it talks to the model (a fallback).
    Fallback,
    Other,
}

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::CodexState { .. } => "codex.state",
            Self::SessionUpdated { .. } => "session.updated",
            Self::SessionReplaced { .. } => "session.replaced",
            Self::SessionRewound { .. } => "session.rewound",
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
            Self::PeerFenced { .. } => "peer.fenced",
            Self::TurnProblem { .. } => "turn.problem",
            Self::AccountUpdated { .. } => "account.updated",
            Self::UsageUpdated { .. } => "account.usage",
            Self::LoginCompleted { .. } => "account.login",
            Self::ChangePending { .. } => "change.pending",
            Self::ChangeDecided { .. } => "change.decided",
            Self::MemoryChanged { .. } => "memory.changed",
            Self::PlanChanged { .. } => "plan.changed",
            Self::WakeupChanged { .. } => "wakeup.changed",
            Self::WakeupRun { .. } => "wakeup.run",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeltaKind {
    AgentMessage,
    Reasoning,
    CommandOutput,
    FileChange,
}
