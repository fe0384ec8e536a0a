//! The text of each session as Perch keeps it: the person's messages, the
//! agent's answers and one line per tool the agent used, in Perch's own
//! database. Codex stays the source of truth for what the model sees; this
//! is what Perch can show, search and keep when Codex cannot answer.
//!
//! Invariants:
//! - A line is written when its item completes (`codex_events.rs`), keyed
//!   by `(session, item)`, so a line written twice (live, then by a
//!   backfill) is one line.
//! - A session Perch did not see stream (made before this table, or by
//!   another client of the same Codex home) is backfilled from Codex the
//!   first time its history is read, then marked complete.
//! - The person's text is stored without Perch's context block.

use crate::error::Result;
use perch_codex::protocol::ThreadItem;
use serde::Serialize;

/// Who a line is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    User,
    Assistant,
    /// A command, a file change or a tool call, summarized.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }

    pub(crate) fn parse(word: &str) -> Result<Self> {
        match word {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "tool" => Ok(Self::Tool),
            other => Err(crate::Error::UnknownValue(format!(
                "the transcript role {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLine {
    pub turn_id: String,
    pub item_id: String,
    pub role: Role,
    pub text: String,
    pub at: i64,
}

/// The line a completed item adds to the transcript, if any.
pub(crate) fn line_of(item: ThreadItem) -> Option<(Role, String)> {
    let line = match item {
        ThreadItem::UserMessage { content } => (Role::User, crate::seams::user_text(&content)?),
        ThreadItem::AgentMessage { text } => (Role::Assistant, text),
        ThreadItem::FileChange { changes, .. } => {
            let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
            (Role::Tool, format!("changed {}", paths.join(", ")))
        }
        ThreadItem::CommandExecution { command, exit_code } => {
            let exit = exit_code
                .map(|code| format!(" (exit {code})"))
                .unwrap_or_default();
            (Role::Tool, format!("ran `{command}`{exit}"))
        }
        ThreadItem::McpToolCall { server, tool } => (Role::Tool, format!("called {server}.{tool}")),
        ThreadItem::Other => return None,
    };
    (!line.1.trim().is_empty()).then_some(line)
}
