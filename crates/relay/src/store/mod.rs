//! The relay's SQLite database: agents, messages with read markers and
//! claims, pairs, tasks with their events, and callback attempts.
//!
//! Invariants: WAL mode, migrations by `PRAGMA user_version`, one connection
//! behind a mutex held for one statement or one transaction, so every
//! multi-step change (claim, dedupe, pair invite) is atomic.

mod agents;
mod credentials;
mod messages;
mod mirror;
mod pairs;
mod tasks;

pub use agents::{registered_card, AgentPatch};
pub use credentials::{
    needs_key, CredentialChange, Credentials, DeviceKey, Grant, PendingLink, LINK_TTL_MS,
};
pub use messages::{ClaimOutcome, Reader};
pub use mirror::Change;
pub use tasks::{Ingested, NewTask, TaskClaim};

use crate::error::Result;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use stdx::MutexExt;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT,
    label TEXT,
    machine TEXT,
    rig TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    capabilities TEXT NOT NULL DEFAULT '[]',
    channels TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    ready INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}',
    instance_id TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    registered_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    from_agent TEXT NOT NULL,
    to_target TEXT NOT NULL,
    channel TEXT,
    subject TEXT,
    body TEXT NOT NULL,
    reply_to INTEGER,
    -- NULL for a message that starts its thread (the thread is its own id).
    thread_id INTEGER,
    claimable INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_at INTEGER,
    claim_expires_at INTEGER,
    kind TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    urgent INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_target ON messages(to_target, id);
CREATE INDEX messages_by_thread ON messages(thread_id, id);
CREATE INDEX messages_by_created ON messages(created_at);
CREATE TABLE read_markers (
    message_id INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, agent_id)
) WITHOUT ROWID;
CREATE TABLE pairs (
    id TEXT PRIMARY KEY,
    from_agent TEXT NOT NULL,
    to_agent TEXT NOT NULL,
    objective TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    ended_by TEXT
);
CREATE INDEX pairs_by_status ON pairs(status);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT,
    dedupe_key TEXT,
    title TEXT NOT NULL,
    body TEXT,
    target TEXT NOT NULL,
    channel TEXT,
    external_url TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    claimed_by TEXT,
    result TEXT,
    progress TEXT,
    occurrence_count INTEGER NOT NULL DEFAULT 1,
    message_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX tasks_by_dedupe ON tasks(source, dedupe_key);
CREATE INDEX tasks_by_status ON tasks(status, id);
CREATE TABLE task_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX task_events_by_task ON task_events(task_id, id);
CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL,
    integration TEXT NOT NULL,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX callbacks_by_task ON callbacks(task_id, id);
"#,
    // Agent keys (their SHA-256 digests) and whether a message's sender proved its key.
    r#"
ALTER TABLE agents ADD COLUMN key_hash TEXT;
ALTER TABLE messages ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 0;
"#,
    // One key per device (an id held on several machines) and link codes
    // (store/credentials.rs); the single key becomes the first device.
    r#"
ALTER TABLE agents ADD COLUMN credentials TEXT NOT NULL DEFAULT '{}';
UPDATE agents SET credentials = json_object('devices', json_array(json_object(
    'device', 'device-1', 'hash', key_hash, 'instanceId', instance_id,
    'epoch', epoch, 'createdAt', registered_at)), 'links', json_array())
    WHERE key_hash IS NOT NULL;
ALTER TABLE agents DROP COLUMN key_hash;
"#,
];

pub struct Store {
    conn: Mutex<Connection>,
}

