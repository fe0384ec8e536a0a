//! The core's records in the data dir's database: session metadata,
//! turns' outcomes, approvals and the transcript. Codex keeps the threads
//! themselves; the features (`perch-agent`) keep their own tables through
//! their own stores over the same [`Database`].
//!
//! Invariants: this module is the only `impl Store`; queries are short and
//! hold the connection lock for one statement or one transaction.

mod database;
pub mod doctor;
mod projects;
mod review;
mod transcript;

pub use database::{Database, Schema};
pub use projects::ProjectRow;
pub use review::BaseRow;
pub use transcript::LineMatch;

use crate::error::Result;
use crate::model::{Approval, ApprovalKind, ApprovalStatus, Session, TokenUsage, TurnStatus};
use rusqlite::{params, OptionalExtension, Row};
use std::path::Path;

/// The core's tables.
pub const SCHEMA: Schema = Schema {
    name: "core",
    migrations: &[
        r#"
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    name TEXT,
    preview TEXT NOT NULL DEFAULT '',
    pinned INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    model TEXT,
    effort TEXT,
    cwd TEXT,
    token_usage TEXT
);
CREATE TABLE turns (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX turns_by_status ON turns(status);
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    turn_id TEXT,
    item_id TEXT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answered_at INTEGER,
    answered_by TEXT
);
CREATE INDEX approvals_by_status ON approvals(status);
"#,
        transcript::MIGRATION,
        // 3: sessions whose turns run confined (`Runtime::confine_session`).
        "ALTER TABLE sessions ADD COLUMN confined INTEGER NOT NULL DEFAULT 0;",
        // 4: what in a command is destructive (`command_risk.rs`), as JSON.
        "ALTER TABLE approvals ADD COLUMN dangers TEXT NOT NULL DEFAULT '[]';",
        transcript::SEARCH_MIGRATION,
        projects::MIGRATION,
        // 7: a session's approvals, for its history after a reload.
        "CREATE INDEX approvals_by_session ON approvals(session_id, created_at);",
        review::MIGRATION,
    ],
};

pub struct Store {
    db: Database,
}

/// Which sessions [`Store::sessions`] lists; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    /// Only archived sessions (`true`) or only the others (`false`).
    pub archived: Option<bool>,
    /// Name or preview contains this (case-insensitive).
    pub query: Option<String>,
    /// Working folder is this project or a folder in it.
    pub project: Option<String>,
}

const SESSION_COLUMNS: &str =
    "id, name, preview, pinned, archived, created_at, last_activity_at, model, effort, cwd, token_usage";
const APPROVAL_COLUMNS: &str =
    "id, session_id, turn_id, item_id, kind, title, detail, status, created_at, answered_at, answered_by, dangers";

