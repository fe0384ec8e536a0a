//! Sessions and turns: what `/api/sessions*` takes and answers.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSession {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub model: Option<String>,
    #[ts(optional)]
    pub effort: Option<String>,
    #[ts(optional)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPatch {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub pinned: Option<bool>,
    #[ts(optional)]
    pub archived: Option<bool>,
    #[ts(optional)]
    pub model: Option<String>,
    #[ts(optional)]
    pub effort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum SendMode {
    Start,
    Steer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub turn_id: String,
    pub mode: SendMode,
}

/// Where a turn stands, as Perch records and reports it (a Codex status it
/// does not know is recorded as `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
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
