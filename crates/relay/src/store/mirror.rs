//! The store as a *view*: a frontend of a NATS-backed relay keeps a copy of
//! the cluster's state in a disposable SQLite file and answers every read
//! from it with the same queries as the embedded relay. Changes arrive in
//! the order the cluster stored them and are applied in batches, each batch
//! one transaction.

use super::{to_json, Store};
use crate::error::Result;
use perch_relay_protocol::{Agent, Callback, Message, Pair, Task, TaskEvent};
use rusqlite::params;

/// One stored change, as the cluster holds it.
pub enum Change {
    Message(Box<Message>),
    MessageDeleted(i64),
    /// `None`: released.
    Claim {
        message: i64,
        claim: Option<(String, i64, i64)>,
    },
    Read {
        message: i64,
        agent: String,
        at: i64,
    },
    /// `None`: removed; else the card and who may act as it.
    Agent {
        id: String,
        card: Option<Box<(Agent, super::Credentials)>>,
    },
    Pair {
        id: String,
        pair: Option<Box<Pair>>,
    },
    Task {
        id: i64,
        task: Option<Box<Task>>,
    },
    TaskEvent(Box<TaskEvent>),
    Callback(Box<Callback>),
}

impl Store {
    /// A view in a file of its own (nothing else opens it; losing it loses
    /// nothing, so commits do not wait for the disk).
    pub fn open_view(path: &std::path::Path) -> Result<Self> {
        let store = Self::open(path)?;
        store.lock().pragma_update(None, "synchronous", "OFF")?;
        Ok(store)
    }

    /// Applies `changes` in one transaction; returns the ids of the
    /// messages that were new to the view.
    pub fn apply(&self, changes: &[Change]) -> Result<Vec<i64>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut inserted = Vec::new();
        for change in changes {
            if apply_one(&tx, change)? {
                if let Change::Message(m) = change {
                    inserted.push(m.id);
                }
            }
        }
        tx.commit()?;
        Ok(inserted)
    }
}

/// Whether the change added a row the view did not have.
fn apply_one(tx: &rusqlite::Connection, change: &Change) -> Result<bool> {
    match change {
        Change::Message(m) => {
            let added = tx.prepare_cached(
                "INSERT OR IGNORE INTO messages (id, from_agent, to_target, channel, subject, body, reply_to, thread_id, \
                 claimable, kind, meta, urgent, created_at, authenticated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                m.id,
                m.from,
                m.to,
                m.channel,
                m.subject,
                m.body,
                m.reply_to,
                // NULL: the message starts its thread.
                (m.thread_id != m.id).then_some(m.thread_id),
                m.claimable,
                m.kind,
                to_json(&m.meta),
                m.urgent,
                m.created_at,
                m.authenticated
            ])?;
            return Ok(added > 0);
        }
        Change::MessageDeleted(id) => {
            tx.prepare_cached("DELETE FROM read_markers WHERE message_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?
                .execute([id])?;
        }
        Change::Claim { message, claim } => {
            let (agent, at, expires) = match claim {
                Some((agent, at, expires)) => (Some(agent.as_str()), Some(*at), Some(*expires)),
                None => (None, None, None),
            };
            tx.prepare_cached(
                "UPDATE messages SET claimed_by = ?2, claimed_at = ?3, claim_expires_at = ?4 WHERE id = ?1",
            )?
            .execute(params![message, agent, at, expires])?;
        }
        Change::Read { message, agent, at } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO read_markers (message_id, agent_id, read_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![message, agent, at])?;
        }
        Change::Agent { id, card: None } => {
            tx.prepare_cached("DELETE FROM agents WHERE id = ?1")?
                .execute([id])?;
        }
        Change::Agent {
            card: Some(card), ..
        } => {
            let (a, credentials) = card.as_ref();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO agents (id, name, label, machine, rig, tags, capabilities, channels, status, ready, \
                 meta, instance_id, epoch, registered_at, last_seen, credentials) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                a.id,
                a.name,
                a.label,
                a.machine,
                a.rig,
                to_json(&a.tags),
                to_json(&a.capabilities),
                to_json(&a.channels),
                a.status.as_str(),
                a.ready,
                to_json(&a.meta),
                a.instance_id,
                a.epoch,
                a.registered_at,
                a.last_seen,
                to_json(credentials)
            ])?;
        }
        Change::Pair { id, pair: None } => {
            tx.prepare_cached("DELETE FROM pairs WHERE id = ?1")?
                .execute([id])?;
        }
        Change::Pair { pair: Some(p), .. } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO pairs (id, from_agent, to_agent, objective, status, created_at, updated_at, ended_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                p.id,
                p.from,
                p.to,
                p.objective,
                p.status.as_str(),
                p.created_at,
                p.updated_at,
                p.ended_by
            ])?;
        }
        Change::Task { id, task: None } => {
            tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
                .execute([id])?;
        }
        Change::Task { task: Some(t), .. } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tasks (id, source, kind, severity, dedupe_key, title, body, target, channel, \
                 external_url, metadata, status, claimed_by, result, progress, occurrence_count, message_id, created_at, \
                 updated_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            )?
            .execute(params![
                t.id,
                t.source,
                t.kind,
                t.severity,
                t.dedupe_key,
                t.title,
                t.body,
                t.target,
                t.channel,
                t.external_url,
                to_json(&t.metadata),
                t.status.as_str(),
                t.claimed_by,
                t.result,
                t.progress,
                t.occurrence_count,
                t.message_id,
                t.created_at,
                t.updated_at,
                t.last_seen_at
            ])?;
        }
        Change::TaskEvent(e) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO task_events (id, task_id, kind, actor, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![e.id, e.task_id, e.kind, e.actor, to_json(&e.detail), e.created_at])?;
        }
        Change::Callback(c) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO callbacks (id, task_id, integration, url, event, payload, status, attempts, \
                 last_error, created_at, delivered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                c.id,
                c.task_id,
                c.integration,
                c.url,
                c.event,
                c.payload.to_string(),
                c.status,
                c.attempts,
                c.last_error,
                c.created_at,
                c.delivered_at
            ])?;
        }
    }
    Ok(false)
}
