//! Wakeups: prompts Perch sends to the agent on a schedule, with a run log.
//!
//! Invariants:
//! - An occurrence is claimed by one conditional UPDATE of `next_fire_at`
//!   (from the scheduled time to the next one) and its run row is inserted
//!   in the same transaction; `UNIQUE(wakeup_id, scheduled_at)` makes a
//!   second run of one occurrence impossible, whoever tries.
//! - Every occurrence gets a run row, skipped and missed ones too.
//! - A run claimed but never started (Perch died in between) is started at
//!   the next start; a run whose turn was running then is closed from the
//!   turn's recorded outcome. So restarts neither lose nor double runs.
//! - One scheduler per data dir (`scheduler.rs`, an OS file lock).

pub mod schedule;
pub(crate) mod scheduler;

use crate::AgentState;
pub use perch_protocol::wakeups::{
    CreatedBy, Misfire, NewWakeup, RunStatus, Target, Wakeup, WakeupPatch, WakeupRun,
};
use perch_runtime::model::EventKind;
use perch_runtime::seams::{TurnEnded, TurnObserver};
use perch_runtime::store::{Database, Schema};
use perch_runtime::{Error, Result, Runtime};
use rusqlite::{params, OptionalExtension, Row};
pub use schedule::{MillisOrText, NewSchedule, Schedule, ScheduleExt};
use serde::Serialize;
use stdx::now_ms;

pub(crate) const SCHEMA: Schema = Schema {
    name: "wakeups",
    migrations: &[MIGRATION, STABLE_IDS_MIGRATION],
};

/// The wakeups' migration 1 (version 4 before issue 13).
const MIGRATION: &str = r#"
CREATE TABLE wakeups (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    prompt TEXT NOT NULL,
    schedule TEXT NOT NULL,
    target TEXT NOT NULL,
    misfire TEXT NOT NULL,
    grace_ms INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    notify INTEGER NOT NULL,
    next_fire_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX wakeups_by_next ON wakeups(next_fire_at);
CREATE TABLE wakeup_runs (
    id INTEGER PRIMARY KEY,
    wakeup_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,
    fired_at INTEGER,
    status TEXT NOT NULL,
    session_id TEXT,
    turn_id TEXT,
    summary TEXT,
    finished_at INTEGER,
    manual INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX wakeup_runs_once ON wakeup_runs(wakeup_id, scheduled_at) WHERE manual = 0;
CREATE INDEX wakeup_runs_by_turn ON wakeup_runs(turn_id);
CREATE INDEX wakeup_runs_by_status ON wakeup_runs(status);
"#;

/// The wakeups' migration 2: wakeup and run ids are never given again.
/// Without `AUTOINCREMENT` SQLite reuses the highest id after a delete: a
/// new wakeup would inherit a deleted one's runs (and its claimed
/// occurrences). Rebuilt with every row.
const STABLE_IDS_MIGRATION: &str = r#"
CREATE TABLE wakeups_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    prompt TEXT NOT NULL,
    schedule TEXT NOT NULL,
    target TEXT NOT NULL,
    misfire TEXT NOT NULL,
    grace_ms INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    notify INTEGER NOT NULL,
    next_fire_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO wakeups_new (id, label, prompt, schedule, target, misfire, grace_ms, enabled, notify, next_fire_at, created_by, created_at, updated_at)
    SELECT id, label, prompt, schedule, target, misfire, grace_ms, enabled, notify, next_fire_at, created_by, created_at, updated_at FROM wakeups;
DROP TABLE wakeups;
ALTER TABLE wakeups_new RENAME TO wakeups;
CREATE INDEX wakeups_by_next ON wakeups(next_fire_at);
CREATE TABLE wakeup_runs_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wakeup_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,
    fired_at INTEGER,
    status TEXT NOT NULL,
    session_id TEXT,
    turn_id TEXT,
    summary TEXT,
    finished_at INTEGER,
    manual INTEGER NOT NULL DEFAULT 0
);
INSERT INTO wakeup_runs_new (id, wakeup_id, label, scheduled_at, fired_at, status, session_id, turn_id, summary, finished_at, manual)
    SELECT id, wakeup_id, label, scheduled_at, fired_at, status, session_id, turn_id, summary, finished_at, manual FROM wakeup_runs;
DROP TABLE wakeup_runs;
ALTER TABLE wakeup_runs_new RENAME TO wakeup_runs;
CREATE UNIQUE INDEX wakeup_runs_once ON wakeup_runs(wakeup_id, scheduled_at) WHERE manual = 0;
CREATE INDEX wakeup_runs_by_turn ON wakeup_runs(turn_id);
CREATE INDEX wakeup_runs_by_status ON wakeup_runs(status);
"#;

const MAX_PROMPT_CHARS: usize = 20_000;
const MAX_LABEL_CHARS: usize = 80;
const MAX_GRACE_MS: i64 = 7 * 86_400_000;
const MAX_WAKEUPS: i64 = 500;
pub const DEFAULT_GRACE_MS: i64 = 3_600_000;

fn prompt_text(prompt: &str) -> Result<String> {
    let prompt = prompt.trim();
    if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::Invalid(format!(
            "a wakeup's prompt is 1 to {MAX_PROMPT_CHARS} characters"
        )));
    }
    Ok(prompt.to_string())
}

