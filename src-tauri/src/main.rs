//! `perch-desktop`: Perch as a tray app. It hosts the same server as
//! `perch serve` (runtime + API on loopback) in-process and adds a tray,
//! windows that load the web UI from that server, OS notifications and
//! login autostart. The engine never sees Tauri: this crate only adapts.
//!
//! Invariants:
//! - The tray is built before anything else, so it registers quickly.
//! - The tray process makes no webview. Each window is a child process
//!   (`window_process`); closing it ends that process and its WebKit
//!   processes, and Perch lives on in the tray until Quit.
//! - Windows get no Tauri IPC: they are the same web UI a browser gets and
//!   speak only the HTTP API.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod geometry;
mod shell;
mod tray;
mod window_process;

use clap::Parser;
use perch_host::autostart::LoginAutostart;
use perch_host::server::{Server, ServerOptions};
use perch_runtime::host::Autostart;
use shell::{Shell, WindowKind};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tauri::Manager;

#[derive(Parser, Debug)]
#[command(name = "perch-desktop", version, about = "Perch in the tray: keeps a Codex agent alive on your desktop")]
struct Args {
    /// Start in the tray without opening a window (login autostart uses this).
    #[arg(long)]
    hidden: bool,
    /// Perch's data directory (env PERCH_HOME; default ~/.local/share/perch).
    #[arg(long, env = "PERCH_HOME")]
    data_dir: Option<PathBuf>,
    /// Address of the local API (default: the config's `listen`, else 127.0.0.1:4860).
    #[arg(long)]
    listen: Option<String>,
    /// Where the embedded Agent Relay listens (default: the config's `[relay] listen`), or `off`.
    #[arg(long, env = "PERCH_RELAY_LISTEN")]
    relay_listen: Option<String>,
    /// Internal: run one window (`chat` or `dashboard`) for the tray process.
    #[arg(long, hide = true, value_parser = parse_window)]
    window: Option<WindowKind>,
    /// Internal, with --window: the URL to load, instead of PERCH_WINDOW_URL
    /// (WebDriver tests; its login code works once, for 60 s).
    #[arg(long, hide = true, requires = "window")]
    url: Option<String>,
}

fn parse_window(name: &str) -> Result<WindowKind, String> {
    WindowKind::parse(name).ok_or_else(|| format!("{name:?} is not a window (chat, dashboard)"))
}

