//! Perch's files are the person's alone: the data dir and every folder in
//! it 0700, the files in it and in its `logs/` 0600. Applied when Perch
//! starts, so a data dir made by an earlier Perch (0755 and 0644) is fixed
//! too, and the log says what changed. SQLite gives a database's `-wal`
//! and `-shm` files the database's own mode. Perch never changes the person's
//! own `~/.codex`.

use std::path::Path;

/// Creates `data_dir` if needed and makes it and what Perch keeps in it
/// private; returns how many modes it changed.
pub fn make_private(data_dir: &Path) -> std::io::Result<usize> {
    let mut new_dir = std::fs::DirBuilder::new();
    new_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut new_dir, DIR_MODE);
    new_dir.create(data_dir)?;
    let mut changed = restrict(data_dir, DIR_MODE)?;
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            changed += restrict(&entry.path(), DIR_MODE)?;
            if entry.file_name() == "logs" {
                for log in std::fs::read_dir(entry.path())? {
                    let log = log?;
                    if log.file_type()?.is_file() {
                        changed += restrict(&log.path(), FILE_MODE)?;
                    }
                }
            }
        } else if kind.is_file() {
            changed += restrict(&entry.path(), FILE_MODE)?;
        }
    }
    Ok(changed)
}

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Takes group and other permissions away; 1 when the mode changed.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 == 0 {
        return Ok(0);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(1)
}

/// Elsewhere a file's access is the user profile's (Windows ACLs).
#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> std::io::Result<usize> {
    Ok(0)
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