fn label_text(label: Option<&str>, prompt: &str) -> Result<String> {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(label)
            if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) =>
        {
            Err(Error::Invalid(format!(
                "a label is at most {MAX_LABEL_CHARS} characters on one line"
            )))
        }
        Some(label) => Ok(label.to_string()),
        None => {
            let first_line = prompt.lines().next().unwrap_or_default();
            let short: String = first_line.chars().take(48).collect();
            Ok(if short.len() < first_line.len() {
                format!("{short}…")
            } else {
                short
            })
        }
    }
}

fn grace(ms: Option<i64>) -> Result<i64> {
    match ms {
        None => Ok(DEFAULT_GRACE_MS),
        Some(ms) if (0..=MAX_GRACE_MS).contains(&ms) => Ok(ms),
        Some(ms) => Err(Error::Invalid(format!(
            "graceMs {ms} is not between 0 and {MAX_GRACE_MS} (7 days)"
        ))),
    }
}

const WAKEUP_COLUMNS: &str = "id, label, prompt, schedule, target, misfire, grace_ms, enabled, notify, next_fire_at, created_by, created_at, updated_at";
const RUN_COLUMNS: &str = "id, wakeup_id, label, scheduled_at, fired_at, status, session_id, turn_id, summary, finished_at";

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn wakeup_from_row(row: &Row<'_>) -> rusqlite::Result<Wakeup> {
    Ok(Wakeup {
        id: row.get(0)?,
        label: row.get(1)?,
        prompt: row.get(2)?,
        schedule: json_column(row, 3)?,
        target: json_column(row, 4)?,
        misfire: serde_json::from_value(serde_json::Value::String(row.get(5)?))
            .unwrap_or(Misfire::Once),
        grace_ms: row.get(6)?,
        enabled: row.get(7)?,
        notify: row.get(8)?,
        next_fire_at: row.get(9)?,
        created_by: if row.get::<_, String>(10)? == "peer" {
            CreatedBy::Peer
        } else if row.get::<_, String>(10)? == "agent" {
            CreatedBy::Agent
        } else {
            CreatedBy::Person
        },
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
        last_run: None,
    })
}

pub(crate) fn run_from_row(row: &Row<'_>) -> rusqlite::Result<WakeupRun> {
    Ok(WakeupRun {
        id: row.get(0)?,
        wakeup_id: row.get(1)?,
        label: row.get(2)?,
        scheduled_at: row.get(3)?,
        fired_at: row.get(4)?,
        status: {
            let word: String = row.get(5)?;
            RunStatus::parse(&word).ok_or_else(|| {
                perch_runtime::store::unknown_word(5, "the wakeup run status", &word)
            })?
        },
        session_id: row.get(6)?,
        turn_id: row.get(7)?,
        summary: row.get(8)?,
        finished_at: row.get(9)?,
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Invalid(format!("the wakeup could not be stored as JSON: {e}")))
}

fn misfire_str(m: Misfire) -> &'static str {
    match m {
        Misfire::Skip => "skip",
        Misfire::Once => "once",
        Misfire::Ask => "ask",
    }
}

/// The wakeups' tables and run log (claims: `scheduler.rs`).
pub struct WakeupStore {
    db: Database,
}

