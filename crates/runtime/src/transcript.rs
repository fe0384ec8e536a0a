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
use crate::store::Store;
use perch_codex::protocol::ThreadItem;
use rusqlite::params;
use serde::Serialize;

/// Schema version 6.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE transcript (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    UNIQUE (session_id, item_id)
);
CREATE INDEX transcript_by_session ON transcript (session_id, id);
ALTER TABLE sessions ADD COLUMN transcript_complete INTEGER NOT NULL DEFAULT 0;
"#;

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
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }

    fn parse(word: &str) -> Result<Self> {
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
        ThreadItem::UserMessage { content } => (Role::User, crate::context::user_text(&content)?),
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

impl Store {
    /// Keeps one line (again: a no-op).
    pub fn record_line(&self, session_id: &str, line: &TranscriptLine) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO transcript (session_id, turn_id, item_id, role, text, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![session_id, line.turn_id, line.item_id, line.role.as_str(), line.text, line.at],
        )?;
        Ok(())
    }

    /// A session's lines, oldest first.
    pub fn transcript(&self, session_id: &str) -> Result<Vec<TranscriptLine>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT turn_id, item_id, role, text, at FROM transcript WHERE session_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([session_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<(String, String, String, String, i64)>>>()?;
        rows.into_iter()
            .map(|(turn_id, item_id, role, text, at)| {
                Ok(TranscriptLine {
                    turn_id,
                    item_id,
                    role: Role::parse(&role)?,
                    text,
                    at,
                })
            })
            .collect()
    }

    pub fn transcript_complete(&self, session_id: &str) -> Result<bool> {
        Ok(self.conn().query_row(
            "SELECT transcript_complete FROM sessions WHERE id = ?1",
            [session_id],
            |r| r.get(0),
        )?)
    }

    pub fn mark_transcript_complete(&self, session_id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE sessions SET transcript_complete = 1 WHERE id = ?1",
            [session_id],
        )?;
        Ok(())
    }
}
