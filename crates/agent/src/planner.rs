//! The planner: named todo lists the agent and the person share.
//!
//! Invariants: a plan's name is unique (case-insensitive); item positions
//! are 0..n without gaps after every change; every change is one
//! transaction, then published as `plan.changed` with the whole plan, so a
//! page shows the agent checking items as it happens.

use crate::AgentState;
pub use perch_protocol::plans::{NewPlan, NewPlanItem, Plan, PlanItem, PlanItemPatch};
use perch_runtime::model::EventKind;
use perch_runtime::store::{Database, Schema};
use perch_runtime::{Error, Result};
use rusqlite::{params, OptionalExtension, Transaction};
use stdx::now_ms;

pub(crate) const SCHEMA: Schema = Schema {
    name: "planner",
    migrations: &[MIGRATION, STABLE_IDS_MIGRATION],
};

/// The planner's migration 1 (version 3 before issue 13).
const MIGRATION: &str = r#"
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE plan_items (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    done_at INTEGER
);
CREATE INDEX plan_items_by_plan ON plan_items(plan_id, position);
"#;

/// The planner's migration 2: plan and item ids are never given again
/// (without `AUTOINCREMENT` SQLite reuses the highest one after a delete,
/// and a client holding it would change another plan). Rebuilt with every row.
const STABLE_IDS_MIGRATION: &str = r#"
CREATE TABLE plans_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO plans_new (id, name, created_at, updated_at)
    SELECT id, name, created_at, updated_at FROM plans;
-- Items refer to the new table: dropping the old one cascades (SQLite as
-- Perch links it enforces foreign keys), and the rename below carries the
-- reference along.
CREATE TABLE plan_items_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL REFERENCES plans_new(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    done_at INTEGER
);
INSERT INTO plan_items_new (id, plan_id, text, done, position, updated_at, done_at)
    SELECT id, plan_id, text, done, position, updated_at, done_at FROM plan_items;
DROP TABLE plan_items;
DROP TABLE plans;
ALTER TABLE plans_new RENAME TO plans;
ALTER TABLE plan_items_new RENAME TO plan_items;
CREATE INDEX plan_items_by_plan ON plan_items(plan_id, position);
"#;

const MAX_NAME_CHARS: usize = 80;
const MAX_ITEM_CHARS: usize = 2000;
const MAX_ITEMS: usize = 500;
const MAX_PLANS: i64 = 200;

/// One change to a plan; `AgentState::change_plan` applies it.
#[derive(Debug, Clone)]
pub enum PlanChange {
    Rename(String),
    Add(Vec<NewPlanItem>),
    Edit(i64, PlanItemPatch),
    Remove(i64),
    /// Removes the checked items, or all of them.
    Clear {
        done_only: bool,
    },
}

fn plan_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "a plan name is 1 to {MAX_NAME_CHARS} characters on one line"
        )));
    }
    Ok(name.to_string())
}

fn item_text(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_ITEM_CHARS {
        return Err(Error::Invalid(format!(
            "an item is 1 to {MAX_ITEM_CHARS} characters"
        )));
    }
    Ok(text.to_string())
}

fn load_items(tx: &Transaction<'_>, plan_id: i64) -> rusqlite::Result<Vec<PlanItem>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, text, done, position, updated_at, done_at FROM plan_items WHERE plan_id = ?1 ORDER BY position, id",
    )?;
    let items = stmt
        .query_map([plan_id], |r| {
            Ok(PlanItem {
                id: r.get(0)?,
                text: r.get(1)?,
                done: r.get(2)?,
                position: r.get(3)?,
                updated_at: r.get(4)?,
                done_at: r.get(5)?,
            })
        })?
        .collect();
    items
}