impl WakeupStore {
    pub fn new(db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self { db })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.conn()
    }

    pub fn wakeup(&self, id: i64) -> Result<Option<Wakeup>> {
        let conn = self.conn();
        let sql = format!("SELECT {WAKEUP_COLUMNS} FROM wakeups WHERE id = ?1");
        let Some(mut wakeup) = conn.query_row(&sql, [id], wakeup_from_row).optional()? else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM wakeup_runs WHERE wakeup_id = ?1 ORDER BY id DESC LIMIT 1"
        );
        wakeup.last_run = conn.query_row(&sql, [id], run_from_row).optional()?;
        Ok(Some(wakeup))
    }

    /// Enabled first, soonest first.
    pub fn wakeups(&self) -> Result<Vec<Wakeup>> {
        let ids: Vec<i64> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT id FROM wakeups ORDER BY enabled DESC, next_fire_at IS NULL, next_fire_at, id",
            )?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids
        };
        ids.into_iter()
            .filter_map(|id| self.wakeup(id).transpose())
            .collect()
    }

    pub(crate) fn save_wakeup(&self, w: &Wakeup) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO wakeups (id, label, prompt, schedule, target, misfire, grace_ms, enabled, notify, next_fire_at, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT(id) DO UPDATE SET label = ?2, prompt = ?3, schedule = ?4, target = ?5, misfire = ?6, grace_ms = ?7,
               enabled = ?8, notify = ?9, next_fire_at = ?10, updated_at = ?13",
            params![
                (w.id > 0).then_some(w.id),
                w.label,
                w.prompt,
                to_json(&w.schedule)?,
                to_json(&w.target)?,
                misfire_str(w.misfire),
                w.grace_ms,
                w.enabled,
                w.notify,
                w.next_fire_at,
                match w.created_by {
                    CreatedBy::Agent => "agent",
                    CreatedBy::Peer => "peer",
                    CreatedBy::Person => "person",
                },
                w.created_at,
                w.updated_at
            ],
        )?;
        Ok(if w.id > 0 {
            w.id
        } else {
            conn.last_insert_rowid()
        })
    }

    pub fn wakeup_run(&self, id: i64) -> Result<Option<WakeupRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM wakeup_runs WHERE id = ?1");
        Ok(self.conn().query_row(&sql, [id], run_from_row).optional()?)
    }

    pub fn wakeup_runs(&self, wakeup_id: Option<i64>, limit: usize) -> Result<Vec<WakeupRun>> {
        let conn = self.conn();
        let sql = format!("SELECT {RUN_COLUMNS} FROM wakeup_runs WHERE (?1 IS NULL OR wakeup_id = ?1) ORDER BY id DESC LIMIT ?2");
        let mut stmt = conn.prepare_cached(&sql)?;
        let runs = stmt
            .query_map(params![wakeup_id, limit as i64], run_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(runs)
    }

    pub(crate) fn is_wakeup_turn(&self, turn_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM wakeup_runs WHERE turn_id = ?1 LIMIT 1")?
            .exists([turn_id])?)
    }

    /// Moves a run to `status`; `only_from` guards against a stale update.
    pub(crate) fn set_run_status(
        &self,
        id: i64,
        status: RunStatus,
        only_from: &[RunStatus],
        summary: Option<&str>,
        at: i64,
    ) -> Result<Option<WakeupRun>> {
        let conn = self.conn();
        let from: Vec<&str> = only_from.iter().map(|s| s.as_str()).collect();
        let current: Option<String> = conn
            .query_row("SELECT status FROM wakeup_runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match current {
            Some(current) if from.is_empty() || from.contains(&current.as_str()) => {}
            _ => return Ok(None),
        }
        let finished = status.is_final().then_some(at);
        conn.execute(
            "UPDATE wakeup_runs SET status = ?2, summary = coalesce(?3, summary), finished_at = coalesce(?4, finished_at) WHERE id = ?1",
            params![id, status.as_str(), summary, finished],
        )?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM wakeup_runs WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], run_from_row).optional()?)
    }
}

impl AgentState {
    pub fn wakeups(&self) -> Result<Vec<Wakeup>> {
        self.wakeup_db.wakeups()
    }

    pub fn wakeup(&self, id: i64) -> Result<Wakeup> {
        self.wakeup_db
            .wakeup(id)?
            .ok_or_else(|| Error::NotFound(format!("no wakeup {id}")))
    }

