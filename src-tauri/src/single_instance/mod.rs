//! One Perch per person: the first launch claims the instance; a later one
//! asks it to show its chat window (once Perch is up) and exits. One
//! interface, one implementation per OS: a session-bus name on Linux
//! (`dbus.rs`; without a session bus, the socket below), a named pipe on
//! Windows (`pipe.rs`), a lock file and a Unix socket in the data dir on
//! macOS (`socket.rs`).

#[cfg(target_os = "linux")]
mod dbus;
#[cfg(windows)]
mod pipe;
#[cfg(unix)]
mod socket;

use crate::shell::{ready, ShellSlot, WindowKind};
use std::path::Path;
use std::sync::Arc;

pub enum Claim {
    /// This is the only Perch; the guard keeps the claim until it drops.
    First(Guard),
    /// Another Perch runs and was asked to show itself.
    Shown,
}

/// Holds the claim (a bus connection, a pipe server, a lock) while alive.
pub struct Guard {
    _held: Box<dyn Send + Sync>,
}

impl Guard {
    fn new(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

/// What a second launch asks the first to do: show its chat window.
type OnShow = Arc<dyn Fn() + Send + Sync>;

/// Called from the claim's own thread (zbus runs its D-Bus methods on an
/// executor of its own), so it spawns on the runtime `claim` ran on.
fn on_show(shell: ShellSlot) -> OnShow {
    let runtime = tokio::runtime::Handle::current();
    Arc::new(move || {
        tracing::info!("a second launch asked to show Perch");
        let shell = shell.clone();
        runtime.spawn(async move {
            if let Some(shell) = ready(&shell).await {
                shell.show(WindowKind::Chat, None);
            }
        });
    })
}

/// Reads one request from a second launch (`show`, a line) and does it.
async fn answer(stream: impl tokio::io::AsyncRead + Unpin, on_show: OnShow) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stream).take(64);
    if reader.read_line(&mut line).await.is_ok() && line.trim() == "show" {
        on_show();
    }
}

/// A task that ends with the guard holding it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(target_os = "linux")]
pub async fn claim(shell: ShellSlot, data_dir: &Path) -> Result<Claim, String> {
    let on_show = on_show(shell);
    match dbus::claim(on_show.clone()).await {
        Ok(claim) => Ok(claim),
        Err(err) => {
            tracing::info!("no session bus for the single-instance name ({err}); using a socket in the data dir");
            socket::claim(on_show, data_dir).await
        }
    }
}

#[cfg(target_os = "macos")]
pub async fn claim(shell: ShellSlot, data_dir: &Path) -> Result<Claim, String> {
    socket::claim(on_show(shell), data_dir).await
}

#[cfg(windows)]
pub async fn claim(shell: ShellSlot, _data_dir: &Path) -> Result<Claim, String> {
    pipe::claim(on_show(shell)).await
}
