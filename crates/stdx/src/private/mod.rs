//! Files and folders only their owner may open, on every OS. One interface
//! over one implementation per OS: on Unix the modes 0600 and 0700; on
//! Windows a protected ACL (nothing inherited) that allows the user, SYSTEM
//! and the Administrators group alone, the access a user profile's own
//! folders have.

#[cfg(unix)]
#[path = "unix.rs"]
mod platform;
#[cfg(windows)]
#[path = "windows.rs"]
mod platform;

use std::path::Path;

/// A file or a folder (a folder's ACL is inherited by what is made in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// Creates `path` and its missing parents as folders; the last one is
/// private when this call made it.
pub fn create_dir(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    platform::dir_builder().create(path)?;
    restrict(path, Kind::Dir).map(|_| ())
}

/// Options that create a file only its owner may open (on Windows the ACL
/// is set by [`restrict`] after it is created).
pub fn open_options() -> std::fs::OpenOptions {
    platform::open_options()
}

/// Makes `path` private if it is not; `true` when something changed.
pub fn restrict(path: &Path, kind: Kind) -> std::io::Result<bool> {
    if platform::is_private(path)? {
        return Ok(false);
    }
    platform::make_private(path, kind)?;
    Ok(true)
}

/// Whether only the owner (on Windows: the user, SYSTEM, Administrators)
/// may open `path`.
pub fn is_private(path: &Path) -> std::io::Result<bool> {
    platform::is_private(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_made_private_stays_private() -> std::io::Result<()> {
        let root = std::env::temp_dir().join(format!("stdx-private-{}", crate::random_hex(6)?));
        let dir = root.join("a/b");
        create_dir(&dir)?;
        assert!(is_private(&dir)?);
        let file = dir.join("secret");
        open_options().write(true).create_new(true).open(&file)?;
        restrict(&file, Kind::File)?;
        assert!(is_private(&file)?);
        assert!(!restrict(&file, Kind::File)?, "nothing left to change");
        std::fs::remove_dir_all(&root)
    }
}
