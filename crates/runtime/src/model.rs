//! The runtime's data as its clients see it: the API contract's own types
//! (`perch-protocol`), re-exported, and the conversions from Codex's.

use perch_codex::{Health, HealthState};
pub use perch_protocol::approvals::{Approval, ApprovalKind, ApprovalStatus, Decision};
pub use perch_protocol::events::{DeltaKind, EventKind};
pub use perch_protocol::sessions::{
    HistoryTurn, NewSession, SendMode, Sent, Session, SessionPatch, TokenUsage, TurnStatus,
};
pub use perch_protocol::system::{ActiveTurn, CodexState, CodexStatus, ModelInfo, Status};

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

/// What the API reports for the supervisor's health.
pub fn codex_state(state: HealthState) -> CodexState {
    match state {
        HealthState::Starting => CodexState::Starting,
        HealthState::Ready => CodexState::Ready,
        HealthState::Degraded => CodexState::Degraded,
        HealthState::Restarting => CodexState::Restarting,
        HealthState::Failed => CodexState::Failed,
        HealthState::Stopped => CodexState::Stopped,
    }
}

pub fn codex_status(health: &Health, bin: String) -> CodexStatus {
    CodexStatus {
        state: codex_state(health.state),
        detail: health.detail.clone(),
        version: health.version.clone(),
        pinned_version: perch_codex::PINNED_CODEX_VERSION.to_string(),
        restarts: health.restarts,
        pid: health.pid,
        bin,
    }
}

/// The answer Codex gets for a person's decision.
pub fn codex_decision(decision: Decision) -> perch_codex::protocol::Decision {
    use perch_codex::protocol::Decision as Codex;
    match decision {
        Decision::Accept => Codex::Accept,
        Decision::AcceptForSession => Codex::AcceptForSession,
        Decision::Decline => Codex::Decline,
        Decision::Cancel => Codex::Cancel,
    }
}
