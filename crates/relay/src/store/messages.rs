//! Messages: sending with thread ids, reads filtered by recipient, per-agent
//! read markers, claims with leases, and retention.

use super::{json_column, to_json, Store};
use crate::error::{RelayError, Result};
use perch_relay_protocol::{Message, MessageQuery, NewMessage};
use rusqlite::types::ToSql;
use rusqlite::{params, OptionalExtension, Row};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

const MESSAGE_SELECT: &str = "SELECT m.id, m.from_agent, m.to_target, m.channel, m.subject, m.body, m.reply_to, \
     COALESCE(m.thread_id, m.id), m.claimable, m.claimed_by, m.claimed_at, m.claim_expires_at, m.kind, m.meta, m.urgent, m.created_at, \
     (SELECT json_group_array(r.agent_id) FROM read_markers r WHERE r.message_id = m.id), m.authenticated FROM messages m";

/// Who reads: the agent and every `to` value that reaches it.
pub struct Reader {
    pub agent_id: String,
    pub addresses: Vec<String>,
}

#[derive(Debug)]
pub enum ClaimOutcome {
    Done(Box<Message>),
    NotFound,
    NotClaimable,
    /// Another agent holds an unexpired lease (or, for renew/release, the
    /// caller does not hold it).
    HeldBy(Option<String>),
}

fn message_from_row(row: &Row) -> rusqlite::Result<Message> {
    // NULL: nobody has read it.
    let read_by = match row.get_ref(16)? {
        rusqlite::types::ValueRef::Null => Vec::new(),
        _ => json_column(row, 16)?,
    };
    Ok(Message {
        id: row.get(0)?,
        from: row.get(1)?,
        to: row.get(2)?,
        channel: row.get(3)?,
        subject: row.get(4)?,
        body: row.get(5)?,
        reply_to: row.get(6)?,
        thread_id: row.get(7)?,
        claimable: row.get(8)?,
        claimed_by: row.get(9)?,
        claimed_at: row.get(10)?,
        claim_expires_at: row.get(11)?,
        kind: row.get(12)?,
        meta: json_column(row, 13)?,
        urgent: row.get(14)?,
        created_at: row.get(15)?,
        read_by,
        authenticated: row.get(17)?,
    })
}

fn select_one(conn: &rusqlite::Connection, id: i64) -> Result<Option<Message>> {
    let mut stmt = conn.prepare_cached(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))?;
    Ok(stmt.query_row([id], message_from_row).optional()?)
}