/// Counts for `GET /api/stats`.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub agents: i64,
    pub agents_online: i64,
    pub messages: i64,
    pub latest_message_id: i64,
    pub open_claims: i64,
    pub pairs_active: i64,
    pub pairs_pending: i64,
    pub tasks_active: i64,
    pub tasks_total: i64,
    pub callbacks_failed: i64,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        stdx::create_private_file(path).map_err(|e| {
            crate::error::RelayError::Internal(format!("creating {}: {e}", path.display()))
        })?;
        // A file that is not a database (or is damaged) says which file and
        // what to do, rather than a bare SQLite code.
        Connection::open(path)
            .and_then(|conn| {
                conn.pragma_query_value(None, "schema_version", |r| r.get::<_, i64>(0))?;
                Ok(conn)
            })
            .map_err(|err| damaged(path, err))
            .and_then(Self::init)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(0);
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(&format!(
                "BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock_unpoisoned()
    }

    pub fn counts(&self, now: i64) -> Result<Counts> {
        let conn = self.lock();
        let one = |sql: &str| -> Result<i64> {
            Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
        };
        let open_claims = conn
            .prepare_cached("SELECT COUNT(*) FROM messages WHERE claimed_by IS NOT NULL AND claim_expires_at > ?1")?
            .query_row([now], |r| r.get(0))?;
        Ok(Counts {
            agents: one("SELECT COUNT(*) FROM agents")?,
            agents_online: one("SELECT COUNT(*) FROM agents WHERE status != 'offline'")?,
            messages: one("SELECT COUNT(*) FROM messages")?,
            latest_message_id: one("SELECT COALESCE(MAX(id), 0) FROM messages")?,
            open_claims,
            pairs_active: one("SELECT COUNT(*) FROM pairs WHERE status = 'active'")?,
            pairs_pending: one("SELECT COUNT(*) FROM pairs WHERE status = 'pending'")?,
            tasks_active: one(
                "SELECT COUNT(*) FROM tasks WHERE status NOT IN ('done', 'failed', 'cancelled')",
            )?,
            tasks_total: one("SELECT COUNT(*) FROM tasks")?,
            callbacks_failed: one("SELECT COUNT(*) FROM callbacks WHERE status = 'failed'")?,
        })
    }
}

fn damaged(path: &Path, err: rusqlite::Error) -> crate::error::RelayError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match err.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => crate::error::RelayError::Internal(format!(
            "{} is damaged ({err}); stop Perch and run `perch doctor` to check it and replace it with a repaired copy (docs/cli.md)",
            path.display()
        )),
        _ => err.into(),
    }
}

/// A column holding JSON (lists and objects are stored as text). A value
/// this relay wrote always parses; one that does not is damage, reported as
/// the row's error rather than read as empty.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_relay_of_one_key_per_id_keeps_it_as_the_first_device(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("relay.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(super::MIGRATIONS[0])?;
        conn.execute_batch(super::MIGRATIONS[1])?;
        conn.execute_batch(
            "PRAGMA user_version = 2; \
             INSERT INTO agents (id, status, instance_id, epoch, registered_at, last_seen, key_hash) \
             VALUES ('ada', 'online', 'i1', 3, 1, 1, 'digest'), ('bob', 'online', NULL, 1, 1, 1, NULL);",
        )?;
        drop(conn);
        let store = super::Store::open(&path)?;
        let ada = store.agent_credentials("ada")?;
        assert_eq!(ada.devices.len(), 1);
        assert_eq!(ada.devices[0].hash, "digest");
        assert!(ada.current_instance("i1", 3), "its instance is not fenced");
        assert_eq!(store.agent("ada")?.map(|a| a.authenticated), Some(true));
        assert_eq!(store.agent("bob")?.map(|a| a.authenticated), Some(false));
        Ok(())
    }

    #[test]
    fn a_damaged_database_names_its_file_and_perch_doctor() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("relay.db");
        std::fs::write(&path, vec![0x5a; 8192])?;
        let err = super::Store::open(&path)
            .err()
            .ok_or("a garbage file opened as a database")?;
        let message = err.to_string();
        assert!(
            message.contains("relay.db is damaged") && message.contains("perch doctor"),
            "{message}"
        );
        Ok(())
    }
}