impl Store {
    /// The core's store in `db`, its tables brought up to date.
    pub fn new(db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self { db })
    }

    /// Opens the database at `path` with the core's tables only (tests).
    pub fn open(path: &Path) -> Result<Self> {
        Self::new(Database::open(path)?)
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.conn()
    }

    // -------------------------------------------------------------- sessions

    pub fn insert_session(&self, session: &Session) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO sessions (id, name, preview, pinned, archived, created_at, last_activity_at, model, effort, cwd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                session.id,
                session.name,
                session.preview,
                session.pinned,
                session.archived,
                session.created_at,
                session.last_activity_at,
                session.model,
                session.effort,
                session.cwd
            ],
        )?;
        Ok(())
    }

    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [id], session_from_row)
            .optional()?)
    }

    /// Pinned first, then the most recently active.
    pub fn sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE (?1 IS NULL OR archived = ?1)
             AND (?2 IS NULL OR instr(lower(coalesce(name, '') || ' ' || preview), lower(?2)) > 0)
             AND (?3 IS NULL OR cwd = ?3 OR substr(cwd, 1, length(?3) + 1) = ?3 || '/')
             ORDER BY pinned DESC, last_activity_at DESC"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![filter.archived, filter.query, filter.project],
            session_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sessions, archived ones too, whose name has every word of `terms`,
    /// newest activity first.
    pub fn search_session_names(
        &self,
        terms: &stdx::search::Terms,
        limit: usize,
    ) -> Result<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE instr(lower(coalesce(name, '')), ?1) > 0
             ORDER BY last_activity_at DESC"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let wanted = terms.words().len();
        let mut found = Vec::new();
        let mut rows = stmt.query([&terms.words()[0]])?;
        while let Some(row) = rows.next()? {
            let session = session_from_row(row)?;
            if terms.count_in(session.name.as_deref().unwrap_or_default()) == wanted {
                found.push(session);
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub fn confine(&self, session_id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE sessions SET confined = 1 WHERE id = ?1",
            [session_id],
        )?;
        Ok(())
    }

    /// Whether any turn of the session was ever recorded.
    pub fn has_turns(&self, session_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM turns WHERE session_id = ?1 LIMIT 1",
                [session_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Moves a session to a new id (its new Codex thread), with every row
    /// that names it, at once.
    pub fn rekey_session(&self, old: &str, new: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("UPDATE sessions SET id = ?2 WHERE id = ?1", [old, new])?;
        for table in ["turns", "approvals", "transcript"] {
            tx.execute(
                &format!("UPDATE {table} SET session_id = ?2 WHERE session_id = ?1"),
                [old, new],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn is_confined(&self, session_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT confined FROM sessions WHERE id = ?1",
                [session_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    pub fn latest_session(&self) -> Result<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE archived = 0 ORDER BY last_activity_at DESC LIMIT 1");
        Ok(self
            .conn()
            .query_row(&sql, [], session_from_row)
            .optional()?)
    }

    pub fn update_session(&self, session: &Session) -> Result<()> {
        self.conn().execute(
            "UPDATE sessions SET name = ?2, preview = ?3, pinned = ?4, archived = ?5, last_activity_at = ?6,
             model = ?7, effort = ?8 WHERE id = ?1",
            params![
                session.id,
                session.name,
                session.preview,
                session.pinned,
                session.archived,
                session.last_activity_at,
                session.model,
                session.effort
            ],
        )?;
        Ok(())
    }

    pub fn set_token_usage(&self, session_id: &str, usage: &TokenUsage) -> Result<()> {
        let json = serde_json::to_string(usage).map_err(|e| {
            crate::Error::Invalid(format!("token usage could not be stored as JSON: {e}"))
        })?;
        self.conn().execute(
            "UPDATE sessions SET token_usage = ?2 WHERE id = ?1",
            params![session_id, json],
        )?;
        Ok(())
    }

    // ----------------------------------------------------------------- turns

    /// Records a turn as running unless it is already known; returns its status.
    pub fn begin_turn(&self, session_id: &str, turn_id: &str, at: i64) -> Result<TurnStatus> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO turns (id, session_id, status, started_at) VALUES (?1, ?2, 'inProgress', ?3)",
            params![turn_id, session_id, at],
        )?;
        let word: String =
            conn.query_row("SELECT status FROM turns WHERE id = ?1", [turn_id], |row| {
                row.get(0)
            })?;
        turn_status(&word)
    }

    /// A recorded turn's status and error, if the turn is known.
    pub fn turn_outcome(&self, turn_id: &str) -> Result<Option<(TurnStatus, Option<String>)>> {
        let row: Option<(String, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT status, error FROM turns WHERE id = ?1",
                [turn_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(word, error)| Ok((turn_status(&word)?, error)))
            .transpose()
    }

    pub fn finish_turn(
        &self,
        session_id: &str,
        turn_id: &str,
        status: TurnStatus,
        error: Option<&str>,
        at: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO turns (id, session_id, status, error, started_at, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(id) DO UPDATE SET status = ?3, error = ?4, completed_at = ?5",
            params![turn_id, session_id, status.as_str(), error, at],
        )?;
        Ok(())
    }

    /// Turns recorded as running: after a crash of Perch or Codex they are not.
    pub fn running_turns(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT session_id, id FROM turns WHERE status = 'inProgress'")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ------------------------------------------------------------- approvals

    pub fn insert_approval(&self, approval: &Approval) -> Result<()> {
        self.conn().execute(
            "INSERT INTO approvals (id, session_id, turn_id, item_id, kind, title, detail, status, created_at, dangers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                approval.id,
                approval.session_id,
                approval.turn_id,
                approval.item_id,
                kind_str(approval.kind),
                approval.title,
                approval.detail,
                approval.status.as_str(),
                approval.created_at,
                serde_json::to_string(&approval.dangers).unwrap_or_else(|_| "[]".into())
            ],
        )?;
        Ok(())
    }

    pub fn approval(&self, id: &str) -> Result<Option<Approval>> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [id], approval_from_row)
            .optional()?)
    }

    pub fn approvals(&self, pending_only: bool) -> Result<Vec<Approval>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE (?1 = 0 OR status = 'pending') ORDER BY created_at DESC LIMIT 500"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([pending_only], approval_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A session's approvals, every status, oldest first (at most 1000).
    pub fn approvals_of_session(&self, session_id: &str) -> Result<Vec<Approval>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE session_id = ?1 ORDER BY created_at LIMIT 1000"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([session_id], approval_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an answer if the approval is still pending; returns whether it was.
    pub fn answer_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        at: i64,
    ) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE approvals SET status = ?2, answered_at = ?3, answered_by = ?4 WHERE id = ?1 AND status = 'pending'",
            params![id, status.as_str(), at, by],
        )?;
        Ok(changed == 1)
    }
}

