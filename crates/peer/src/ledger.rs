//! What Perch's agent has consumed, in `<data dir>/peer.db`: a watermark per
//! channel (the newest message id whose turn completed) and a few values
//! (the first cursor seen, the peer session, the relay instance id).
//! Watermarks only move forward, and only in one transaction per turn.
//! It also keeps the Inbox's messages in a full-text index (the relay's
//! copies, as the person reads them), so that search runs on the person's
//! side.

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
             CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS channel_keys (key_id TEXT PRIMARY KEY, grp TEXT NOT NULL,
                 secret TEXT NOT NULL, members TEXT NOT NULL, created_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS pins (id TEXT NOT NULL, device TEXT NOT NULL, sign TEXT NOT NULL,
                 fingerprint TEXT NOT NULL, pinned_at INTEGER NOT NULL, PRIMARY KEY (id, device));
             CREATE VIRTUAL TABLE IF NOT EXISTS inbox_fts USING fts5(
                 subject, body, sender UNINDEXED, recipient UNINDEXED, thread_id UNINDEXED, created_at UNINDEXED,
                 prefix='2 3', tokenize='porter unicode61 remove_diacritics 2'
             );",
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

/// A device key the person pinned for a peer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub id: String,
    pub device: String,
    /// The pinned signing key (base64url).
    pub sign: String,
    pub fingerprint: String,
    pub pinned_at: i64,
}

impl Ledger {
    /// The pins of `id`, or of every id.
    pub fn pins(&self, id: Option<&str>) -> Result<Vec<Pin>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(
            "SELECT id, device, sign, fingerprint, pinned_at FROM pins
             WHERE ?1 IS NULL OR id = ?1 ORDER BY id, device",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Pin {
                id: r.get(0)?,
                device: r.get(1)?,
                sign: r.get(2)?,
                fingerprint: r.get(3)?,
                pinned_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the pins of `id` with `pins` (none: unpinned).
    pub fn set_pins(&self, id: &str, pins: &[Pin]) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        tx.execute("DELETE FROM pins WHERE id = ?1", [id])?;
        for pin in pins {
            tx.execute(
                "INSERT INTO pins (id, device, sign, fingerprint, pinned_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, pin.device, pin.sign, pin.fingerprint, pin.pinned_at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One generation of a group's channel key, as this device holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelKeyRow {
    pub key_id: String,
    /// The group's wire form (`tag:ops`).
    pub group: String,
    /// The key (base64url); the file is the person's alone (0600).
    pub secret: String,
    /// Every `(id, device)` it was shared with.
    pub members: Vec<(String, String)>,
    pub created_at: i64,
}

impl Ledger {
    /// Keeps a channel key, or its wider member list.
    pub fn keep_channel_key(&self, row: &ChannelKeyRow) -> Result<()> {
        let members = serde_json::to_string(&row.members).unwrap_or_else(|_| "[]".into());
        self.lock().execute(
            "INSERT INTO channel_keys (key_id, grp, secret, members, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(key_id) DO UPDATE SET members = excluded.members",
            params![row.key_id, row.group, row.secret, members, row.created_at],
        )?;
        Ok(())
    }

    /// The key `key_id`, or `group`'s newest.
    pub fn channel_key(&self, key_id: Option<&str>, group: &str) -> Result<Option<ChannelKeyRow>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT key_id, grp, secret, members, created_at FROM channel_keys
                 WHERE grp = ?2 AND (?1 IS NULL OR key_id = ?1) ORDER BY created_at DESC, rowid DESC LIMIT 1",
                params![key_id, group],
                |r| {
                    let members: String = r.get(3)?;
                    Ok(ChannelKeyRow {
                        key_id: r.get(0)?,
                        group: r.get(1)?,
                        secret: r.get(2)?,
                        members: serde_json::from_str(&members).unwrap_or_default(),
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }
}

/// An Inbox message that has every word sought.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxMatch {
    pub id: i64,
    pub thread_id: i64,
    pub from: String,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    pub created_at: i64,
}

impl Ledger {
    /// Keeps `messages` in the Inbox's index (again: replaced).
    pub fn index_messages<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a perch_relay_protocol::Message>,
    ) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        for m in messages {
            tx.execute("DELETE FROM inbox_fts WHERE rowid = ?1", [m.id])?;
            tx.execute(
                "INSERT INTO inbox_fts (rowid, subject, body, sender, recipient, thread_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![m.id, m.subject, m.body, m.from, m.to, m.thread_id, m.created_at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest message id in the index (0 when empty).
    pub fn newest_indexed(&self) -> Result<i64> {
        Ok(self
            .lock()
            .query_row("SELECT coalesce(max(rowid), 0) FROM inbox_fts", [], |r| {
                r.get(0)
            })?)
    }

    /// The newest `limit` indexed messages with every word of `terms`.
    pub fn search_inbox(
        &self,
        terms: &stdx::search::Terms,
        limit: usize,
    ) -> Result<Vec<InboxMatch>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(
            "SELECT rowid, thread_id, sender, recipient, subject, body, created_at FROM inbox_fts
             WHERE inbox_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![terms.fts5_query(), limit as i64], |r| {
            Ok(InboxMatch {
                id: r.get(0)?,
                thread_id: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                subject: r.get(4)?,
                body: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
