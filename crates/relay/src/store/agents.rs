//! Agent cards: registration with instance epochs, presence, and the reaper's
//! stale/prune passes.

use super::credentials::{CredentialChange, Credentials, Grant};
use super::{json_column, to_json, Store};
use crate::error::Result;
use perch_relay_protocol::{Agent, AgentStatus, RegisterAgent};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::{Map, Value};

const AGENT_COLUMNS: &str =
    "id, name, label, machine, rig, tags, capabilities, channels, status, ready, meta, \
     instance_id, epoch, registered_at, last_seen, credentials";

/// A change to one agent card; `None` leaves a field alone.
#[derive(Default, Clone)]
pub struct AgentPatch {
    pub status: Option<AgentStatus>,
    pub ready: Option<bool>,
    pub label: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub capabilities: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    /// Merged into the stored meta (a `null` value removes a key).
    pub meta: Option<Map<String, Value>>,
}

/// The card a registration leaves (`authenticated` is the existing card's;
/// the caller sets it when it gives the id a key). A new `instanceId` under
/// a known id bumps the epoch, which fences the instance it replaces.
pub fn registered_card(existing: Option<&Agent>, reg: RegisterAgent, now: i64) -> Agent {
    let (epoch, registered_at, ready) = match existing {
        None => (1, now, reg.ready.unwrap_or(true)),
        Some(old) => {
            let new_instance = reg.instance_id.is_some() && reg.instance_id != old.instance_id;
            (
                old.epoch + i64::from(new_instance),
                old.registered_at,
                reg.ready.unwrap_or(old.ready),
            )
        }
    };
    let instance_id = reg
        .instance_id
        .or_else(|| existing.and_then(|old| old.instance_id.clone()));
    Agent {
        id: reg.id,
        name: reg.name,
        label: reg.label,
        machine: reg.machine,
        rig: reg.rig,
        tags: reg.tags,
        capabilities: reg.capabilities,
        channels: reg.channels,
        status: reg.status.unwrap_or(AgentStatus::Online),
        ready,
        meta: reg.meta,
        instance_id,
        epoch,
        registered_at,
        last_seen: now,
        authenticated: existing.is_some_and(|old| old.authenticated),
    }
}

impl AgentPatch {
    /// The card with this change made.
    pub fn apply(self, agent: &mut Agent) {
        if let Some(status) = self.status {
            agent.status = status;
        }
        if let Some(ready) = self.ready {
            agent.ready = ready;
        }
        if let Some(label) = self.label {
            agent.label = label;
        }
        if let Some(tags) = self.tags {
            agent.tags = tags;
        }
        if let Some(capabilities) = self.capabilities {
            agent.capabilities = capabilities;
        }
        if let Some(channels) = self.channels {
            agent.channels = channels;
        }
        for (key, value) in self.meta.into_iter().flatten() {
            if value.is_null() {
                agent.meta.remove(&key);
            } else {
                agent.meta.insert(key, value);
            }
        }
    }
}

fn agent_from_row(row: &Row) -> rusqlite::Result<Agent> {
    keyed_agent_from_row(row).map(|(agent, _)| agent)
}

fn card_from_row(row: &Row) -> rusqlite::Result<Agent> {
    let status: String = row.get(8)?;
    Ok(Agent {
        id: row.get(0)?,
        name: row.get(1)?,
        label: row.get(2)?,
        machine: row.get(3)?,
        rig: row.get(4)?,
        tags: json_column(row, 5)?,
        capabilities: json_column(row, 6)?,
        channels: json_column(row, 7)?,
        status: AgentStatus::parse(&status).unwrap_or(AgentStatus::Offline),
        ready: row.get(9)?,
        meta: json_column(row, 10)?,
        instance_id: row.get(11)?,
        epoch: row.get(12)?,
        registered_at: row.get(13)?,
        last_seen: row.get(14)?,
        authenticated: false,
    })
}

/// A card with its credentials; `authenticated` says whether it holds a key.
fn keyed_agent_from_row(row: &Row) -> rusqlite::Result<(Agent, Credentials)> {
    let mut agent = card_from_row(row)?;
    let credentials: Credentials = json_column(row, 15)?;
    agent.authenticated = credentials.is_keyed();
    Ok((agent, credentials))
}

