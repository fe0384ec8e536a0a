//! Modes 0600 and 0700: group and others get nothing.

use super::Kind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub(super) fn dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
}

pub(super) fn open_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.mode(0o600);
    options
}

pub(super) fn is_private(path: &Path) -> std::io::Result<bool> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o077 == 0)
}

pub(super) fn make_private(path: &Path, kind: Kind) -> std::io::Result<()> {
    let mode = match kind {
        Kind::File => 0o600,
        Kind::Dir => 0o700,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
