//! The Codex child's process tree, so that nothing Codex started (shell
//! commands, MCP servers) outlives it. One type over one implementation per
//! OS: on Unix the child leads its own process group, which is signalled
//! whole; on Windows the child is put in a Job Object that kills every
//! process in it when it is terminated or when Perch's handle closes (Perch
//! exiting, even by a crash).

#[cfg(unix)]
#[path = "unix.rs"]
mod platform;
#[cfg(windows)]
#[path = "windows.rs"]
mod platform;

use tokio::process::{Child, Command};

pub(crate) struct ProcessTree {
    inner: platform::Tree,
}

impl ProcessTree {
    /// Sets up `command` so that its process can lead a tree.
    pub(crate) fn prepare(command: &mut Command) {
        platform::prepare(command);
    }

    /// The tree `child` (just spawned from a prepared command) leads.
    pub(crate) fn adopt(child: &Child) -> std::io::Result<Self> {
        Ok(Self {
            inner: platform::Tree::adopt(child)?,
        })
    }

    /// Asks every process in the tree to end (SIGTERM on Unix; Windows has
    /// no such request for a windowless child, so there it ends them);
    /// `false` when none is left.
    pub(crate) fn terminate(&self) -> bool {
        self.inner.terminate()
    }

    /// Whether a process of the tree is still running.
    pub(crate) fn alive(&self) -> bool {
        self.inner.alive()
    }

    /// Ends every process in the tree at once.
    pub(crate) fn kill(&self) {
        self.inner.kill();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A shell that starts a grandchild: killing the tree ends both.
    #[tokio::test]
    async fn killing_the_tree_ends_the_grandchildren() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let pid_file = dir.path().join("grandchild.pid");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("sleep 60 & echo $! > {}; wait", pid_file.display()));
        ProcessTree::prepare(&mut command);
        let mut child = command.kill_on_drop(true).spawn()?;
        let tree = ProcessTree::adopt(&child)?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let grandchild: i32 = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break pid;
            }
            assert!(tokio::time::Instant::now() < deadline, "no grandchild");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(tree.alive());
        tree.kill();
        child.wait().await?;
        let gone = loop {
            // Reaped by init once killed; kill(pid, 0) fails then.
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(grandchild), None).is_err() {
                break true;
            }
            if tokio::time::Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(gone, "the grandchild outlived the tree");
        assert!(!tree.alive());
        assert!(!tree.terminate(), "nothing left to ask");
        Ok(())
    }
}
