//! What a session changed, for its review (`Runtime::review`): the files
//! (with Codex's diffs, for folders without git) and the git commit that
//! was checked out before its first change.

use super::Store;
use crate::error::Result;
use rusqlite::{params, OptionalExtension};

/// The core's migration 8.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE review_bases (
    session_id TEXT PRIMARY KEY,
    -- NULL: the folder was not in a git repository; `reason` says so.
    git_root TEXT,
    commit_id TEXT,
    summary TEXT,
    reason TEXT,
    at INTEGER NOT NULL
);
CREATE TABLE changed_files (
    session_id TEXT NOT NULL,
    path TEXT NOT NULL,
    -- Codex's diffs of the changes applied, oldest first.
    diffs TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    PRIMARY KEY (session_id, path)
);
"#;

/// What a session's review compares with, as recorded before its first change.
#[derive(Debug, Clone, PartialEq)]
pub enum BaseRow {
    Git {
        root: String,
        commit: String,
        summary: String,
    },
    NoGit {
        reason: String,
    },
}

impl Store {
    /// Records the base unless the session has one (the first change wins).
    pub fn keep_review_base(&self, session_id: &str, base: &BaseRow, at: i64) -> Result<()> {
        let (root, commit, summary, reason) = match base {
            BaseRow::Git {
                root,
                commit,
                summary,
            } => (
                Some(root.as_str()),
                Some(commit.as_str()),
                Some(summary.as_str()),
                None,
            ),
            BaseRow::NoGit { reason } => (None, None, None, Some(reason.as_str())),
        };
        self.conn().execute(
            "INSERT OR IGNORE INTO review_bases (session_id, git_root, commit_id, summary, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![session_id, root, commit, summary, reason, at],
        )?;
        Ok(())
    }

    pub fn has_review_base(&self, session_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM review_bases WHERE session_id = ?1",
                [session_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn review_base(&self, session_id: &str) -> Result<Option<BaseRow>> {
        let row = self
            .conn()
            .query_row(
                "SELECT git_root, commit_id, summary, reason FROM review_bases WHERE session_id = ?1",
                [session_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(
            row.map(|(root, commit, summary, reason)| match (root, commit) {
                (Some(root), Some(commit)) => BaseRow::Git {
                    root,
                    commit,
                    summary: summary.unwrap_or_default(),
                },
                _ => BaseRow::NoGit {
                    reason: reason.unwrap_or_default(),
                },
            }),
        )
    }

    /// Adds an applied change of `path` (absolute) to the session's files.
    pub fn add_changed_file(
        &self,
        session_id: &str,
        path: &str,
        diff: &str,
        at: i64,
    ) -> Result<()> {
        let mut diff = diff.to_string();
        if !diff.is_empty() && !diff.ends_with('\n') {
            diff.push('\n');
        }
        self.conn().execute(
            "INSERT INTO changed_files (session_id, path, diffs, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session_id, path) DO UPDATE SET diffs = diffs || excluded.diffs",
            params![session_id, path, diff, at],
        )?;
        Ok(())
    }

    /// The session's changed files (absolute paths) with Codex's diffs, by path.
    pub fn changed_files(&self, session_id: &str) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT path, diffs FROM changed_files WHERE session_id = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
