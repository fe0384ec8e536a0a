//! The projects the person added (`Runtime::projects` adds what the
//! folders are now: git state, sessions).

use super::Store;
use crate::error::Result;
use rusqlite::{params, OptionalExtension};

/// The core's migration 6.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
);
"#;

/// A project as kept: (id, path, added at).
pub type ProjectRow = (i64, String, i64);

impl Store {
    /// Adds `path` (already validated); the existing row when it is listed.
    /// The flag says whether it is new.
    pub fn add_project(&self, path: &str, at: i64) -> Result<(ProjectRow, bool)> {
        let conn = self.conn();
        let existing = conn
            .query_row(
                "SELECT id, path, added_at FROM projects WHERE path = ?1",
                [path],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some(row) = existing {
            return Ok((row, false));
        }
        conn.execute(
            "INSERT INTO projects (path, added_at) VALUES (?1, ?2)",
            params![path, at],
        )?;
        Ok(((conn.last_insert_rowid(), path.to_string(), at), true))
    }

    /// Projects by path.
    pub fn projects(&self) -> Result<Vec<ProjectRow>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, path, added_at FROM projects ORDER BY path")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether there was such a project. Its sessions stay as they are.
    pub fn remove_project(&self, id: i64) -> Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM projects WHERE id = ?1", [id])?
            == 1)
    }

    /// Sessions (archived too) whose working folder is `path` or in it.
    pub fn count_sessions_in(&self, path: &str) -> Result<usize> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM sessions WHERE cwd = ?1 OR substr(cwd, 1, length(?1) + 1) = ?1 || '/'",
            [path],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }
}
