//! Tasks from integrations: dedupe by `(source, dedupeKey)` while active,
//! claims, status changes, an event history, and callback attempts written
//! before they are delivered.

use super::messages::insert_message_in;
use super::{json_column, to_json, Store};
use crate::error::Result;
use perch_relay_protocol::{Callback, Message, NewMessage, Task, TaskEvent, TaskStatus};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::{Map, Value};

const TASK_COLUMNS: &str = "id, source, kind, severity, dedupe_key, title, body, target, channel, external_url, \
     metadata, status, claimed_by, result, progress, occurrence_count, message_id, created_at, updated_at, last_seen_at";

/// A validated new task.
pub struct NewTask {
    pub source: String,
    pub kind: String,
    pub severity: Option<String>,
    pub dedupe_key: Option<String>,
    pub title: String,
    pub body: Option<String>,
    pub target: String,
    pub channel: Option<String>,
    pub external_url: Option<String>,
    pub metadata: Map<String, Value>,
}

pub enum Ingested {
    Created {
        task: Box<Task>,
        message: Box<Message>,
    },
    Repeated(Box<Task>),
}

pub enum TaskClaim {
    Done(Box<Task>),
    NotFound,
    HeldBy(Option<String>, TaskStatus),
}

fn task_from_row(row: &Row) -> rusqlite::Result<Task> {
    let status: String = row.get(11)?;
    Ok(Task {
        id: row.get(0)?,
        source: row.get(1)?,
        kind: row.get(2)?,
        severity: row.get(3)?,
        dedupe_key: row.get(4)?,
        title: row.get(5)?,
        body: row.get(6)?,
        target: row.get(7)?,
        channel: row.get(8)?,
        external_url: row.get(9)?,
        metadata: json_column(row, 10)?,
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Open),
        claimed_by: row.get(12)?,
        result: row.get(13)?,
        progress: row.get(14)?,
        occurrence_count: row.get(15)?,
        message_id: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        last_seen_at: row.get(19)?,
    })
}

fn select_task(conn: &rusqlite::Connection, id: i64) -> Result<Option<Task>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"))?;
    Ok(stmt.query_row([id], task_from_row).optional()?)
}

