//! The runtime's data as its clients see it: the API contract's own types
//! (`perch-protocol`), re-exported, and the conversions from Codex's.

use perch_codex::{Health, HealthState};
pub use perch_protocol::account::{Account, AccountState, LoginStarted};
pub use perch_protocol::approvals::{Approval, ApprovalKind, ApprovalStatus, Decision};
pub use perch_protocol::events::{DeltaKind, EventKind};
pub use perch_protocol::items::Item;
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
        HealthState::Asleep => CodexState::Asleep,
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

/// Whom Codex is signed in as, for clients.
pub fn account_state_of(
    read: perch_codex::protocol::AccountReadResult,
    shared_with_codex_cli: bool,
) -> AccountState {
    use perch_codex::protocol::CodexAccount as Codex;
    AccountState {
        account: read.account.map(|account| match account {
            Codex::ApiKey => Account::ApiKey,
            Codex::Chatgpt { email, plan_type } => Account::Chatgpt { email, plan_type },
            Codex::AmazonBedrock => Account::AmazonBedrock,
            Codex::Gcp => Account::Gcp,
            Codex::Other => Account::Other,
        }),
        requires_openai_auth: read.requires_openai_auth,
        shared_with_codex_cli,
    }
}

/// What a started login needs next, for clients.
pub fn login_started_of(started: perch_codex::protocol::LoginStartResult) -> LoginStarted {
    use perch_codex::protocol::LoginStartResult as Codex;
    match started {
        Codex::ApiKey => LoginStarted::ApiKey,
        Codex::ChatgptDeviceCode {
            login_id,
            verification_url,
            user_code,
        } => LoginStarted::ChatgptDeviceCode {
            login_id,
            verification_url,
            user_code,
        },
        Codex::Chatgpt { login_id, auth_url } => LoginStarted::Chatgpt { login_id, auth_url },
        Codex::Other => LoginStarted::Other,
    }
}

/// What clients see of a Codex thread item: a kind Perch draws, typed, or
/// `Other` with Codex's name for it and its fields as they came.
pub fn item_of(codex_item: serde_json::Value) -> Item {
    use serde::Deserialize;
    let err = match Item::deserialize(&codex_item) {
        Ok(item) => return item,
        Err(err) => err,
    };
    let raw = perch_codex::protocol::RawItem::split(codex_item);
    // A kind Perch does not draw is expected; a drawn kind that no longer
    // reads means Codex changed its shape.
    if !err.to_string().starts_with("unknown variant") {
        tracing::warn!(
            "a Codex {} item has a shape Perch does not know ({err}); shown as it came",
            raw.kind
        );
    }
    Item::Other {
        id: raw.id,
        codex_type: raw.kind,
        data: raw.fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perch_protocol::items::{ChangeKind, ItemStatus, UserInput};
    use serde_json::json;

    #[test]
    fn codex_items_become_typed_items_and_nothing_is_lost() {
        // A drawn kind, with fields Perch does not show.
        let command = item_of(json!({
            "type": "commandExecution", "id": "c1", "command": "ls", "cwd": "/tmp",
            "status": "completed", "aggregatedOutput": "a\n", "exitCode": 0,
            "durationMs": 12, "commandActions": [], "source": "agent"
        }));
        assert_eq!(
            command,
            Item::CommandExecution {
                id: "c1".into(),
                command: "ls".into(),
                cwd: "/tmp".into(),
                status: ItemStatus::Completed,
                aggregated_output: Some("a\n".into()),
                exit_code: Some(0),
                duration_ms: Some(12),
            }
        );
        // Parts and kinds a newer Codex has read as `other`, not as errors.
        let message = item_of(json!({"type": "userMessage", "id": "u1", "content": [
            {"type": "text", "text": "hi", "text_elements": []},
            {"type": "mention", "name": "x", "path": "y"}
        ]}));
        assert_eq!(
            message,
            Item::UserMessage {
                id: "u1".into(),
                content: vec![UserInput::Text { text: "hi".into() }, UserInput::Other],
            }
        );
        let change = item_of(
            json!({"type": "fileChange", "id": "f1", "status": "inProgress",
            "changes": [{"path": "a", "diff": "", "kind": {"type": "update", "move_path": "b"}}]}),
        );
        let Item::FileChange { changes, .. } = change else {
            panic!("not a file change: {change:?}");
        };
        assert_eq!(
            changes[0].kind,
            ChangeKind::Update {
                move_path: Some("b".into())
            }
        );
        // A kind Perch does not draw keeps its name and fields.
        let plan = item_of(json!({"type": "plan", "id": "p1", "text": "step 1"}));
        let Item::Other {
            id,
            codex_type,
            data,
        } = plan
        else {
            panic!("a plan item is not drawn: {plan:?}");
        };
        assert_eq!((id.as_str(), codex_type.as_str()), ("p1", "plan"));
        assert_eq!(data.get("text"), Some(&json!("step 1")));
        // So does a drawn kind whose shape changed.
        let changed = item_of(json!({"type": "commandExecution", "id": "c2", "command": 7}));
        assert!(
            matches!(&changed, Item::Other { codex_type, .. } if codex_type == "commandExecution"),
            "{changed:?}"
        );
    }
}
