//! Sessions and turns: what `/api/sessions*` takes and answers.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[ts(type = "number")]
    pub total_tokens: i64,
    #[ts(type = "number")]
    pub input_tokens: i64,
    #[ts(type = "number")]
    pub output_tokens: i64,
    #[ts(type = "number")]
    pub last_turn_tokens: i64,
    #[ts(type = "number | null")]
    pub context_window: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The Codex thread id.
    pub id: String,
    pub name: Option<String>,
    pub preview: String,
    pub pinned: bool,
    pub archived: bool,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub last_activity_at: i64,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub cwd: Option<String>,
    pub active_turn_id: Option<String>,
    pub token_usage: Option<TokenUsage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSession {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pinned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub archived: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub effort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SendMode {
    Start,
    Steer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// The session the message went to: the one addressed, or its
    /// replacement when it had to move to a new thread (`session.replaced`).
    pub session_id: String,
    pub turn_id: String,
    pub mode: SendMode,
}

/// Where a turn stands, as Perch records and reports it (a Codex status it
/// does not know is recorded as `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    InProgress,
    Completed,
    Interrupted,
    Failed,
}

impl TurnStatus {
    /// The wire and database word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "inProgress",
            Self::Completed => "completed",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Completed,
            Self::Interrupted,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == word)
    }
}

/// The query of `GET /api/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SessionQuery {
    /// Archived sessions instead of the others.
    #[serde(default)]
    #[ts(optional)]
    pub archived: Option<bool>,
    /// Archived sessions as well as the others ("Show archived"); wins
    /// over `archived`.
    #[serde(default)]
    #[ts(optional)]
    pub include_archived: Option<bool>,
    /// Only sessions whose working folder is this project's (or in it).
    #[serde(default)]
    #[ts(optional)]
    pub project: Option<String>,
    /// Only sessions whose name or preview contain this.
    #[serde(default)]
    #[ts(optional)]
    pub q: Option<String>,
}

/// `POST /api/sessions/{id}/messages`: what the person says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Why does the build fail?"}))]
pub struct UserText {
    pub text: String,
    /// Images kept with `POST /api/attachments`, by id (at most 10), sent
    /// with the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub attachments: Vec<String>,
}

/// `POST /api/sessions/{id}/resend`: take back a turn and every later one,
/// then send `text` in their place (an edited message, or the same one to
/// retry). The turns taken back leave the model's context; files they
/// changed stay as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"turnId": "019a…", "text": "Why does the build fail on arm64?"}))]
pub struct Resend {
    pub turn_id: String,
    pub text: String,
    /// Images to send with it, as for a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub attachments: Vec<String>,
}

/// `POST /api/sessions/{id}/fork`: the new session keeps the history up to
/// and including `lastTurnId` (all of it without one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_turn_id: Option<String>,
}

/// `POST /api/sessions/{id}/interrupt`: the turn asked to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Interrupting {
    pub turn_id: String,
}

/// `POST /api/sessions/{id}/compact`: Codex compacts the context in the
/// background (`{}`; `session.updated` follows).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Compacting {}

/// One turn of `GET /api/sessions/{id}/history`, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryTurn {
    pub id: String,
    pub status: TurnStatus,
    pub error: Option<String>,
    /// The turn's items, in order.
    pub items: Vec<crate::items::Item>,
}