/// Writes positions 0..n in the order of `ids`.
fn renumber(tx: &Transaction<'_>, ids: &[i64]) -> rusqlite::Result<()> {
    let mut set =
        tx.prepare_cached("UPDATE plan_items SET position = ?2 WHERE id = ?1 AND position != ?2")?;
    for (position, id) in ids.iter().enumerate() {
        set.execute(params![id, position as i64])?;
    }
    Ok(())
}

fn load_plan(tx: &Transaction<'_>, id: i64) -> Result<Plan> {
    let head = tx
        .query_row(
            "SELECT id, name, created_at, updated_at FROM plans WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    let (id, name, created_at, updated_at) =
        head.ok_or_else(|| Error::NotFound(format!("no plan {id}")))?;
    Ok(Plan {
        id,
        name,
        items: load_items(tx, id)?,
        created_at,
        updated_at,
    })
}

fn apply(tx: &Transaction<'_>, plan: &Plan, change: PlanChange, now: i64) -> Result<()> {
    let mut order: Vec<i64> = plan.items.iter().map(|i| i.id).collect();
    let find = |item: i64| {
        plan.items
            .iter()
            .find(|i| i.id == item)
            .ok_or_else(|| Error::NotFound(format!("plan {:?} has no item {item}", plan.name)))
    };
    let clamp = |position: i64, len: usize| position.clamp(0, len as i64) as usize;
    match change {
        PlanChange::Rename(name) => {
            let name = plan_name(&name)?;
            tx.execute(
                "UPDATE plans SET name = ?2 WHERE id = ?1",
                params![plan.id, name],
            )
            .map_err(|e| unique(e, &name))?;
        }
        PlanChange::Add(items) => {
            if plan.items.len() + items.len() > MAX_ITEMS {
                return Err(Error::Invalid(format!(
                    "a plan holds at most {MAX_ITEMS} items"
                )));
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO plan_items (plan_id, text, done, position, updated_at) VALUES (?1, ?2, 0, ?3, ?4)",
            )?;
            for item in items {
                let text = item_text(&item.text)?;
                insert.execute(params![plan.id, text, order.len() as i64, now])?;
                let at = item.position.map_or(order.len(), |p| clamp(p, order.len()));
                order.insert(at, tx.last_insert_rowid());
            }
        }
        PlanChange::Edit(item, patch) => {
            let current = find(item)?;
            let text = patch
                .text
                .as_deref()
                .map(item_text)
                .transpose()?
                .unwrap_or_else(|| current.text.clone());
            let done = patch.done.unwrap_or(current.done);
            let done_at = match (done, current.done) {
                (true, false) => Some(now),
                (true, true) => current.done_at,
                (false, _) => None,
            };
            tx.execute(
                "UPDATE plan_items SET text = ?2, done = ?3, done_at = ?4, updated_at = ?5 WHERE id = ?1",
                params![item, text, done, done_at, now],
            )?;
            if let Some(position) = patch.position {
                order.retain(|id| *id != item);
                order.insert(clamp(position, order.len()), item);
            }
        }
        PlanChange::Remove(item) => {
            find(item)?;
            tx.execute("DELETE FROM plan_items WHERE id = ?1", [item])?;
            order.retain(|id| *id != item);
        }
        PlanChange::Clear { done_only } => {
            let gone: Vec<i64> = plan
                .items
                .iter()
                .filter(|i| !done_only || i.done)
                .map(|i| i.id)
                .collect();
            let mut delete = tx.prepare_cached("DELETE FROM plan_items WHERE id = ?1")?;
            for id in &gone {
                delete.execute([id])?;
            }
            order.retain(|id| !gone.contains(id));
        }
    }
    renumber(tx, &order)?;
    tx.execute(
        "UPDATE plans SET updated_at = ?2 WHERE id = ?1",
        params![plan.id, now],
    )?;
    Ok(())
}

fn unique(err: rusqlite::Error, name: &str) -> Error {
    match err {
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::Conflict(format!("a plan named {name:?} exists already"))
        }
        other => other.into(),
    }
}

/// The planner's tables; the only `impl PlanStore`.
pub struct PlanStore {
    db: Database,
}

