//! The data dir's one SQLite database, shared by the core's [`Store`] and
//! the features' own stores (`perch-agent`). Each owner brings its
//! [`Schema`]; this file only applies them.
//!
//! Invariants: one connection per process, behind one lock (callers hold it
//! for one statement or one transaction); each schema's version is a row of
//! `schema_versions`, its pending migrations applied in order in one
//! transaction that records them (all or none).
//!
//! [`Store`]: super::Store

use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use stdx::MutexExt;

/// One owner's tables: its name and its migrations, in order. A released
/// migration is never edited; a change is a new one at the end.
pub struct Schema {
    pub name: &'static str,
    pub migrations: &'static [&'static str],
}

/// Until issue 13, one list of migrations numbered by `PRAGMA
/// user_version`; step N of it was this schema's version.
const LEGACY_STEPS: [(&str, i64); 6] = [
    ("core", 1),
    ("memory", 1),
    ("planner", 1),
    ("wakeups", 1),
    ("memory", 2),
    ("core", 2),
];

/// A handle to the database; clones share the connection.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

impl Database {
    pub fn open(path: &Path) -> Result<Self> {
        // The person's alone (its -wal and -shm files get its mode).
        stdx::create_private_file(path)
            .map_err(|e| crate::Error::io(format!("creating {}", path.display()), e))?;
        let opened = (|| {
            let mut conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            adopt_legacy_versions(&mut conn)?;
            Ok::<_, rusqlite::Error>(conn)
        })();
        let conn = opened.map_err(|err| {
            super::doctor::damaged(path, &err).unwrap_or(crate::Error::Store(err))
        })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock_unpoisoned()
    }

    /// Applies what `schema` has that this database has not.
    pub fn migrate(&self, schema: &Schema) -> Result<()> {
        let mut conn = self.conn();
        let version: i64 = conn
            .query_row(
                "SELECT version FROM schema_versions WHERE name = ?1",
                [schema.name],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let pending = schema.migrations.iter().skip(version.max(0) as usize);
        if pending.len() == 0 {
            return Ok(());
        }
        // One transaction: a new database's tables cost one commit.
        let tx = conn.transaction()?;
        for sql in pending {
            tx.execute_batch(sql)?;
        }
        tx.execute(
            "INSERT INTO schema_versions (name, version) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            params![schema.name, schema.migrations.len() as i64],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Creates `schema_versions`; in a database made before it, fills it from
/// `user_version` so that nothing is applied twice.
fn adopt_legacy_versions(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let exists: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        tx.execute_batch(
            "CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        )?;
        let legacy: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (name, version) in LEGACY_STEPS.iter().take(legacy.max(0) as usize) {
            tx.execute(
                "INSERT INTO schema_versions (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                params![name, version],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_s_pending_migrations_apply_all_or_none() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("a temp dir", e))?;
        let db = Database::open(&dir.path().join("perch.db"))?;
        let broken = Schema {
            name: "test",
            migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE a (x INTEGER)"],
        };
        assert!(db.migrate(&broken).is_err(), "the second migration fails");
        let tables: i64 = db.conn().query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'a'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(tables, 0, "the first one was rolled back with it");
        let fixed = Schema {
            name: "test",
            migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"],
        };
        db.migrate(&fixed)?;
        db.migrate(&fixed)?;
        let version: i64 = db.conn().query_row(
            "SELECT version FROM schema_versions WHERE name = 'test'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(version, 2, "both recorded, and nothing applied twice");
        Ok(())
    }
}
