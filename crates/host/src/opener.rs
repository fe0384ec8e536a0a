//! The desktop's "open this file" ([`perch_runtime::host::Opener`]): the
//! default application for the file, through the `opener` crate (xdg-open
//! on Linux, `open` on macOS, ShellExecute on Windows).

use perch_runtime::host::{HostError, Opener};
use std::path::Path;

pub struct DesktopOpener;

impl Opener for DesktopOpener {
    fn open(&self, path: &Path) -> Result<(), HostError> {
        opener::open(path).map_err(|e| HostError::Open(e.to_string()))
    }
}
