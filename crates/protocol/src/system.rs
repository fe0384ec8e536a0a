//! `/api/status`, `/api/models`, `/api/diagnostics`: how Perch and its
//! Codex child are doing.

use crate::settings::ApprovalPolicy;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Where the supervised `codex app-server` child stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CodexState {
    Starting,
    Ready,
    /// Running, with something a person should know (an untested version).
    Degraded,
    Restarting,
    Failed,
    Stopped,
    /// Stopped on purpose while idle (`[codex] sleep_after`): anything that
    /// needs Codex starts it again.
    Asleep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodexStatus {
    pub state: CodexState,
    /// Why it is degraded, failed or restarting.
    pub detail: Option<String>,
    /// The version the child reported.
    pub version: Option<String>,
    /// The version Perch was tested with.
    pub pinned_version: String,
    pub restarts: u32,
    pub pid: Option<u32>,
    /// The binary Perch starts.
    pub bin: String,
}

/// A turn that is running now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTurn {
    pub session_id: String,
    pub turn_id: String,
    /// No event for longer than the stall timeout.
    pub stalled: bool,
    #[ts(type = "number")]
    pub started_at: i64,
}

/// `GET /api/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Perch's version.
    pub version: String,
    pub codex: CodexStatus,
    pub active_turns: Vec<ActiveTurn>,
    #[ts(type = "number")]
    pub pending_approvals: usize,
    pub approval_policy: ApprovalPolicy,
    pub model: Option<String>,
    pub data_dir: String,
    /// Things a person should fix (secrets outside the keyring, ...).
    pub warnings: Vec<String>,
    /// Whom Codex is signed in as, as Perch last read it (`null` until
    /// Codex first answered); no Codex request is made for it.
    pub account: Option<crate::account::AccountState>,
}

/// A model Codex offers (`GET /api/models`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub id: String,
    pub display_name: String,
    /// The reasoning efforts it takes.
    pub efforts: Vec<String>,
    pub default_effort: Option<String>,
    pub is_default: bool,
}

/// `GET /api/diagnostics`: a plain-text report with no secrets in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Diagnostics {
    pub text: String,
}