impl Store {
    /// Registers or refreshes an agent (already validated and authorized;
    /// `grant` says with what, see [`Credentials::admit`]). A new
    /// `instanceId` bumps the epoch of the card, or of the registering
    /// device for a keyed id, which fences the instance it replaces.
    pub fn register_agent(&self, reg: RegisterAgent, grant: &Grant, now: i64) -> Result<Agent> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let existing = tx
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?
            .query_row([&reg.id], keyed_agent_from_row)
            .optional()?;
        let (old_card, credentials) = existing.unzip();
        let mut credentials = credentials.unwrap_or_default();
        let mut agent = registered_card(old_card.as_ref(), reg.clone(), now);
        if let Some((instance_id, epoch)) =
            credentials.admit(&agent.id, grant, &reg, agent.epoch, now)?
        {
            agent.instance_id = instance_id;
            agent.epoch = epoch;
        }
        agent.authenticated = credentials.is_keyed();
        tx.prepare_cached(
            "INSERT INTO agents (id, name, label, machine, rig, tags, capabilities, channels, status, ready, meta, \
             instance_id, epoch, registered_at, last_seen, credentials) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, label = excluded.label, machine = excluded.machine, \
             rig = excluded.rig, tags = excluded.tags, capabilities = excluded.capabilities, channels = excluded.channels, \
             status = excluded.status, ready = excluded.ready, meta = excluded.meta, instance_id = excluded.instance_id, \
             epoch = excluded.epoch, last_seen = excluded.last_seen, credentials = excluded.credentials",
        )?
        .execute(params![
            agent.id,
            agent.name,
            agent.label,
            agent.machine,
            agent.rig,
            to_json(&agent.tags),
            to_json(&agent.capabilities),
            to_json(&agent.channels),
            agent.status.as_str(),
            agent.ready,
            to_json(&agent.meta),
            agent.instance_id,
            agent.epoch,
            agent.registered_at,
            now,
            to_json(&credentials)
        ])?;
        tx.commit()?;
        Ok(agent)
    }

    pub fn agent(&self, id: &str) -> Result<Option<Agent>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?;
        Ok(stmt.query_row([id], agent_from_row).optional()?)
    }

    pub fn agents(&self) -> Result<Vec<Agent>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))?;
        let rows = stmt.query_map([], agent_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The id's keys and link codes (empty for an id that holds none).
    pub fn agent_credentials(&self, id: &str) -> Result<Credentials> {
        let conn = self.lock();
        let found = conn
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?
            .query_row([id], keyed_agent_from_row)
            .optional()?;
        Ok(found.map(|(_, c)| c).unwrap_or_default())
    }

    /// Carries out `change` on the id's credentials; `false` if unknown.
    pub fn change_credentials(
        &self,
        id: &str,
        change: &CredentialChange,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let Some((agent, mut credentials)) = tx
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?
            .query_row([id], keyed_agent_from_row)
            .optional()?
        else {
            return Ok(false);
        };
        credentials.apply(&agent.id, change, now)?;
        tx.prepare_cached("UPDATE agents SET credentials = ?2 WHERE id = ?1")?
            .execute(params![id, to_json(&credentials)])?;
        tx.commit()?;
        Ok(true)
    }

    pub fn delete_agent(&self, id: &str) -> Result<bool> {
        let conn = self.lock();
        let deleted = conn
            .prepare_cached("DELETE FROM agents WHERE id = ?1")?
            .execute([id])?;
        Ok(deleted > 0)
    }

    /// Applies `patch` and records the agent as seen; `None` if unknown.
    pub fn update_agent(&self, id: &str, patch: AgentPatch, now: i64) -> Result<Option<Agent>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let Some(mut agent) = tx
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?
            .query_row([id], agent_from_row)
            .optional()?
        else {
            return Ok(None);
        };
        patch.apply(&mut agent);
        agent.last_seen = now;
        tx.prepare_cached(
            "UPDATE agents SET status = ?2, ready = ?3, label = ?4, tags = ?5, capabilities = ?6, channels = ?7, \
             meta = ?8, last_seen = ?9 WHERE id = ?1",
        )?
        .execute(params![
            id,
            agent.status.as_str(),
            agent.ready,
            agent.label,
            to_json(&agent.tags),
            to_json(&agent.capabilities),
            to_json(&agent.channels),
            to_json(&agent.meta),
            now
        ])?;
        tx.commit()?;
        Ok(Some(agent))
    }

    /// Marks agents not seen after `cutoff` offline; returns their ids.
    pub fn mark_stale_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("UPDATE agents SET status = 'offline' WHERE status != 'offline' AND last_seen <= ?1 RETURNING id")?;
        let rows = stmt.query_map([cutoff], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes offline agents not seen after `cutoff`; returns their ids.
    /// An id that holds a key is kept: pruning it would let anyone claim it.
    pub fn prune_offline(&self, cutoff: i64) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "DELETE FROM agents WHERE status = 'offline' AND last_seen <= ?1 AND coalesce(json_array_length(credentials, '$.devices'), 0) = 0 RETURNING id",
        )?;
        let rows = stmt.query_map([cutoff], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