impl PlanStore {
    pub fn new(db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self { db })
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.conn()
    }

    pub fn plans(&self) -> Result<Vec<Plan>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = tx
            .prepare("SELECT id FROM plans ORDER BY updated_at DESC, id DESC")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut plans = Vec::with_capacity(ids.len());
        for id in ids {
            plans.push(load_plan(&tx, id)?);
        }
        Ok(plans)
    }

    fn plan_id_by_name(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT id FROM plans WHERE name = ?1", [name.trim()], |r| {
                r.get(0)
            })
            .optional()?)
    }
}

/// A plan whose name or one of whose items has every word sought.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMatch {
    pub plan_id: i64,
    pub plan_name: String,
    /// The item that matches (`None`: the name does).
    pub item: Option<(i64, String)>,
    pub updated_at: i64,
}

impl AgentState {
    /// Plans and items with every word of `terms`, newest change first.
    pub fn search_plans(
        &self,
        terms: &stdx::search::Terms,
        limit: usize,
    ) -> Result<Vec<PlanMatch>> {
        let conn = self.plan_db.conn();
        // Prefiltered by the first word in SQL; every word checked here.
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.name, NULL, NULL, p.updated_at FROM plans p WHERE instr(lower(p.name), ?1) > 0
             UNION ALL
             SELECT p.id, p.name, i.id, i.text, i.updated_at FROM plan_items i JOIN plans p ON p.id = i.plan_id
             WHERE instr(lower(i.text), ?1) > 0
             ORDER BY 5 DESC",
        )?;
        let wanted = terms.words().len();
        let mut found = Vec::new();
        let mut rows = stmt.query([&terms.words()[0]])?;
        while let Some(row) = rows.next()? {
            let item: Option<(i64, String)> = match (row.get(2)?, row.get(3)?) {
                (Some(id), Some(text)) => Some((id, text)),
                _ => None,
            };
            let plan_name: String = row.get(1)?;
            let text = item
                .as_ref()
                .map_or(plan_name.as_str(), |(_, t)| t.as_str());
            if terms.count_in(text) == wanted {
                found.push(PlanMatch {
                    plan_id: row.get(0)?,
                    plan_name: plan_name.clone(),
                    item,
                    updated_at: row.get(4)?,
                });
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub fn plans(&self) -> Result<Vec<Plan>> {
        self.plan_db.plans()
    }

    pub fn plan(&self, id: i64) -> Result<Plan> {
        let mut conn = self.plan_db.conn();
        let tx = conn.transaction()?;
        load_plan(&tx, id)
    }

    /// A plan's id by its name (what the agent's tools use).
    pub fn plan_named(&self, name: &str) -> Result<Plan> {
        let id = self
            .plan_db
            .plan_id_by_name(name)?
            .ok_or_else(|| Error::NotFound(format!("no plan named {:?}", name.trim())))?;
        self.plan(id)
    }

    pub fn create_plan(&self, new: NewPlan) -> Result<Plan> {
        let name = plan_name(&new.name)?;
        let now = now_ms();
        let plan = {
            let mut conn = self.plan_db.conn();
            let tx = conn.transaction()?;
            let count: i64 = tx.query_row("SELECT count(*) FROM plans", [], |r| r.get(0))?;
            if count >= MAX_PLANS {
                return Err(Error::Invalid(format!(
                    "at most {MAX_PLANS} plans; delete one first"
                )));
            }
            tx.execute(
                "INSERT INTO plans (name, created_at, updated_at) VALUES (?1, ?2, ?2)",
                params![name, now],
            )
            .map_err(|e| unique(e, &name))?;
            let plan = load_plan(&tx, tx.last_insert_rowid())?;
            let items = new
                .items
                .into_iter()
                .map(|text| NewPlanItem {
                    text,
                    position: None,
                })
                .collect();
            apply(&tx, &plan, PlanChange::Add(items), now)?;
            let plan = load_plan(&tx, plan.id)?;
            tx.commit()?;
            plan
        };
        self.runtime.events().publish(EventKind::PlanChanged {
            plan_id: plan.id,
            plan: Some(plan.clone()),
        });
        Ok(plan)
    }

    pub fn change_plan(&self, id: i64, change: PlanChange) -> Result<Plan> {
        let plan = {
            let mut conn = self.plan_db.conn();
            let tx = conn.transaction()?;
            let plan = load_plan(&tx, id)?;
            apply(&tx, &plan, change, now_ms())?;
            let plan = load_plan(&tx, id)?;
            tx.commit()?;
            plan
        };
        self.runtime.events().publish(EventKind::PlanChanged {
            plan_id: plan.id,
            plan: Some(plan.clone()),
        });
        Ok(plan)
    }

    pub fn delete_plan(&self, id: i64) -> Result<()> {
        let deleted = {
            let mut conn = self.plan_db.conn();
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM plan_items WHERE plan_id = ?1", [id])?;
            let deleted = tx.execute("DELETE FROM plans WHERE id = ?1", [id])?;
            tx.commit()?;
            deleted
        };
        if deleted == 0 {
            return Err(Error::NotFound(format!("no plan {id}")));
        }
        self.runtime.events().publish(EventKind::PlanChanged {
            plan_id: id,
            plan: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(plan: &Plan) -> Vec<(&str, bool, i64)> {
        plan.items
            .iter()
            .map(|i| (i.text.as_str(), i.done, i.position))
            .collect()
    }

    #[test]
    fn changes_keep_positions_dense_and_ordered() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let store = PlanStore::new(Database::open(&dir.path().join("perch.db"))?)?;
        let mut conn = store.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO plans (name, created_at, updated_at) VALUES ('Release', 1, 1)",
            [],
        )?;
        let id = tx.last_insert_rowid();
        let items = ["build", "test", "ship"].map(|t| NewPlanItem {
            text: t.into(),
            position: None,
        });
        apply(
            &tx,
            &load_plan(&tx, id)?,
            PlanChange::Add(items.to_vec()),
            2,
        )?;
        let plan = load_plan(&tx, id)?;
        assert_eq!(
            texts(&plan),
            vec![("build", false, 0), ("test", false, 1), ("ship", false, 2)]
        );

        let ship = plan.items[2].id;
        apply(
            &tx,
            &plan,
            PlanChange::Edit(
                ship,
                PlanItemPatch {
                    position: Some(0),
                    done: Some(true),
                    text: None,
                },
            ),
            3,
        )?;
        let plan = load_plan(&tx, id)?;
        assert_eq!(
            texts(&plan),
            vec![("ship", true, 0), ("build", false, 1), ("test", false, 2)]
        );
        assert_eq!(plan.items[0].done_at, Some(3));

        apply(
            &tx,
            &plan,
            PlanChange::Add(vec![NewPlanItem {
                text: "tag".into(),
                position: Some(1),
            }]),
            4,
        )?;
        apply(
            &tx,
            &load_plan(&tx, id)?,
            PlanChange::Clear { done_only: true },
            5,
        )?;
        let plan = load_plan(&tx, id)?;
        assert_eq!(
            texts(&plan),
            vec![("tag", false, 0), ("build", false, 1), ("test", false, 2)]
        );

        assert!(matches!(
            apply(&tx, &plan, PlanChange::Remove(999), 6),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            apply(&tx, &plan, PlanChange::Rename("  ".into()), 6),
            Err(Error::Invalid(_))
        ));
        tx.execute(
            "INSERT INTO plans (name, created_at, updated_at) VALUES ('Other', 1, 1)",
            [],
        )?;
        assert!(matches!(
            apply(&tx, &plan, PlanChange::Rename("other".into()), 6),
            Err(Error::Conflict(_))
        ));
        Ok(())
    }
}
