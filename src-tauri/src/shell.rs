//! The windows, seen from the tray process: each is a child process
//! (`window_process`) showing the web UI of the in-process API, signed in
//! with a one-time login code in the URL fragment.

use crate::window_process::safe_route;
use perch_api::Auth;
use perch_host::notifier::{NotifierHost, OpenTarget};
use perch_host::server::Server;
use perch_runtime::Runtime;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    Chat,
    Dashboard,
}

impl WindowKind {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "chat" => Some(Self::Chat),
            "dashboard" => Some(Self::Dashboard),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Dashboard => "dashboard",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Self::Chat => "Perch",
            Self::Dashboard => "Perch — Dashboard",
        }
    }
    fn default_route(self) -> &'static str {
        match self {
            Self::Chat => "/chat",
            Self::Dashboard => "/dashboard",
        }
    }
    pub fn default_size(self) -> (f64, f64) {
        match self {
            Self::Chat => (980.0, 720.0),
            Self::Dashboard => (860.0, 640.0),
        }
    }
}

/// A running window process. A thread waits for it, so a closed window is
/// reaped at once and `alive` turns false.
struct WindowProcess {
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
        let pid = child.id();
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            flag.store(false, Ordering::SeqCst);
            tracing::info!("the {} window closed ({status:?})", kind.label());
        });
        Ok(Self { pid, stdin, alive })
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }
}

pub struct Shell {
    app: tauri::AppHandle,
    url: String,
    auth: Arc<Auth>,
    pub runtime: Arc<Runtime>,
    data_dir: PathBuf,
    windows: Mutex<HashMap<WindowKind, WindowProcess>>,
}

impl Shell {
    pub fn new(app: tauri::AppHandle, server: &Server, data_dir: PathBuf) -> Self {
        Self {
            app,
            url: server.url.clone(),
            auth: server.auth.clone(),
            runtime: server.runtime.clone(),
            data_dir,
            windows: Mutex::default(),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<WindowKind, WindowProcess>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let mut command = Command::new(exe);
        if crate::TRAY_DISABLED_GL.load(std::sync::atomic::Ordering::Relaxed) {
            command.env_remove("GDK_GL");
        }
        let child = command
            .args(["--window", kind.label(), "--data-dir"])
            .arg(&self.data_dir)
            .env(
                "PERCH_WINDOW_URL",
                format!("{}/#login={code}&next={route}", self.url),
            )
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        tracing::info!("opened the {} window (pid {})", kind.label(), child.id());
        WindowProcess::watch(child, kind)
    }

    /// Closes every window and quits.
    pub fn quit(&self) {
        for (_, window) in self.windows().drain() {
            if window.alive() {
                // Closing stdin tells the window to close; SIGTERM makes sure.
                drop(window.stdin);
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(window.pid as i32),
                    nix::sys::signal::SIGTERM,
                );
            }
        }
        self.app.exit(0);
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
            | OpenTarget::Wakeups => WindowKind::Dashboard,
        };
        self.show(kind, Some(target.route()));
    }
}
