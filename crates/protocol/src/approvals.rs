//! `/api/approvals`: what the agent asks the person before it acts.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalKind {
    Command,
    FileChange,
    McpElicitation,
}

/// A person's answer to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    Accept,
    AcceptForSession,
    Decline,
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
    const ALL: [Self; 6] = [
        Self::Pending,
        Self::Accept,
        Self::AcceptForSession,
        Self::Decline,
        Self::Cancel,
        Self::Expired,
    ];

    /// The wire and database word.
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

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == word)
    }
}

impl From<Decision> for ApprovalStatus {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Accept => Self::Accept,
            Decision::AcceptForSession => Self::AcceptForSession,
            Decision::Decline => Self::Decline,
            Decision::Cancel => Self::Cancel,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: String,
    pub session_id: String,
    pub turn_id: Option<String>,
    pub item_id: Option<String>,
    pub kind: ApprovalKind,
    /// One line: the command, the files, the question.
    pub title: String,
    pub detail: Option<String>,
    pub status: ApprovalStatus,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub answered_at: Option<i64>,
    /// Who answered: "person", "timeout", "shutdown", "codex-restart".
    pub answered_by: Option<String>,
    /// What in a command is destructive or reaches past the session's
    /// folder, one phrase each ("force-pushes, rewriting the remote's
    /// history (git push --force)"); empty when nothing is. Words for the
    /// person, not a guard.
    #[serde(default)]
    pub dangers: Vec<String>,
}

/// `GET /api/approvals?status=`: pending ones (the default) or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalFilter {
    #[default]
    Pending,
    All,
}

/// The query of `GET /api/approvals`.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    #[serde(default)]
    #[ts(optional)]
    #[param(inline)]
    pub status: Option<ApprovalFilter>,
    /// Only this session's approvals, every status, oldest first (what a
    /// session's history shows after a reload).
    #[serde(default, rename = "sessionId")]
    #[ts(optional, rename = "sessionId")]
    #[param(rename = "sessionId")]
    pub session_id: Option<String>,
}

/// The longest reason a decline takes, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// `POST /api/approvals/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub decision: Decision,
    /// With `decline` only: why, for the model. Codex's answer has no room
    /// for it, so Perch sends it to the turn as the person's next words
    /// (a steer while the turn runs), at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
}