/// A word in a column that this version does not know (damage, or a newer
/// Perch's data dir): the row's error, never a guess.
pub fn unknown_word(column: usize, what: &str, word: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("{what} {word:?} is not known to this version of Perch").into(),
    )
}

pub fn turn_status(word: &str) -> Result<TurnStatus> {
    TurnStatus::parse(word)
        .ok_or_else(|| crate::Error::UnknownValue(format!("the turn status {word:?}")))
}

fn kind_str(kind: ApprovalKind) -> &'static str {
    match kind {
        ApprovalKind::Command => "command",
        ApprovalKind::FileChange => "fileChange",
        ApprovalKind::McpElicitation => "mcpElicitation",
    }
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    let usage: Option<String> = row.get(10)?;
    Ok(Session {
        id: row.get(0)?,
        name: row.get(1)?,
        preview: row.get(2)?,
        pinned: row.get(3)?,
        archived: row.get(4)?,
        created_at: row.get(5)?,
        last_activity_at: row.get(6)?,
        model: row.get(7)?,
        effort: row.get(8)?,
        cwd: row.get(9)?,
        active_turn_id: None,
        token_usage: usage.and_then(|u| serde_json::from_str(&u).ok()),
    })
}

fn approval_from_row(row: &Row<'_>) -> rusqlite::Result<Approval> {
    let kind: String = row.get(4)?;
    let status: String = row.get(7)?;
    Ok(Approval {
        id: row.get(0)?,
        session_id: row.get(1)?,
        turn_id: row.get(2)?,
        item_id: row.get(3)?,
        kind: match kind.as_str() {
            "command" => ApprovalKind::Command,
            "fileChange" => ApprovalKind::FileChange,
            "mcpElicitation" => ApprovalKind::McpElicitation,
            other => return Err(unknown_word(4, "the approval kind", other)),
        },
        title: row.get(5)?,
        detail: row.get(6)?,
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| unknown_word(7, "the approval status", &status))?,
        created_at: row.get(8)?,
        answered_at: row.get(9)?,
        answered_by: row.get(10)?,
        dangers: serde_json::from_str(&row.get::<_, String>(11)?).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, activity: i64) -> Session {
        Session {
            id: id.into(),
            name: None,
            preview: format!("preview of {id}"),
            pinned: false,
            archived: false,
            created_at: 1,
            last_activity_at: activity,
            model: None,
            effort: None,
            cwd: None,
            active_turn_id: None,
            token_usage: None,
        }
    }

    #[test]
    fn sessions_sort_pinned_first_then_recent_and_search() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        store.insert_session(&session("a", 10))?;
        store.insert_session(&session("b", 30))?;
        let mut c = session("c", 20);
        c.pinned = true;
        c.name = Some("Release Notes".into());
        store.insert_session(&c)?;
        let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let live = |query: Option<&str>| SessionFilter {
            archived: Some(false),
            query: query.map(String::from),
            project: None,
        };
        assert_eq!(ids(store.sessions(&live(None))?), ["c", "b", "a"]);
        assert_eq!(ids(store.sessions(&live(Some("release")))?), ["c"]);
        assert_eq!(ids(store.sessions(&live(Some("of a")))?), ["a"]);
        let archived = SessionFilter {
            archived: Some(true),
            ..SessionFilter::default()
        };
        assert_eq!(ids(store.sessions(&archived)?), Vec::<String>::new());
        // Reopening keeps the data and does not re-run migrations.
        drop(store);
        let store = Store::open(&dir.path().join("perch.db"))?;
        assert_eq!(store.sessions(&SessionFilter::default())?.len(), 3);
        Ok(())
    }

    #[test]
    fn search_finds_the_person_and_the_agent_not_tools_nor_forgotten_turns() -> Result<()> {
        use crate::transcript::{Role, TranscriptLine};
        use stdx::search::Terms;
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        let mut s = session("s", 10);
        s.name = Some("Parser work".into());
        s.archived = true;
        s.cwd = Some("/home/ada/parser".into());
        store.insert_session(&s)?;
        store.insert_session(&session("other", 20))?;
        let line = |turn: &str, item: &str, role, text: &str| TranscriptLine {
            turn_id: turn.into(),
            item_id: item.into(),
            role,
            text: text.into(),
            at: 1,
        };
        store.record_line(
            "s",
            &line("t1", "a", Role::User, "Why does the parser crash?"),
        )?;
        store.record_line(
            "s",
            &line("t1", "b", Role::Assistant, "A null pointer in the lexer."),
        )?;
        store.record_line("s", &line("t1", "c", Role::Tool, "ran: grep lexer src/"))?;
        store.record_line("s", &line("t2", "d", Role::User, "Fix the lexer then"))?;
        let found = |q: &str| -> Result<Vec<String>> {
            Ok(store
                .search_transcript(&Terms::parse(q).unwrap_or_else(|| unreachable!()), 10)?
                .into_iter()
                .map(|m| m.line.item_id)
                .collect())
        };
        assert_eq!(
            found("lexer")?,
            ["d", "b"],
            "newest first; the tool line is not indexed"
        );
        assert_eq!(found("LEX point")?, ["b"]);
        let hit = store
            .search_transcript(&Terms::parse("crash").unwrap_or_else(|| unreachable!()), 10)?;
        assert_eq!(
            (hit[0].session_name.as_deref(), hit[0].archived),
            (Some("Parser work"), true)
        );
        store.forget_turns("s", &["t2".to_string()])?;
        assert_eq!(found("lexer")?, ["b"]);
        let names = store
            .search_session_names(&Terms::parse("pars").unwrap_or_else(|| unreachable!()), 10)?;
        assert_eq!(names.len(), 1);
        // A project filter takes the folder and the folders in it, not a
        // folder that only starts with the same letters.
        let in_project = |p: &str| -> Result<usize> {
            Ok(store
                .sessions(&SessionFilter {
                    project: Some(p.into()),
                    ..SessionFilter::default()
                })?
                .len())
        };
        assert_eq!(in_project("/home/ada/parser")?, 1);
        assert_eq!(in_project("/home/ada")?, 1);
        assert_eq!(in_project("/home/ada/pars")?, 0);
        Ok(())
    }

    #[test]
    fn a_word_this_version_does_not_know_is_an_error_not_a_guess() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        store.conn().execute_batch(
            "INSERT INTO approvals (id, session_id, kind, title, status, created_at)
             VALUES ('ap1', 's', 'command', 'Run ls', 'approvedByAFutureVersion', 1);
             INSERT INTO turns (id, session_id, status, started_at) VALUES ('t1', 's', 'paused', 1);",
        )?;
        let approvals = store.approvals(false).map_err(|e| e.to_string());
        assert!(
            approvals
                .as_ref()
                .is_err_and(|e| e.contains("\"approvedByAFutureVersion\" is not known")),
            "{approvals:?}"
        );
        let turn = store.turn_outcome("t1").map_err(|e| e.to_string());
        assert!(
            turn.as_ref().is_err_and(|e| e.contains("\"paused\"")),
            "{turn:?}"
        );
        Ok(())
    }

    #[test]
    fn an_approval_is_answered_once() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        let approval = Approval {
            id: "ap1".into(),
            session_id: "s".into(),
            turn_id: Some("t".into()),
            item_id: None,
            kind: ApprovalKind::FileChange,
            title: "Edit files".into(),
            detail: None,
            status: ApprovalStatus::Pending,
            created_at: 5,
            answered_at: None,
            answered_by: None,
            dangers: vec!["deletes files and folders recursively (rm -r)".into()],
        };
        store.insert_approval(&approval)?;
        assert_eq!(store.approvals(true)?, vec![approval]);
        assert!(store.answer_approval("ap1", ApprovalStatus::Decline, "person", 9)?);
        assert!(!store.answer_approval("ap1", ApprovalStatus::Accept, "person", 10)?);
        let stored = store.approval("ap1")?;
        assert_eq!(
            stored.as_ref().map(|a| a.status),
            Some(ApprovalStatus::Decline)
        );
        assert_eq!(
            stored.and_then(|a| a.answered_by).as_deref(),
            Some("person")
        );
        assert!(store.approvals(true)?.is_empty());
        Ok(())
    }

    #[test]
    fn turns_keep_their_final_status() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        assert_eq!(store.begin_turn("s", "t1", 1)?, TurnStatus::InProgress);
        store.finish_turn("s", "t1", TurnStatus::Completed, None, 2)?;
        // A late begin (response processed after completion) does not revive it.
        assert_eq!(store.begin_turn("s", "t1", 3)?, TurnStatus::Completed);
        assert_eq!(store.begin_turn("s", "t2", 3)?, TurnStatus::InProgress);
        assert_eq!(
            store.running_turns()?,
            vec![("s".to_string(), "t2".to_string())]
        );
        Ok(())
    }
}