impl Store {
    /// Several messages in one transaction (group commit): each gets its own
    /// outcome; if the commit fails, all of them fail.
    pub fn insert_messages(
        &self,
        batch: Vec<(NewMessage, bool)>,
        now: i64,
    ) -> Result<Vec<Result<Message>>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let outcomes = batch
            .into_iter()
            .map(|(out, authenticated)| insert_message_in(&tx, out, authenticated, now))
            .collect();
        tx.commit()?;
        Ok(outcomes)
    }

    pub fn message(&self, id: i64) -> Result<Option<Message>> {
        select_one(&self.lock(), id)
    }

    /// Messages matching `query`, oldest first. With a `reader`, only those
    /// that reach it and that it did not send (and, if `unread`, did not read).
    pub fn messages(&self, query: &MessageQuery, reader: Option<&Reader>) -> Result<Vec<Message>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let arg = |value: Box<dyn ToSql>, args: &mut Vec<Box<dyn ToSql>>| {
            args.push(value);
            format!("?{}", args.len())
        };
        if let Some(reader) = reader {
            let placeholders: Vec<String> = reader
                .addresses
                .iter()
                .map(|a| arg(Box::new(a.clone()), &mut args))
                .collect();
            clauses.push(format!("m.to_target IN ({})", placeholders.join(", ")));
            let me = arg(Box::new(reader.agent_id.clone()), &mut args);
            clauses.push(format!("m.from_agent != {me}"));
            if query.unread == Some(true) {
                clauses.push(format!(
                    "NOT EXISTS (SELECT 1 FROM read_markers r WHERE r.message_id = m.id AND r.agent_id = {me})"
                ));
            }
        }
        if let Some(since) = query.since_id {
            clauses.push(format!("m.id > {}", arg(Box::new(since), &mut args)));
        }
        if let Some(before) = query.before_id {
            clauses.push(format!("m.id < {}", arg(Box::new(before), &mut args)));
        }
        if let Some(from) = &query.from {
            clauses.push(format!(
                "m.from_agent = {}",
                arg(Box::new(from.clone()), &mut args)
            ));
        }
        if let Some(to) = &query.to {
            clauses.push(format!(
                "m.to_target = {}",
                arg(Box::new(to.clone()), &mut args)
            ));
        }
        if let Some(channel) = &query.channel {
            clauses.push(format!(
                "m.channel = {}",
                arg(Box::new(channel.clone()), &mut args)
            ));
        }
        if let Some(thread) = query.thread_id {
            let thread = arg(Box::new(thread), &mut args);
            clauses.push(format!("(m.thread_id = {thread} OR m.id = {thread})"));
        }
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        // Paging backwards (`beforeId`) takes the newest page, then flips it.
        let newest_first = query.before_id.is_some() && query.since_id.is_none();
        let order = if newest_first { "DESC" } else { "ASC" };
        let sql = format!("{MESSAGE_SELECT}{filter} ORDER BY m.id {order} LIMIT {limit}");
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&sql)?;
        let refs: Vec<&dyn ToSql> = args.iter().map(std::convert::AsRef::as_ref).collect();
        let mut found = stmt
            .query_map(refs.as_slice(), message_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if newest_first {
            found.reverse();
        }
        Ok(found)
    }

    pub fn latest_message_id(&self) -> Result<i64> {
        let conn = self.lock();
        let latest = conn
            .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages")?
            .query_row([], |r| r.get(0))?;
        Ok(latest)
    }

    /// Records that `agent` read message `id`; `None` if there is no message.
    pub fn mark_read(&self, id: i64, agent: &str, now: i64) -> Result<Option<Message>> {
        let conn = self.lock();
        let exists = conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?
            .exists([id])?;
        if !exists {
            return Ok(None);
        }
        conn.prepare_cached("INSERT OR IGNORE INTO read_markers (message_id, agent_id, read_at) VALUES (?1, ?2, ?3)")?
            .execute(params![id, agent, now])?;
        select_one(&conn, id)
    }

    pub fn delete_message(&self, id: i64) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.prepare_cached("DELETE FROM read_markers WHERE message_id = ?1")?
            .execute([id])?;
        let deleted = tx
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([id])?
            > 0;
        tx.commit()?;
        Ok(deleted)
    }

    /// Claims message `id` for `agent` until `now + lease_ms`: one
    /// conditional UPDATE, so concurrent claimers get exactly one winner. The
    /// holder may claim again (it renews); an expired lease is free.
    pub fn claim_message(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        let conn = self.lock();
        let updated = conn
            .prepare_cached(
                "UPDATE messages SET claimed_by = ?2, claimed_at = CASE WHEN claimed_by = ?2 THEN claimed_at ELSE ?3 END, \
                 claim_expires_at = ?4 WHERE id = ?1 AND claimable = 1 \
                 AND (claimed_by IS NULL OR claimed_by = ?2 OR claim_expires_at <= ?3)",
            )?
            .execute(params![id, agent, now, now + lease_ms])?;
        claim_result(&conn, id, updated)
    }

    /// Extends the lease `agent` holds on message `id`.
    pub fn renew_claim(
        &self,
        id: i64,
        agent: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ClaimOutcome> {
        let conn = self.lock();
        let updated = conn
            .prepare_cached(
                "UPDATE messages SET claim_expires_at = ?4 WHERE id = ?1 AND claimable = 1 AND claimed_by = ?2 \
                 AND claim_expires_at > ?3",
            )?
            .execute(params![id, agent, now, now + lease_ms])?;
        claim_result(&conn, id, updated)
    }

    /// Gives the claim back so another agent can take the message.
    pub fn release_claim(&self, id: i64, agent: &str) -> Result<ClaimOutcome> {
        let conn = self.lock();
        let updated = conn
            .prepare_cached(
                "UPDATE messages SET claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL \
                 WHERE id = ?1 AND claimable = 1 AND claimed_by = ?2",
            )?
            .execute(params![id, agent])?;
        claim_result(&conn, id, updated)
    }

    /// Deletes messages created at or before `cutoff` and their read markers.
    pub fn prune_messages(&self, cutoff: i64) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "DELETE FROM read_markers WHERE message_id IN (SELECT id FROM messages WHERE created_at <= ?1)",
        )?
        .execute([cutoff])?;
        let pruned = tx
            .prepare_cached("DELETE FROM messages WHERE created_at <= ?1")?
            .execute([cutoff])?;
        tx.commit()?;
        Ok(pruned)
    }
}

/// Stores a validated message inside the caller's transaction (tasks post
/// their claimable message in the same transaction as the task). A reply
/// joins its parent's thread; anything else starts a thread named by its own
/// id. `authenticated`: the sender proved the key of `from`.
pub(super) fn insert_message_in(
    tx: &rusqlite::Connection,
    out: NewMessage,
    authenticated: bool,
    now: i64,
) -> Result<Message> {
    let parent_thread: Option<i64> = match out.reply_to {
        Some(parent) => Some(
            tx.prepare_cached("SELECT COALESCE(thread_id, id) FROM messages WHERE id = ?1")?
                .query_row([parent], |r| r.get(0))
                .optional()?
                .ok_or_else(|| RelayError::Invalid(format!("replyTo {parent}: no such message")))?,
        ),
        None => None,
    };
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO messages (from_agent, to_target, channel, subject, body, reply_to, thread_id, claimable, \
             kind, meta, urgent, created_at, authenticated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             RETURNING id",
        )?
        .query_row(
            params![
                out.from,
                out.to,
                out.channel,
                out.subject,
                out.body,
                out.reply_to,
                parent_thread,
                out.claimable,
                out.kind,
                to_json(&out.meta),
                out.urgent,
                now,
                authenticated
            ],
            |r| r.get(0),
        )?;
    // Everything in it is known: no read back (this is the hot path).
    Ok(Message {
        id,
        from: out.from,
        to: out.to,
        channel: out.channel,
        subject: out.subject,
        body: out.body,
        reply_to: out.reply_to,
        thread_id: parent_thread.unwrap_or(id),
        claimable: out.claimable,
        claimed_by: None,
        claimed_at: None,
        claim_expires_at: None,
        kind: out.kind,
        meta: out.meta,
        urgent: out.urgent,
        created_at: now,
        read_by: Vec::new(),
        authenticated,
    })
}

fn claim_result(conn: &rusqlite::Connection, id: i64, updated: usize) -> Result<ClaimOutcome> {
    let Some(message) = select_one(conn, id)? else {
        return Ok(ClaimOutcome::NotFound);
    };
    Ok(if updated == 1 {
        ClaimOutcome::Done(Box::new(message))
    } else if !message.claimable {
        ClaimOutcome::NotClaimable
    } else {
        ClaimOutcome::HeldBy(message.claimed_by)
    })
}
