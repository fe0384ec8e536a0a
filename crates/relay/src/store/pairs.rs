//! Pairs: exclusive two-agent sessions. An agent has at most one pending or
//! active pair; the check and the insert share one transaction.

use super::Store;
use crate::error::{RelayError, Result};
use perch_relay_protocol::{Pair, PairStatus};
use rusqlite::{params, OptionalExtension, Row};

const PAIR_COLUMNS: &str =
    "id, from_agent, to_agent, objective, status, created_at, updated_at, ended_by";

fn pair_from_row(row: &Row) -> rusqlite::Result<Pair> {
    let status: String = row.get(4)?;
    Ok(Pair {
        id: row.get(0)?,
        from: row.get(1)?,
        to: row.get(2)?,
        objective: row.get(3)?,
        status: serde_json::from_value(serde_json::Value::String(status))
            .unwrap_or(PairStatus::Ended),
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        ended_by: row.get(7)?,
    })
}

fn open_pair_of(conn: &rusqlite::Connection, agent: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM pairs WHERE status IN ('pending', 'active') AND (from_agent = ?1 OR to_agent = ?1) LIMIT 1",
        )?
        .query_row([agent], |r| r.get(0))
        .optional()?)
}

impl Store {
    /// Invites the first of `candidates` that has no open pair.
    pub fn create_pair(
        &self,
        id: String,
        from: &str,
        candidates: &[String],
        objective: Option<String>,
        now: i64,
    ) -> Result<Pair> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(open) = open_pair_of(&tx, from)? {
            return Err(RelayError::Conflict(format!(
                "{from} is already in pair {open}; hang it up (or let it be rejected) before starting another"
            )));
        }
        let mut chosen = None;
        for candidate in candidates {
            if open_pair_of(&tx, candidate)?.is_none() {
                chosen = Some(candidate.clone());
                break;
            }
        }
        let Some(to) = chosen else {
            return Err(RelayError::Conflict(
                "every matching agent is already in a pair".into(),
            ));
        };
        tx.prepare_cached(&format!(
            "INSERT INTO pairs ({PAIR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5, NULL)"
        ))?
        .execute(params![id, from, to, objective, now])?;
        let pair = tx
            .prepare_cached(&format!("SELECT {PAIR_COLUMNS} FROM pairs WHERE id = ?1"))?
            .query_row([&id], pair_from_row)?;
        tx.commit()?;
        Ok(pair)
    }

    pub fn pair(&self, id: &str) -> Result<Option<Pair>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {PAIR_COLUMNS} FROM pairs WHERE id = ?1"))?;
        Ok(stmt.query_row([id], pair_from_row).optional()?)
    }

    pub fn pairs(&self, agent: Option<&str>, status: Option<PairStatus>) -> Result<Vec<Pair>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {PAIR_COLUMNS} FROM pairs WHERE (?1 IS NULL OR from_agent = ?1 OR to_agent = ?1) \
             AND (?2 IS NULL OR status = ?2) ORDER BY created_at DESC LIMIT 500"
        ))?;
        let rows = stmt.query_map(
            params![agent, status.map(PairStatus::as_str)],
            pair_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves a pair from one of `from_states` to `next`; `None` if it was in
    /// another state (the caller reports the conflict).
    pub fn transition_pair(
        &self,
        id: &str,
        from_states: &[PairStatus],
        next: PairStatus,
        actor: &str,
        now: i64,
    ) -> Result<Option<Pair>> {
        let conn = self.lock();
        let allowed: Vec<&str> = from_states.iter().map(|s| s.as_str()).collect();
        let ended_by = matches!(next, PairStatus::Rejected | PairStatus::Ended).then_some(actor);
        let updated = conn
            .prepare_cached(
                "UPDATE pairs SET status = ?2, updated_at = ?3, ended_by = COALESCE(?4, ended_by) \
                 WHERE id = ?1 AND status IN (SELECT value FROM json_each(?5))",
            )?
            .execute(params![
                id,
                next.as_str(),
                now,
                ended_by,
                serde_json::to_string(&allowed).unwrap_or_default()
            ])?;
        if updated == 0 {
            return Ok(None);
        }
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {PAIR_COLUMNS} FROM pairs WHERE id = ?1"))?;
        Ok(stmt.query_row([id], pair_from_row).optional()?)
    }
}
