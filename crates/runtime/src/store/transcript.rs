//! The transcript's rows (`crate::transcript` says what a line is).

use super::Store;
use crate::error::Result;
use crate::transcript::{Role, TranscriptLine};
use rusqlite::params;
use stdx::search::Terms;

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

/// The core's migration 5: the person's and the agent's lines in a
/// full-text index (`GET /api/search`); tool lines stay out.
pub(super) const SEARCH_MIGRATION: &str = r#"
CREATE VIRTUAL TABLE transcript_fts USING fts5(
    text, content='transcript', content_rowid='id', prefix='2 3',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER transcript_ai AFTER INSERT ON transcript WHEN new.role != 'tool' BEGIN
    INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER transcript_ad AFTER DELETE ON transcript WHEN old.role != 'tool' BEGIN
    INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER transcript_au AFTER UPDATE OF text ON transcript WHEN old.role != 'tool' BEGIN
    INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO transcript_fts(rowid, text) SELECT id, text FROM transcript WHERE role != 'tool';
"#;

/// A transcript line that has every word sought, with its session.
#[derive(Debug, Clone, PartialEq)]
pub struct LineMatch {
    pub session_id: String,
    pub session_name: Option<String>,
    pub archived: bool,
    pub line: TranscriptLine,
}

impl Store {
    /// The newest `limit` lines of the person or the agent, archived
    /// sessions' too, that have every word of `terms`.
    pub fn search_transcript(&self, terms: &Terms, limit: usize) -> Result<Vec<LineMatch>> {
        let conn = self.conn();
        // The newest matches come straight off the index (rowid order), so
        // a common word costs no more than a rare one.
        let mut stmt = conn.prepare_cached(
            "SELECT t.session_id, s.name, coalesce(s.archived, 0), t.turn_id, t.item_id, t.role, t.text, t.at
             FROM (SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) m
             JOIN transcript t ON t.id = m.rowid
             LEFT JOIN sessions s ON s.id = t.session_id
             ORDER BY t.id DESC",
        )?;
        let rows = stmt
            .query_map(params![terms.fts5_query(), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, bool>(2)?,
                    (
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, i64>(7)?,
                    ),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(session_id, session_name, archived, (turn_id, item_id, role, text, at))| {
                    Ok(LineMatch {
                        session_id,
                        session_name,
                        archived,
                        line: TranscriptLine {
                            turn_id,
                            item_id,
                            role: Role::parse(&role)?,
                            text,
                            at,
                        },
                    })
                },
            )
            .collect()
    }

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

    /// Forgets turns taken back (`Runtime::resend`): their outcomes and
    /// their lines (which search would otherwise still find).
    pub fn forget_turns(&self, session_id: &str, turn_ids: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for turn in turn_ids {
            tx.execute(
                "DELETE FROM transcript WHERE session_id = ?1 AND turn_id = ?2",
                params![session_id, turn],
            )?;
            tx.execute(
                "DELETE FROM turns WHERE session_id = ?1 AND id = ?2",
                params![session_id, turn],
            )?;
        }
        tx.commit()?;
        Ok(())
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
