//! The transcript's rows (`crate::transcript` says what a line is).

use super::Store;
use crate::error::Result;
use crate::transcript::{Role, TranscriptLine};
use rusqlite::params;

/// The core's migration 2 (schema version 6 before issue 13).
pub(super) const MIGRATION: &str = r#"
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