fn add_event(
    conn: &rusqlite::Connection,
    task: i64,
    kind: &str,
    actor: Option<&str>,
    detail: Value,
    now: i64,
) -> Result<()> {
    conn.prepare_cached("INSERT INTO task_events (task_id, kind, actor, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![task, kind, actor, detail.to_string(), now])?;
    Ok(())
}

impl Store {
    /// The active task with this dedupe key from this source, if any.
    pub fn active_task(&self, source: &str, dedupe_key: &str) -> Result<Option<Task>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE source = ?1 AND dedupe_key = ?2 \
             AND status NOT IN ('done', 'failed', 'cancelled') ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(stmt
            .query_row([source, dedupe_key], task_from_row)
            .optional()?)
    }

    /// Creates the task and its claimable message, or, when an active task
    /// has the same dedupe key, counts one more occurrence of it. One
    /// transaction either way.
    pub fn ingest_task(&self, new: NewTask, message: NewMessage, now: i64) -> Result<Ingested> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(key) = &new.dedupe_key {
            let active: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM tasks WHERE source = ?1 AND dedupe_key = ?2 \
                     AND status NOT IN ('done', 'failed', 'cancelled') ORDER BY id DESC LIMIT 1",
                )?
                .query_row([&new.source, key], |r| r.get(0))
                .optional()?;
            if let Some(id) = active {
                tx.prepare_cached(
                    "UPDATE tasks SET occurrence_count = occurrence_count + 1, last_seen_at = ?2, updated_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
                add_event(
                    &tx,
                    id,
                    "occurrence",
                    Some(&new.source),
                    serde_json::json!({ "title": new.title }),
                    now,
                )?;
                let task = select_task(&tx, id)?
                    .ok_or_else(|| crate::RelayError::Internal("a task vanished".into()))?;
                tx.commit()?;
                return Ok(Ingested::Repeated(Box::new(task)));
            }
        }
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO tasks (source, kind, severity, dedupe_key, title, body, target, channel, external_url, \
                 metadata, status, occurrence_count, created_at, updated_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open', 1, ?11, ?11, ?11) RETURNING id",
            )?
            .query_row(
                params![
                    new.source,
                    new.kind,
                    new.severity,
                    new.dedupe_key,
                    new.title,
                    new.body,
                    new.target,
                    new.channel,
                    new.external_url,
                    to_json(&new.metadata),
                    now
                ],
                |r| r.get(0),
            )?;
        let mut message = message;
        message.meta.insert("taskId".into(), Value::from(id));
        let message = insert_message_in(&tx, message, false, now)?;
        tx.prepare_cached("UPDATE tasks SET message_id = ?2 WHERE id = ?1")?
            .execute(params![id, message.id])?;
        add_event(
            &tx,
            id,
            "created",
            Some(&new.source),
            serde_json::json!({ "messageId": message.id }),
            now,
        )?;
        let task = select_task(&tx, id)?
            .ok_or_else(|| crate::RelayError::Internal("a task vanished".into()))?;
        tx.commit()?;
        Ok(Ingested::Created {
            task: Box::new(task),
            message: Box::new(message),
        })
    }

    pub fn task(&self, id: i64) -> Result<Option<Task>> {
        select_task(&self.lock(), id)
    }

    pub fn tasks(
        &self,
        status: Option<TaskStatus>,
        source: Option<&str>,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Task>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR source = ?2) \
             AND (?3 IS NULL OR target = ?3) ORDER BY id DESC LIMIT ?4"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![status.map(TaskStatus::as_str), source, target, limit],
            task_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn task_events(&self, id: i64) -> Result<Vec<TaskEvent>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, task_id, kind, actor, detail, created_at FROM task_events WHERE task_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |row| {
            Ok(TaskEvent {
                id: row.get(0)?,
                task_id: row.get(1)?,
                kind: row.get(2)?,
                actor: row.get(3)?,
                detail: json_column(row, 4)?,
                created_at: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Claims an open task (the holder may claim again).
    pub fn claim_task(&self, id: i64, agent: &str, now: i64) -> Result<TaskClaim> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let updated = tx
            .prepare_cached(
                "UPDATE tasks SET status = 'claimed', claimed_by = ?2, updated_at = ?3 \
                 WHERE id = ?1 AND (status = 'open' OR (claimed_by = ?2 AND status = 'claimed'))",
            )?
            .execute(params![id, agent, now])?;
        let Some(task) = select_task(&tx, id)? else {
            return Ok(TaskClaim::NotFound);
        };
        if updated == 0 {
            return Ok(TaskClaim::HeldBy(task.claimed_by, task.status));
        }
        add_event(
            &tx,
            id,
            "claimed",
            Some(agent),
            Value::Object(Map::new()),
            now,
        )?;
        tx.commit()?;
        Ok(TaskClaim::Done(Box::new(task)))
    }

    /// Sets status (and result/progress); records the change as an event.
    pub fn update_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
        now: i64,
    ) -> Result<Option<Task>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let updated = tx
            .prepare_cached(
                "UPDATE tasks SET status = ?2, result = COALESCE(?3, result), progress = COALESCE(?4, progress), \
                 claimed_by = CASE WHEN ?2 = 'open' THEN NULL ELSE COALESCE(claimed_by, ?5) END, updated_at = ?6 \
                 WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), result, progress, actor, now])?;
        if updated == 0 {
            return Ok(None);
        }
        let detail = serde_json::json!({ "status": status.as_str(), "result": result, "progress": progress });
        add_event(&tx, id, "status", actor, detail, now)?;
        let task = select_task(&tx, id)?;
        tx.commit()?;
        Ok(task)
    }

    /// Records a callback attempt before it is made.
    pub fn insert_callback(
        &self,
        task: i64,
        integration: &str,
        url: &str,
        event: &str,
        payload: &Value,
        now: i64,
    ) -> Result<i64> {
        let conn = self.lock();
        let id = conn
            .prepare_cached(
                "INSERT INTO callbacks (task_id, integration, url, event, payload, status, attempts, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6) RETURNING id",
            )?
            .query_row(params![task, integration, url, event, payload.to_string(), now], |r| r.get(0))?;
        Ok(id)
    }

    pub fn finish_callback(&self, id: i64, error: Option<&str>, now: i64) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached(
            "UPDATE callbacks SET attempts = attempts + 1, status = CASE WHEN ?2 IS NULL THEN 'delivered' ELSE 'failed' END, \
             last_error = ?2, delivered_at = CASE WHEN ?2 IS NULL THEN ?3 ELSE delivered_at END WHERE id = ?1",
        )?
        .execute(params![id, error, now])?;
        Ok(())
    }

    pub fn callbacks(&self, task: i64) -> Result<Vec<Callback>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, task_id, integration, url, event, payload, status, attempts, last_error, created_at, delivered_at \
             FROM callbacks WHERE task_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([task], |row| {
            let payload: String = row.get(5)?;
            Ok(Callback {
                id: row.get(0)?,
                task_id: row.get(1)?,
                integration: row.get(2)?,
                url: row.get(3)?,
                event: row.get(4)?,
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                status: row.get(6)?,
                attempts: row.get(7)?,
                last_error: row.get(8)?,
                created_at: row.get(9)?,
                delivered_at: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
