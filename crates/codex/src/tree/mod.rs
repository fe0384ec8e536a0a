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
    use std::process::Stdio;
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    /// Hang guard for a process's exit; not a figure.
    const EXITS_WITHIN: Duration = Duration::from_secs(10);

    /// A shell that starts a grandchild: killing the tree ends both.
    #[tokio::test]
    async fn killing_the_tree_ends_the_grandchildren() -> Result<(), Box<dyn std::error::Error>> {
        let mut command = Command::new("sh");
        // The grandchild inherits the shell's stdout: the pipe closes only
        // when both have exited.
        command
            .arg("-c")
            .arg("sleep 60 & echo $!; wait")
            .stdout(Stdio::piped());
        ProcessTree::prepare(&mut command);
        let mut child = command.kill_on_drop(true).spawn()?;
        let tree = ProcessTree::adopt(&child)?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).await?;
        let grandchild: i32 = line.trim().parse()?;
        assert!(tree.alive());
        tree.kill();
        child.wait().await?;
        let mut rest = String::new();
        tokio::time::timeout(EXITS_WITHIN, stdout.read_to_string(&mut rest))
            .await
            .map_err(|_| format!("the grandchild {grandchild} outlived the tree"))??;
        // Exited, but a zombie of the group until init reaps it, which
        // sends nothing this test can wait on: asked again until then.
        let deadline = tokio::time::Instant::now() + EXITS_WITHIN;
        while tree.alive() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the group was never reaped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!tree.terminate(), "nothing left to ask");
        Ok(())
    }
}
