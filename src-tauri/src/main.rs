//! `perch-desktop`: Perch as a tray app. It hosts the same server as
//! `perch serve` (runtime + API on loopback) in-process and adds a tray,
//! windows that load the web UI from that server, OS notifications and
//! login autostart. The engine never sees the shell: this crate only adapts.
//!
//! Invariants:
//! - The tray registers before the server starts, so it shows at once.
//! - This process links no GUI toolkit and no WebKit (on Windows and macOS
//!   only the OS's own tray and notification APIs): on Linux the tray is a
//!   StatusNotifierItem over D-Bus (ksni) and notifications are D-Bus too,
//!   and each window is a `perch-window` child process (Tauri) that ends,
//!   with its WebKit processes, when its window closes. Perch lives on in
//!   the tray until Quit.
//! - The OS's event loop gets the thread it needs (`tray::with_event_loop`:
//!   the main thread is AppKit's on macOS, so Perch runs beside it there).
//! - Windows get no Tauri IPC: they are the same web UI a browser gets and
//!   speak only the HTTP API.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod shell;
mod single_instance;
mod tray;

use clap::Parser;
use perch_host::autostart::LoginAutostart;
use perch_host::server::{Server, ServerOptions};
use perch_runtime::host::Autostart;
use shell::{Shell, WindowKind};
use single_instance::Claim;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{watch, Notify};

#[derive(Parser, Debug)]
#[command(
    name = "perch-desktop",
    version,
    about = "Perch in the tray: keeps a Codex agent alive on your desktop"
)]
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
}

fn main() -> ExitCode {
    tray::with_event_loop(app)
}

/// Perch from start to quit; its exit status.
fn app() -> u8 {
    let launched = Instant::now();
    // A few threads need no arena each (stdx::memory).
    stdx::memory::limit_arenas(2);
    let args = Args::parse();
    // Read again with the config when the server starts; here for the data
    // dir and the log filter, which come first.
    let env = perch_runtime::config::Environment::capture();
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| perch_runtime::config::default_data_dir(&env));
    let logs = perch_host::logs::init_with_files(&data_dir, &env);
    tracing::info!(
        "perch-desktop {} starting (data: {})",
        env!("CARGO_PKG_VERSION"),
        data_dir.display()
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("perch-desktop: cannot start the async runtime: {err}");
            return 1;
        }
    };
    let code = runtime.block_on(run(args, data_dir, logs.dir.clone(), launched));
    // Blocking tasks still waiting (a notification's buttons, a keyring
    // call) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    tracing::info!("bye");
    drop(logs);
    code
}

async fn run(args: Args, data_dir: PathBuf, logs_dir: Option<PathBuf>, launched: Instant) -> u8 {
    let (publish_shell, shell_slot) = watch::channel(None::<Arc<Shell>>);
    let _instance = match single_instance::claim(shell_slot.clone(), &data_dir).await {
        Ok(Claim::First(guard)) => Some(guard),
        Ok(Claim::Shown) => {
            println!("Perch is already running; its window was asked to show.");
            return 0;
        }
        Err(err) => {
            tracing::warn!("cannot check for another running Perch: {err}");
            None
        }
    };
    let (tray, menu_actions) = match tray::spawn().await {
        Ok((tray, actions)) => {
            tracing::info!("tray ready in {} ms", launched.elapsed().as_millis());
            (Some(tray), Some(actions))
        }
        // Perch still runs without a panel to show it: the API, the web UI and
        // notifications work, and a second launch opens the window.
        Err(err) => {
            tracing::warn!("no tray icon: {err}");
            tokio::spawn(perch_host::notifier::notify_plain(
                "Perch is running without a tray icon",
                "This desktop shows no tray icons. Launch Perch again from the applications menu to open its window.",
            ));
            (None, None)
        }
    };
    if let Some(actions) = menu_actions {
        tray::run_menu_actions(actions, shell_slot.clone());
    }
    let quit = Arc::new(Notify::new());
    let signalled = quit.clone();
    // SIGTERM (logout, systemd, kill) and Ctrl-C quit like the tray's Quit:
    // pending approvals are cancelled and Codex is stopped.
    tokio::spawn(async move {
        perch_host::server::wait_for_signal().await;
        tracing::info!("signal received; quitting");
        signalled.notify_one();
    });

    let server = match Server::start(server_options(
        args.listen,
        args.relay_listen,
        data_dir.clone(),
        logs_dir,
    ))
    .await
    {
        Ok(server) => server,
        Err(err) => {
            tracing::error!("Perch could not start: {err}");
            eprintln!("perch-desktop: {err}");
            perch_host::notifier::notify_plain("Perch could not start", &err.to_string()).await;
            if let Some(tray) = tray {
                tray.shutdown().await;
            }
            return 2;
        }
    };
    // The API answered earlier, before the network and Codex started.
    tracing::info!(
        "started at {} in {} ms",
        server.url,
        launched.elapsed().as_millis()
    );
    if let Some(warning) = server.secrets.warning() {
        tracing::warn!("{warning}");
    }
    let shell = Arc::new(Shell::new(quit.clone(), &server, data_dir));
    publish_shell.send_replace(Some(shell.clone()));
    if let Some(tray) = tray.clone() {
        tray::spawn_updates(tray, server.runtime.clone());
    }
    perch_host::notifier::spawn(server.agent.clone(), shell.clone());
    if !args.hidden {
        shell.show(WindowKind::Chat, None);
    }

    quit.notified().await;
    tracing::info!("stopping Perch");
    shell.close_windows();
    server.stop().await;
    tracing::info!("server stopped");
    if let Some(tray) = tray {
        tray.shutdown().await;
    }
    tracing::info!("tray gone");
    0
}

fn server_options(
    listen: Option<String>,
    relay_listen: Option<String>,
    data_dir: PathBuf,
    logs_dir: Option<PathBuf>,
) -> ServerOptions {
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
    ServerOptions {
        data_dir,
        listen,
        ui_dir: None,
        config_path: None,
        autostart,
        logs_dir,
        relay_listen,
    }
}