    pub fn wakeup_runs(&self, wakeup_id: Option<i64>, limit: usize) -> Result<Vec<WakeupRun>> {
        self.wakeup_db.wakeup_runs(wakeup_id, limit.clamp(1, 1000))
    }

    /// Whether a wakeup started this turn (its run log speaks for it).
    pub fn is_wakeup_turn(&self, turn_id: &str) -> bool {
        self.wakeup_db.is_wakeup_turn(turn_id).unwrap_or(false)
    }

    fn check_target(&self, target: &Target) -> Result<()> {
        match target {
            Target::Session { session_id } => {
                let session = self.runtime.session(session_id)?;
                if session.archived {
                    return Err(Error::Invalid(format!("session {session_id} is archived")));
                }
            }
            Target::New { cwd: Some(cwd) } if !std::path::Path::new(cwd).is_dir() => {
                return Err(Error::Invalid(format!(
                    "the folder {cwd} does not exist; pick a project folder that does"
                )));
            }
            _ => {}
        }
        Ok(())
    }

    pub fn create_wakeup(&self, new: NewWakeup, created_by: CreatedBy) -> Result<Wakeup> {
        let now = now_ms();
        let prompt = prompt_text(&new.prompt)?;
        let schedule = schedule::resolve(new.schedule, now)?;
        let next_fire_at = schedule.first_from(now);
        if next_fire_at.is_none() {
            return Err(Error::Invalid(format!(
                "{} has passed; pick a time in the future",
                schedule.describe()
            )));
        }
        let target = new.target.unwrap_or(Target::New { cwd: None });
        self.check_target(&target)?;
        let count: i64 =
            self.wakeup_db
                .conn()
                .query_row("SELECT count(*) FROM wakeups", [], |r| r.get(0))?;
        if count >= MAX_WAKEUPS {
            return Err(Error::Invalid(format!(
                "at most {MAX_WAKEUPS} wakeups; delete some first"
            )));
        }
        let mut wakeup = Wakeup {
            id: 0,
            label: label_text(new.label.as_deref(), &prompt)?,
            prompt,
            schedule,
            target,
            misfire: new.misfire.unwrap_or(Misfire::Once),
            grace_ms: grace(new.grace_ms)?,
            enabled: true,
            notify: new.notify.unwrap_or(true),
            next_fire_at,
            created_by,
            created_at: now,
            updated_at: now,
            last_run: None,
        };
        wakeup.id = self.wakeup_db.save_wakeup(&wakeup)?;
        self.wakeup_saved(wakeup.id)
    }

    pub fn update_wakeup(&self, id: i64, patch: WakeupPatch) -> Result<Wakeup> {
        let mut w = self.wakeup(id)?;
        let now = now_ms();
        if let Some(prompt) = patch.prompt {
            w.prompt = prompt_text(&prompt)?;
        }
        if let Some(label) = patch.label {
            w.label = label_text(Some(&label), &w.prompt)?;
        }
        if let Some(target) = patch.target {
            self.check_target(&target)?;
            w.target = target;
        }
        w.misfire = patch.misfire.unwrap_or(w.misfire);
        w.grace_ms = if patch.grace_ms.is_some() {
            grace(patch.grace_ms)?
        } else {
            w.grace_ms
        };
        w.notify = patch.notify.unwrap_or(w.notify);
        let rescheduled = patch.schedule.is_some();
        if let Some(new) = patch.schedule {
            w.schedule = schedule::resolve(new, now)?;
        }
        let resumed = patch.enabled == Some(true) && !w.enabled;
        w.enabled = patch.enabled.unwrap_or(w.enabled);
        // Paused: no next time. Resumed or rescheduled: the next one from now
        // (occurrences while paused are not owed).
        if !w.enabled {
            w.next_fire_at = None;
        } else if rescheduled || resumed {
            w.next_fire_at = w.schedule.first_from(now);
            if w.next_fire_at.is_none() {
                return Err(Error::Invalid(format!(
                    "{} has passed; pick a time in the future",
                    w.schedule.describe()
                )));
            }
        }
        w.updated_at = now;
        self.wakeup_db.save_wakeup(&w)?;
        self.wakeup_saved(id)
    }

