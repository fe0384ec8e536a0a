//! What a session shows: its thread items, typed. The kinds Perch draws
//! have their fields; every other kind Codex has (or will have) arrives as
//! [`Item::Other`], its fields kept as Codex sent them, so nothing is lost
//! and nothing is guessed. The runtime makes these from Codex's items
//! (`perch_runtime::model::item_of`); the wire names of the typed kinds are
//! Codex's own.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// One thread item (`item.started`, `item.completed`, a history turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Item {
    /// What the person (or a wakeup, or a peer) sent, without Perch's context.
    UserMessage {
        id: String,
        content: Vec<UserInput>,
    },
    #[serde(rename_all = "camelCase")]
    AgentMessage {
        id: String,
        text: String,
        /// `commentary` (mid-turn narration), `partial_answer` or
        /// `final_answer`, when the model says.
        #[serde(default)]
        phase: Option<String>,
    },
    /// The model's reasoning summary (and raw content, when the provider
    /// sends it).
    Reasoning {
        id: String,
        #[serde(default)]
        summary: Vec<String>,
        #[serde(default)]
        content: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    CommandExecution {
        id: String,
        command: String,
        #[serde(default)]
        cwd: String,
        status: ItemStatus,
        /// stdout and stderr together, as far as they went.
        #[serde(default)]
        aggregated_output: Option<String>,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        #[ts(type = "number | null")]
        duration_ms: Option<i64>,
    },
    FileChange {
        id: String,
        changes: Vec<FileChange>,
        status: ItemStatus,
    },
    #[serde(rename_all = "camelCase")]
    McpToolCall {
        id: String,
        server: String,
        tool: String,
        status: ItemStatus,
        /// The tool's arguments: whatever JSON the tool takes.
        #[serde(default)]
        #[ts(type = "unknown")]
        #[schema(value_type = Object)]
        arguments: serde_json::Value,
        /// The tool's result (`content`, `structuredContent`): whatever JSON
        /// the tool answers.
        #[serde(default)]
        #[ts(type = "unknown")]
        #[schema(value_type = Option<Object>)]
        result: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<ToolError>,
        #[serde(default)]
        #[ts(type = "number | null")]
        duration_ms: Option<i64>,
    },
    WebSearch {
        id: String,
        query: String,
    },
    /// Codex compacted the conversation's context here.
    ContextCompaction {
        id: String,
    },
    /// A kind Perch does not draw (`plan`, `imageView`, a review, a
    /// sub-agent, a newer Codex's kind): `codexType` is Codex's
    /// name for it and `data` its other fields.
    #[serde(rename_all = "camelCase")]
    Other {
        id: String,
        codex_type: String,
        #[ts(type = "Record<string, unknown>")]
        #[schema(value_type = Object)]
        data: serde_json::Map<String, serde_json::Value>,
    },
}

impl Item {
    pub fn id(&self) -> &str {
        match self {
            Self::UserMessage { id, .. }
            | Self::AgentMessage { id, .. }
            | Self::Reasoning { id, .. }
            | Self::CommandExecution { id, .. }
            | Self::FileChange { id, .. }
            | Self::McpToolCall { id, .. }
            | Self::WebSearch { id, .. }
            | Self::ContextCompaction { id }
            | Self::Other { id, .. } => id,
        }
    }
}

/// One part of a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text {
        text: String,
    },
    /// An image by URL (or by an uploaded file's id, then no URL).
    Image {
        #[serde(default)]
        url: Option<String>,
    },
    LocalImage {
        path: String,
    },
    /// A skill, a mention or a newer kind of input.
    #[serde(other)]
    Other,
}

/// Where a command, a file change or a tool call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Failed,
    /// The person declined it.
    Declined,
    /// A status a newer Codex has.
    #[serde(other)]
    Unknown,
}

/// One file of a file change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct FileChange {
    pub path: String,
    pub kind: ChangeKind,
    /// A unified diff (for an added file, its content).
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ChangeKind {
    Add,
    Delete,
    Update {
        /// Where the file moves to, if it does.
        #[serde(default, rename = "movePath", alias = "move_path")]
        move_path: Option<String>,
    },
    /// A kind a newer Codex has.
    #[serde(other)]
    Other,
}

/// Why an MCP tool call failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ToolError {
    pub message: String,
}
