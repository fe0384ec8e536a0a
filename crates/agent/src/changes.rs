//! Agent changes: every change the agent makes with Perch's tools
//! (memories, plans, wakeups, messages to other agents), recorded with its
//! provenance. A change asked for in a peer-driven turn is **pending**: it
//! has no effect, enters no context and fires nothing until the person
//! accepts it (the API, `perch changes`, a notification), and it can be
//! discarded.
//!
//! Invariants: a pending change runs at most once (accepting takes it out
//! of `pending` before it runs); this module decides nothing about which
//! calls are peer-driven (the MCP tools do) and runs nothing itself (the
//! [`ChangeApplier`] the MCP server registers does).

use crate::AgentState;
use perch_runtime::host::BoxFuture;
use perch_runtime::model::EventKind;
use perch_runtime::store::{Database, Schema};
use perch_runtime::{Error, Result};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;
use std::sync::Arc;
use stdx::{now_ms, MutexExt};

pub use perch_protocol::changes::{
    AgentChange, ChangeStatus, PeerSender, Provenance, ProvenanceKind,
};

pub(crate) const SCHEMA: Schema = Schema {
    name: "changes",
    migrations: &[MIGRATION],
};

const MIGRATION: &str = r#"
CREATE TABLE agent_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    summary TEXT NOT NULL,
    provenance TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER
);
CREATE INDEX agent_changes_by_status ON agent_changes(status, id);
"#;

const COLUMNS: &str =
    "id, tool, arguments, summary, provenance, status, result, error, created_at, decided_at";

/// Runs an accepted change with the tool the agent called; answers what
/// the tool answered. The MCP server registers one at start.
pub trait ChangeApplier: Send + Sync {
    fn apply<'a>(
        &'a self,
        change: &'a AgentChange,
    ) -> BoxFuture<'a, std::result::Result<Value, String>>;
}

/// What became of a change the agent asked for.
pub enum Outcome {
    /// It waits for the person.
    Pending,
    /// It ran, with this answer.
    Applied(Value),
    /// It ran and failed.
    Failed(String),
}

/// A change about to be recorded.
pub struct NewChange {
    pub tool: String,
    pub arguments: Value,
    pub summary: String,
    pub provenance: Provenance,
}

pub(crate) struct ChangeStore {
    db: Database,
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn change_from_row(row: &Row<'_>) -> rusqlite::Result<AgentChange> {
    let status: String = row.get(5)?;
    let result: Option<String> = row.get(6)?;
    Ok(AgentChange {
        id: row.get(0)?,
        tool: row.get(1)?,
        arguments: json_column(row, 2)?,
        summary: row.get(3)?,
        provenance: json_column(row, 4)?,
        status: ChangeStatus::parse(&status)
            .ok_or_else(|| perch_runtime::store::unknown_word(5, "the change status", &status))?,
        result: result.and_then(|text| serde_json::from_str(&text).ok()),
        error: row.get(7)?,
        created_at: row.get(8)?,
        decided_at: row.get(9)?,
    })
}

fn to_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl ChangeStore {
    pub(crate) fn new(db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self { db })
    }

    fn insert(&self, new: &NewChange, outcome: &Outcome, now: i64) -> Result<i64> {
        let (status, result, error, decided_at) = match outcome {
            Outcome::Pending => (ChangeStatus::Pending, None, None, None),
            Outcome::Applied(value) => {
                (ChangeStatus::Applied, Some(to_text(value)), None, Some(now))
            }
            Outcome::Failed(why) => (ChangeStatus::Failed, None, Some(why.clone()), Some(now)),
        };
        let conn = self.db.conn();
        conn.prepare_cached(
            "INSERT INTO agent_changes (tool, arguments, summary, provenance, status, result, error, created_at, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            new.tool,
            to_text(&new.arguments),
            new.summary,
            to_text(&new.provenance),
            status.as_str(),
            result,
            error,
            now,
            decided_at
        ])?;
        Ok(conn.last_insert_rowid())
    }

    fn get(&self, id: i64) -> Result<Option<AgentChange>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM agent_changes WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], change_from_row).optional()?)
    }

    fn list(&self, status: Option<ChangeStatus>, limit: usize) -> Result<Vec<AgentChange>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM agent_changes WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![status.map(ChangeStatus::as_str), limit as i64],
            change_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Settles a pending change; `false` when it was not pending.
    fn settle(&self, id: i64, outcome: &Outcome, now: i64, discarded: bool) -> Result<bool> {
        let (status, result, error) = match (discarded, outcome) {
            (true, _) => (ChangeStatus::Discarded, None, None),
            (false, Outcome::Applied(value)) => (ChangeStatus::Applied, Some(to_text(value)), None),
            (false, Outcome::Failed(why)) => (ChangeStatus::Failed, None, Some(why.clone())),
            (false, Outcome::Pending) => return Ok(false),
        };
        let changed = self
            .db
            .conn()
            .prepare_cached(
                "UPDATE agent_changes SET status = ?2, result = ?3, error = ?4, decided_at = ?5
                 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, status.as_str(), result, error, now])?;
        Ok(changed == 1)
    }
}

