//! Checking a damaged database and making a repaired copy (`perch doctor`).
//! Works on any of Perch's SQLite files (perch.db, relay.db, peer.db).

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// What `PRAGMA integrity_check` says of a database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Ok,
    /// The first problems SQLite names (or why it could not read the file).
    Damaged(Vec<String>),
}

/// Reads the whole file; never writes to it.
pub fn check(path: &Path) -> Checked {
    let read = || -> rusqlite::Result<Vec<String>> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    };
    match read() {
        Ok(lines) if lines == ["ok"] => Checked::Ok,
        Ok(lines) => Checked::Damaged(lines),
        Err(err) => Checked::Damaged(vec![err.to_string()]),
    }
}

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Where the damaged file (and its `-wal`/`-shm`) went.
    pub backup: PathBuf,
    /// Whether a copy of what SQLite could still read replaced it; `false`:
    /// nothing could be read, and Perch starts that database empty.
    pub rebuilt: bool,
}

/// Moves the damaged file aside (`<name>.damaged-<stamp>`), then writes
/// what SQLite can still read of it to the original path (`VACUUM INTO`).
/// Perch must not be running.
pub fn repair(path: &Path, stamp: &str) -> Result<Repaired> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let backup = path.with_file_name(format!("{name}.damaged-{stamp}"));
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to)
            .map_err(|e| Error::io(format!("moving {} to {}", from.display(), to.display()), e))
    };
    moved(path, &backup)?;
    for side in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{side}", path.display()));
        if from.exists() {
            moved(&from, &PathBuf::from(format!("{}{side}", backup.display())))?;
        }
    }
    let rebuilt = Connection::open(&backup)
        .and_then(|conn| conn.execute("VACUUM INTO ?1", [path.display().to_string()]))
        .is_ok();
    if !rebuilt {
        // A partial copy is worse than none: Perch starts it empty.
        let _ = std::fs::remove_file(path);
    }
    Ok(Repaired { backup, rebuilt })
}

/// The error for a database that cannot be read: which file, and what to do.
pub(crate) fn damaged(path: &Path, err: &rusqlite::Error) -> Option<Error> {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match err.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => Some(Error::Damaged {
            path: path.display().to_string(),
            detail: err.to_string(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_file_is_named_moved_aside_and_replaced() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let good = dir.path().join("good.db");
        Connection::open(&good)?.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")?;
        assert_eq!(check(&good), Checked::Ok);

        let bad = dir.path().join("perch.db");
        std::fs::write(
            &bad,
            b"this is not a database, it is a shopping list, ".repeat(200),
        )
        .map_err(|e| Error::io("writing", e))?;
        assert!(matches!(check(&bad), Checked::Damaged(_)));
        let opened = crate::store::Database::open(&bad)
            .err()
            .map(|e| e.to_string());
        assert!(
            opened
                .as_deref()
                .is_some_and(|m| m.contains("perch.db is damaged") && m.contains("perch doctor")),
            "{opened:?}"
        );
        let repaired = repair(&bad, "test")?;
        assert!(repaired.backup.ends_with("perch.db.damaged-test"));
        assert!(repaired.backup.exists());
        assert!(
            !repaired.rebuilt,
            "nothing of a shopping list is a database"
        );
        assert!(!bad.exists(), "Perch starts it empty");
        Ok(())
    }
}
