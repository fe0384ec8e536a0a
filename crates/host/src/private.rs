//! Perch's files are the person's alone: the data dir and every folder in
//! it 0700, the files in it and in its `logs/` 0600 (on Windows: a
//! protected ACL for the user, SYSTEM and Administrators; `stdx::private`). Applied when Perch
//! starts, so a data dir made by an earlier Perch (0755 and 0644) is fixed
//! too, and the log says what changed. SQLite gives a database's `-wal`
//! and `-shm` files the database's own mode. Perch never changes the person's
//! own `~/.codex`.

use std::path::Path;
use stdx::private::Kind;

/// Creates `data_dir` if needed and makes it and what Perch keeps in it
/// private; returns how many modes it changed.
pub fn make_private(data_dir: &Path) -> std::io::Result<usize> {
    stdx::private::create_dir(data_dir)?;
    let mut changed = restrict(data_dir, Kind::Dir)?;
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            changed += restrict(&entry.path(), Kind::Dir)?;
            if entry.file_name() == "logs" {
                for log in std::fs::read_dir(entry.path())? {
                    let log = log?;
                    if log.file_type()?.is_file() {
                        changed += restrict(&log.path(), Kind::File)?;
                    }
                }
            }
        } else if kind.is_file() {
            changed += restrict(&entry.path(), Kind::File)?;
        }
    }
    Ok(changed)
}

/// 1 when `path` had to be made private.
fn restrict(path: &Path, kind: Kind) -> std::io::Result<usize> {
    stdx::private::restrict(path, kind).map(usize::from)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn an_earlier_data_dir_is_made_private_once() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        let data = root.path().join("perch");
        std::fs::create_dir_all(data.join("logs"))?;
        for (path, m) in [(data.clone(), 0o755), (data.join("logs"), 0o755)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m))?;
        }
        for file in ["perch.db", "config.toml", "logs/perch.log.2026-12-05"] {
            std::fs::write(data.join(file), "x")?;
            std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644))?;
        }
        assert_eq!(make_private(&data)?, 5);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("logs")), 0o700);
        assert_eq!(mode(&data.join("perch.db")), 0o600);
        assert_eq!(mode(&data.join("logs/perch.log.2026-12-05")), 0o600);
        assert_eq!(make_private(&data)?, 0, "nothing left to change");
        stdx::write_private(&data.join("server.json"), b"{}")?;
        assert_eq!(mode(&data.join("server.json")), 0o600);
        Ok(())
    }
}