#[derive(Debug, thiserror::Error)]
enum DesktopError {
    #[error(transparent)]
    Server(#[from] perch_host::server::ServerError),
    #[error(transparent)]
    Tauri(#[from] tauri::Error),
}

/// The running server, taken at exit to stop Codex cleanly.
struct ServerSlot(Mutex<Option<Server>>);

fn main() -> ExitCode {
    let launched = Instant::now();
    let args = Args::parse();
    apply_webkit_workarounds();
    let data_dir = args.data_dir.clone().unwrap_or_else(perch_runtime::config::default_data_dir);
    if let Some(kind) = args.window {
        perch_host::logs::init_stderr("warn");
        // From the tray: the URL in the environment, commands on stdin. With
        // --url the window stands alone.
        let (url, from_tray) = match args.url {
            Some(url) => (Some(url), false),
            None => (std::env::var("PERCH_WINDOW_URL").ok(), true),
        };
        return window_process::run(kind, url, from_tray, &data_dir, tauri::generate_context!());
    }
    disable_gl_in_the_tray();
    let logs = perch_host::logs::init_with_files(&data_dir);
    tracing::info!("perch-desktop {} starting (data: {})", env!("CARGO_PKG_VERSION"), data_dir.display());

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("a second launch asked to show Perch");
            if let Some(shell) = app.try_state::<Arc<Shell>>() {
                shell.show(WindowKind::Chat, None);
            }
        }))
        .setup(move |app| {
            if let Err(err) = setup(app, args, data_dir, logs.dir.clone(), launched) {
                // Tauri would panic on a setup error; say what is wrong instead.
                tracing::error!("Perch could not start: {err}");
                eprintln!("perch-desktop: {err}");
                let _ = notify_rust::Notification::new().appname("Perch").summary("Perch could not start").body(&err.to_string()).show();
                app.handle().exit(2);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("perch-desktop: {err}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|app, event| match event {
        // The tray process has no window; stay until Quit, which passes a code.
        tauri::RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        tauri::RunEvent::Exit => {
            let server = app.try_state::<ServerSlot>().and_then(|slot| slot.0.lock().ok()?.take());
            if let Some(server) = server {
                tracing::info!("stopping Perch");
                tauri::async_runtime::block_on(server.stop());
            }
        }
        _ => {}
    });
    ExitCode::SUCCESS
}

fn setup(
    app: &mut tauri::App,
    args: Args,
    data_dir: PathBuf,
    logs_dir: Option<PathBuf>,
    launched: Instant,
) -> Result<(), DesktopError> {
    let tray = tray::Tray::build(app.handle())?;
    tracing::info!("tray ready in {} ms", launched.elapsed().as_millis());

    let autostart: Option<Arc<dyn Autostart>> = match std::env::current_exe() {
        Ok(exe) => match LoginAutostart::new(exe) {
            Ok(autostart) => Some(Arc::new(autostart)),
            Err(err) => {
                tracing::warn!("login autostart is unavailable: {err}");
                None
            }
        },
        Err(err) => {
            tracing::warn!("login autostart is unavailable: cannot find this program: {err}");
            None
        }
    };
    let server = tauri::async_runtime::block_on(Server::start(ServerOptions {
        data_dir: data_dir.clone(),
        listen: args.listen,
        ui_dir: None,
        config_path: None,
        autostart,
        logs_dir,
        relay_listen: args.relay_listen,
    }))?;
    tracing::info!("API ready at {} in {} ms", server.url, launched.elapsed().as_millis());
    if let Some(warning) = server.secrets.warning() {
        tracing::warn!("{warning}");
    }
    let shell = Arc::new(Shell::new(app.handle().clone(), &server, data_dir));
    app.manage(shell.clone());
    app.manage(ServerSlot(Mutex::new(None)));
    let runtime = server.runtime.clone();
    if let Some(slot) = app.try_state::<ServerSlot>() {
        if let Ok(mut slot) = slot.0.lock() {
            *slot = Some(server);
        }
    }
    tray::spawn_updates(tray, runtime.clone());
    // SIGTERM (logout, systemd, kill) and Ctrl-C quit like the tray's Quit:
    // pending approvals are cancelled and Codex is stopped.
    let quitting = shell.clone();
    tauri::async_runtime::spawn(async move {
        perch_host::server::wait_for_signal().await;
        tracing::info!("signal received; quitting");
        quitting.quit();
    });
    tauri::async_runtime::spawn(async move {
        let _ = perch_host::notifier::spawn(runtime, shell.clone()).await;
    });
    if !args.hidden {
        if let Some(shell) = app.try_state::<Arc<Shell>>() {
            shell.show(WindowKind::Chat, None);
        }
    }
    Ok(())
}

/// Set when this process turned GDK's GL off (not the person): the window
/// processes it spawns get GL back (shell.rs).
pub(crate) static TRAY_DISABLED_GL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The tray process draws nothing with GL, but GDK opens GLX when it opens
/// the display, to pick visuals; with software rendering that maps Mesa's
/// llvmpipe (libLLVM: 43 MB of the tray's RSS, measured under Xvfb).
fn disable_gl_in_the_tray() {
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
        TRAY_DISABLED_GL.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Blank or black WebKitGTK windows on some GPUs and drivers (NVIDIA,
/// virtual machines, Wayland): turn off the DMA-BUF renderer and compositing
/// unless the person chose otherwise. Compositing off also saves ~60 MB.
fn apply_webkit_workarounds() {
    for (key, value) in [("WEBKIT_DISABLE_DMABUF_RENDERER", "1"), ("WEBKIT_DISABLE_COMPOSITING_MODE", "1")] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
}
