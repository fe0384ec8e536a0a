//! What Perch's agent has consumed, in `<data dir>/peer.db`: a watermark per
//! channel (the newest message id whose turn completed) and a few values
//! (the first cursor seen, the peer session, the relay instance id).
//! Watermarks only move forward, and only in one transaction per turn.

use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use stdx::MutexExt;

pub struct Ledger {
    db: Mutex<Connection>,
}

/// The watermark key of a message without a channel.
pub const DIRECT: &str = "(direct)";

impl Ledger {
    pub fn open(path: &Path) -> Result<Self> {
        stdx::create_private_file(path).map_err(|source| crate::error::PeerError::Io {
            context: format!("creating {}", path.display()),
            source,
        })?;
        let db = Connection::open(path)?;
        db.execute_batch("PRAGMA schema_version;")
            .map_err(|err| match err.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                    crate::error::PeerError::Invalid(format!(
                        "{} is damaged ({err}); stop Perch and run `perch doctor` to check it and replace it with a repaired copy (docs/cli.md)",
                        path.display()
                    ))
                }
                _ => err.into(),
            })?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS watermarks (channel TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock_unpoisoned()
    }

    pub fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn watermarks(&self) -> Result<HashMap<String, i64>> {
        let db = self.lock();
        let mut stmt = db.prepare("SELECT channel, last_id FROM watermarks")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves each channel's watermark up to the given id (never down).
    pub fn advance(&self, consumed: &[(String, i64)]) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        for (channel, id) in consumed {
            tx.execute(
                "INSERT INTO watermarks (channel, last_id) VALUES (?1, ?2)
                 ON CONFLICT(channel) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
                params![channel, id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_ledger_names_its_file_and_perch_doctor() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| crate::PeerError::Io {
            context: "tempdir".into(),
            source,
        })?;
        let path = dir.path().join("peer.db");
        std::fs::write(&path, vec![0x5a; 8192]).map_err(|source| crate::PeerError::Io {
            context: "writing garbage".into(),
            source,
        })?;
        let message = Ledger::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("peer.db is damaged") && message.contains("perch doctor"),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn watermarks_only_move_forward_and_survive_a_reopen() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| crate::PeerError::Io {
            context: "tempdir".into(),
            source,
        })?;
        let path = dir.path().join("peer.db");
        let ledger = Ledger::open(&path)?;
        ledger.advance(&[("ops".into(), 7), (DIRECT.into(), 3)])?;
        ledger.advance(&[("ops".into(), 5)])?;
        ledger.set("floor", "2")?;
        drop(ledger);
        let ledger = Ledger::open(&path)?;
        let marks = ledger.watermarks()?;
        assert_eq!((marks["ops"], marks[DIRECT]), (7, 3));
        assert_eq!(ledger.get("floor")?.as_deref(), Some("2"));
        assert_eq!(ledger.get("missing")?, None);
        Ok(())
    }
}
