//! A lock file and a Unix socket in the data dir: the first launch holds
//! the lock (the OS releases it when that Perch exits, even by a crash) and
//! listens; a later launch finds the lock taken and writes `show` to the
//! socket. The socket is the person's alone (`stdx::private`).

use super::{answer, AbortOnDrop, Claim, Guard, OnShow};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};

/// What the first launch holds: the lock, the listener's task, the socket.
struct Held {
    _lock: std::fs::File,
    _serving: AbortOnDrop,
    socket: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

pub(super) async fn claim(on_show: OnShow, data_dir: &Path) -> Result<Claim, String> {
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    stdx::private::create_dir(data_dir).map_err(|e| io("creating", data_dir, e))?;
    let lock_path = data_dir.join("desktop.lock");
    let socket = data_dir.join("desktop.sock");
    let lock = stdx::private::open_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io("opening", &lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {
            // A socket left by a Perch that crashed.
            let _ = std::fs::remove_file(&socket);
            let listener =
                UnixListener::bind(&socket).map_err(|e| io("listening on", &socket, e))?;
            stdx::private::restrict(&socket, stdx::private::Kind::File)
                .map_err(|e| io("making private", &socket, e))?;
            Ok(Claim::First(Guard::new(Held {
                _lock: lock,
                _serving: AbortOnDrop(tokio::spawn(serve(listener, on_show))),
                socket,
            })))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut stream = UnixStream::connect(&socket)
                .await
                .map_err(|e| io("connecting to the running Perch at", &socket, e))?;
            stream
                .write_all(b"show\n")
                .await
                .map_err(|e| io("writing to", &socket, e))?;
            Ok(Claim::Shown)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io("locking", &lock_path, e)),
    }
}

async fn serve(listener: UnixListener, on_show: OnShow) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(answer(stream, on_show.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_second_launch_asks_the_first_to_show_and_a_crash_frees_the_claim(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let (shown, mut asked) = tokio::sync::mpsc::unbounded_channel();
        let first = claim(
            Arc::new(move || {
                let _ = shown.send(());
            }),
            dir.path(),
        )
        .await?;
        assert!(matches!(first, Claim::First(_)));
        assert!(stdx::private::is_private(&dir.path().join("desktop.sock"))?);
        let second = claim(Arc::new(|| {}), dir.path()).await?;
        assert!(matches!(second, Claim::Shown));
        tokio::time::timeout(std::time::Duration::from_secs(10), asked.recv())
            .await?
            .ok_or("the first launch was not asked to show")?;
        // The first exits (its guard drops, as its process would): the next
        // launch is first again.
        drop(first);
        let again = claim(Arc::new(|| {}), dir.path()).await?;
        assert!(matches!(again, Claim::First(_)));
        Ok(())
    }
}