    pub fn delete_wakeup(&self, id: i64) -> Result<()> {
        if self
            .wakeup_db
            .conn()
            .execute("DELETE FROM wakeups WHERE id = ?1", [id])?
            == 0
        {
            return Err(Error::NotFound(format!("no wakeup {id}")));
        }
        self.scheduler_wake.notify_one();
        self.runtime.events().publish(EventKind::WakeupChanged {
            wakeup_id: id,
            wakeup: None,
        });
        Ok(())
    }

    fn wakeup_saved(&self, id: i64) -> Result<Wakeup> {
        let wakeup = self.wakeup(id)?;
        self.scheduler_wake.notify_one();
        self.runtime.events().publish(EventKind::WakeupChanged {
            wakeup_id: id,
            wakeup: Some(Box::new(wakeup.clone())),
        });
        Ok(wakeup)
    }

    pub(crate) fn publish_run(&self, run: &WakeupRun) {
        let notify = self
            .wakeup_db
            .wakeup(run.wakeup_id)
            .ok()
            .flatten()
            .is_none_or(|w| w.notify);
        self.runtime.events().publish(EventKind::WakeupRun {
            run: run.clone(),
            notify,
        });
    }
}

/// A wakeup's run ends with the turn that carried it.
pub(crate) struct RunsFollowTurns(pub std::sync::Weak<AgentState>);

impl TurnObserver for RunsFollowTurns {
    fn turn_ended(&self, _: &Runtime, ended: &TurnEnded<'_>) {
        if let Some(agent) = self.0.upgrade() {
            agent.finish_wakeup_runs(ended.turn_id, ended.status, ended.error, ended.agent_text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_default_to_the_prompts_first_line() {
        assert_eq!(
            label_text(None, "Check the build\nthen report")
                .ok()
                .as_deref(),
            Some("Check the build")
        );
        let long = "x".repeat(60);
        assert_eq!(
            label_text(None, &long).ok().map(|l| l.chars().count()),
            Some(49)
        );
        assert!(label_text(Some("two\nlines"), "p").is_err());
        assert!(grace(Some(-1)).is_err());
        assert!(prompt_text("  ").is_err());
    }

    #[test]
    fn new_schedules_take_milliseconds_or_text() {
        let parse =
            |json: &str| serde_json::from_str::<NewSchedule>(json).map_err(|e| e.to_string());
        assert_eq!(
            parse(r#"{"kind":"at","at":1000}"#),
            Ok(NewSchedule::At {
                at: MillisOrText::Millis(1000)
            })
        );
        assert_eq!(
            parse(r#"{"kind":"every","every":"15m"}"#),
            Ok(NewSchedule::Every {
                every: MillisOrText::Text("15m".into()),
                anchor: None
            })
        );
        for bad in [
            r#"{"kind":"at","at":true}"#,
            r#"{"kind":"at","at":1.5}"#,
            r#"{"kind":"every","every":18446744073709551615}"#,
        ] {
            let err = parse(bad).err().unwrap_or_default();
            assert!(err.contains("milliseconds or text"), "{bad}: {err}");
        }
        assert!(parse(r#"{"kind":"in","delay":"1h","x":1}"#).is_err());
        // What a client sends back omits what it did not set.
        let new = NewWakeup {
            prompt: "p".into(),
            label: None,
            schedule: NewSchedule::Cron {
                expr: "0 9 * * *".into(),
                tz: None,
            },
            target: None,
            misfire: None,
            grace_ms: None,
            notify: None,
        };
        assert_eq!(
            serde_json::to_string(&new).ok().as_deref(),
            Some(r#"{"prompt":"p","schedule":{"kind":"cron","expr":"0 9 * * *"}}"#)
        );
    }

    #[test]
    fn targets_and_policies_have_stable_wire_names() {
        let target: Target = serde_json::from_str(r#"{"kind":"session","sessionId":"thr_1"}"#)
            .unwrap_or(Target::New { cwd: None });
        assert_eq!(
            target,
            Target::Session {
                session_id: "thr_1".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Target::Peer).ok().as_deref(),
            Some(r#"{"kind":"peer"}"#)
        );
        assert_eq!(
            serde_json::to_string(&Misfire::Ask).ok().as_deref(),
            Some(r#""ask""#)
        );
        assert_eq!(
            serde_json::to_string(&Schedule::Every {
                every_ms: 60_000,
                anchor: 5
            })
            .ok()
            .as_deref(),
            Some(r#"{"kind":"every","everyMs":60000,"anchor":5}"#)
        );
    }
}
