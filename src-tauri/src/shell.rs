//! The windows, seen from the tray process: each is a child process
//! (`perch-window`, next to this program) showing the web UI of the
//! in-process API, signed in with a one-time login code in the URL fragment.

use perch_api::Auth;
pub use perch_desktop::WindowKind;
use perch_desktop::{safe_route, WINDOW_PROGRAM};
use perch_host::notifier::{NotifierHost, OpenTarget};
use perch_host::server::Server;
use perch_runtime::Runtime;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use stdx::MutexExt;
use tokio::sync::{watch, Notify};

/// The shell once the server is up: the tray menu and a second launch
/// wait on it rather than act on a half-started Perch.
pub type ShellSlot = watch::Receiver<Option<Arc<Shell>>>;

/// The shell, waiting for it if Perch is still starting; `None` if Perch
/// quit before it was up.
pub async fn ready(slot: &ShellSlot) -> Option<Arc<Shell>> {
    let mut slot = slot.clone();
    let ready = slot.wait_for(Option::is_some).await.ok()?;
    ready.clone()
}

/// A running window process. A thread waits for it, so a closed window is
/// reaped at once and `alive` turns false.
struct WindowProcess {
    /// For SIGTERM at quit.
    #[cfg(unix)]
    pid: u32,
    stdin: ChildStdin,
    alive: Arc<AtomicBool>,
}

impl WindowProcess {
    fn watch(mut child: Child, kind: WindowKind) -> Result<Self, String> {
        let stdin = child
            .stdin
            .take()
            .ok_or("the window process has no stdin")?;
        #[cfg(unix)]
        let pid = child.id();
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            flag.store(false, Ordering::SeqCst);
            tracing::info!("the {} window closed ({status:?})", kind.label());
        });
        Ok(Self {
            #[cfg(unix)]
            pid,
            stdin,
            alive,
        })
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }
}

pub struct Shell {
    /// Woken by `quit`; main then stops the server and exits.
    quit: Arc<Notify>,
    url: String,
    auth: Arc<Auth>,
    pub runtime: Arc<Runtime>,
    data_dir: PathBuf,
    windows: Mutex<HashMap<WindowKind, WindowProcess>>,
}

impl Shell {
    pub fn new(quit: Arc<Notify>, server: &Server, data_dir: PathBuf) -> Self {
        Self {
            quit,
            url: server.url.clone(),
            auth: server.auth.clone(),
            runtime: server.runtime.clone(),
            data_dir,
            windows: Mutex::default(),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<WindowKind, WindowProcess>> {
        self.windows.lock_unpoisoned()
    }

    /// Shows the window (starting its process if it is closed), at `route`.
    pub fn show(&self, kind: WindowKind, route: Option<String>) {
        let route = route.filter(|r| safe_route(r));
        let mut windows = self.windows();
        if let Some(window) = windows.get_mut(&kind) {
            if window.alive() {
                let mut commands = String::from("show\n");
                if let Some(route) = &route {
                    commands.push_str(&format!("navigate {route}\n"));
                }
                if window
                    .stdin
                    .write_all(commands.as_bytes())
                    .and_then(|()| window.stdin.flush())
                    .is_ok()
                {
                    return;
                }
            }
            windows.remove(&kind);
        }
        match self.spawn(kind, route.as_deref().unwrap_or(kind.default_route())) {
            Ok(window) => {
                windows.insert(kind, window);
            }
            Err(err) => tracing::error!("could not open the {} window: {err}", kind.label()),
        }
    }

    fn spawn(&self, kind: WindowKind, route: &str) -> Result<WindowProcess, String> {
        let (code, _) = self.auth.new_login_code().map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let program =
            exe.with_file_name(format!("{WINDOW_PROGRAM}{}", std::env::consts::EXE_SUFFIX));
        let child = Command::new(&program)
            .args([kind.label(), "--data-dir"])
            .arg(&self.data_dir)
            .env(
                "PERCH_WINDOW_URL",
                format!("{}/#login={code}&next={route}", self.url),
            )
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} (is Perch fully installed?): {e}",
                    program.display()
                )
            })?;
        tracing::info!("opened the {} window (pid {})", kind.label(), child.id());
        WindowProcess::watch(child, kind)
    }

    /// Asks main to quit: it closes the windows, stops the server and exits.
    pub fn quit(&self) {
        self.quit.notify_one();
    }

    pub fn close_windows(&self) {
        for (_, window) in self.windows().drain() {
            if window.alive() {
                // Closing stdin tells the window to close; on Unix SIGTERM
                // makes sure (Windows has no polite signal for it).
                drop(window.stdin);
                #[cfg(unix)]
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(window.pid as i32),
                    nix::sys::signal::SIGTERM,
                );
            }
        }
    }
}

impl NotifierHost for Shell {
    fn any_window_visible(&self) -> bool {
        self.windows().values().any(WindowProcess::alive)
    }

    fn open(&self, target: OpenTarget) {
        let kind = match target {
            OpenTarget::Session { .. } => WindowKind::Chat,
            OpenTarget::Approval { .. }
            | OpenTarget::Approvals
            | OpenTarget::Dashboard
            | OpenTarget::Inbox { .. }
            | OpenTarget::Peers
            | OpenTarget::Wakeups
            | OpenTarget::Changes => WindowKind::Dashboard,
        };
        self.show(kind, Some(target.route()));
    }
}