impl AgentState {
    /// The MCP server's way of running accepted changes.
    pub fn set_change_applier(&self, applier: Arc<dyn ChangeApplier>) {
        *self.change_applier.lock_unpoisoned() = Some(applier);
    }

    /// Records a change the agent made (or asked for), and says so.
    pub fn record_change(&self, new: NewChange, outcome: Outcome) -> Result<AgentChange> {
        let pending = matches!(outcome, Outcome::Pending);
        let id = self.change_db.insert(&new, &outcome, now_ms())?;
        let change = self.change(id)?;
        let change_box = Box::new(change.clone());
        self.runtime.events().publish(if pending {
            EventKind::ChangePending { change: change_box }
        } else {
            EventKind::ChangeDecided { change: change_box }
        });
        Ok(change)
    }

    pub fn change(&self, id: i64) -> Result<AgentChange> {
        self.change_db
            .get(id)?
            .ok_or_else(|| Error::NotFound(format!("no change {id}")))
    }

    /// Newest first; `status` keeps one status.
    pub fn changes(&self, status: Option<ChangeStatus>, limit: usize) -> Result<Vec<AgentChange>> {
        self.change_db.list(status, limit.clamp(1, 500))
    }

    /// Runs a pending change with the tool the agent called, once.
    pub async fn accept_change(&self, id: i64) -> Result<AgentChange> {
        let change = self.pending(id)?;
        let applier = self
            .change_applier
            .lock_unpoisoned()
            .clone()
            .ok_or_else(|| {
                Error::CodexUnavailable(
                    "Perch's tools are not running yet; try again in a moment".into(),
                )
            })?;
        if !self.accepting.lock_unpoisoned().insert(id) {
            return Err(Error::Conflict(format!("change {id} is being applied")));
        }
        let outcome = match applier.apply(&change).await {
            Ok(value) => Outcome::Applied(value),
            Err(why) => Outcome::Failed(why),
        };
        let settled = self.change_db.settle(id, &outcome, now_ms(), false);
        self.accepting.lock_unpoisoned().remove(&id);
        settled?;
        self.decided(id)
    }

    /// Drops a pending change: it never runs.
    pub fn discard_change(&self, id: i64) -> Result<AgentChange> {
        self.pending(id)?;
        if self.accepting.lock_unpoisoned().contains(&id)
            || !self
                .change_db
                .settle(id, &Outcome::Pending, now_ms(), true)?
        {
            return Err(Error::Conflict(format!("change {id} is no longer pending")));
        }
        self.decided(id)
    }

    fn pending(&self, id: i64) -> Result<AgentChange> {
        let change = self.change(id)?;
        if change.status != ChangeStatus::Pending {
            return Err(Error::Conflict(format!(
                "change {id} is {}, not pending",
                change.status.as_str()
            )));
        }
        Ok(change)
    }

    fn decided(&self, id: i64) -> Result<AgentChange> {
        let change = self.change(id)?;
        self.runtime.events().publish(EventKind::ChangeDecided {
            change: Box::new(change.clone()),
        });
        Ok(change)
    }

    /// Who wrote the peer messages the session's running turn answers (the
    /// peer network sets it before it hands them over).
    pub fn set_turn_senders(&self, session_id: &str, senders: Vec<PeerSender>) {
        let mut all = self.turn_senders.lock_unpoisoned();
        if senders.is_empty() {
            all.remove(session_id);
        } else {
            all.insert(session_id.to_string(), senders);
        }
    }

    pub fn turn_senders(&self, session_id: &str) -> Vec<PeerSender> {
        self.turn_senders
            .lock_unpoisoned()
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }
}
