//! `perch-window`: one Perch window in its own process. The tray process
//! (`perch-desktop`) never creates a webview and links no WebKit: each window
//! is `perch-window KIND`, which loads the web UI from the tray process's API
//! and exits when its window closes, taking every WebKit process with it
//! (WebKitGTK keeps its network process for the life of the process that
//! made it, so in-process windows could never give that memory back).
//!
//! The URL (with a one-time login code) comes in `PERCH_WINDOW_URL`, which
//! only the same user can read (not in argv, which everyone can); commands
//! come on stdin, one per line: `show`, `navigate /route`. End of stdin (the
//! tray process quit) closes the window. With `--url` the window stands
//! alone (WebDriver tests).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod geometry;

use clap::Parser;
use geometry::GeometryStore;
use perch_desktop::{safe_route, WindowKind};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

#[derive(Parser, Debug)]
#[command(
    name = "perch-window",
    version,
    about = "One Perch window (started by perch-desktop)"
)]
struct Args {
    /// Which window: chat or dashboard.
    #[arg(value_parser = parse_window)]
    kind: WindowKind,
    /// Perch's data directory, where window geometry is kept (env PERCH_HOME).
    #[arg(long, env = "PERCH_HOME")]
    data_dir: Option<PathBuf>,
    /// The URL to load, instead of PERCH_WINDOW_URL; the window then takes no
    /// commands on stdin (its login code works once, for 60 s).
    #[arg(long)]
    url: Option<String>,
}

fn parse_window(name: &str) -> Result<WindowKind, String> {
    WindowKind::parse(name).ok_or_else(|| format!("{name:?} is not a window (chat, dashboard)"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let env = perch_runtime::config::Environment::capture();
    perch_host::logs::init_stderr("warn", &env);
    apply_webkit_workarounds();
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| perch_runtime::config::default_data_dir(&env));
    let (url, from_tray) = match args.url {
        Some(url) => (Some(url), false),
        None => (env.get("PERCH_WINDOW_URL").map(String::from), true),
    };
    let Some(url) = url.and_then(|u| u.parse::<tauri::Url>().ok()) else {
        eprintln!("perch-window needs a URL: --url, or PERCH_WINDOW_URL (perch-desktop sets it)");
        return ExitCode::from(2);
    };
    let kind = args.kind;
    let geometry = Arc::new(GeometryStore::open(data_dir.join("windows.json")));
    let saved = geometry.clone();
    let app = tauri::Builder::default()
        .setup(move |app| {
            let (width, height) = kind.default_size();
            let mut builder =
                WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::External(url))
                    .title(kind.title())
                    .inner_size(width, height)
                    .min_inner_size(420.0, 320.0);
            if let Some(g) = geometry.get(kind.label()) {
                builder = builder
                    .inner_size(g.width, g.height)
                    .position(g.x, g.y)
                    .maximized(g.maximized);
            }
            #[cfg_attr(not(target_os = "macos"), allow(unused_variables))]
            let window = builder.build()?;
            // One process per window: on macOS each would add a Dock icon
            // (and a menu bar) of its own beside the tray's menu-bar item.
            // As an accessory app it adds neither, so it brings its window
            // to the front itself.
            #[cfg(target_os = "macos")]
            {
                app.set_activation_policy(tauri::ActivationPolicy::Accessory);
                window.set_focus()?;
            }
            if from_tray {
                let handle = app.handle().clone();
                std::thread::spawn(move || follow_commands(&handle, kind));
            }
            Ok(())
        })
        .on_window_event(move |window, event| {
            if let tauri::WindowEvent::CloseRequested { .. } = event {
                saved.remember(window);
            }
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("perch-window: could not open the window: {err}");
            ExitCode::FAILURE
        }
    }
}

fn follow_commands(app: &tauri::AppHandle, kind: WindowKind) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(window) = app.get_webview_window(kind.label()) else {
            return;
        };
        match line.trim().split_once(' ').unwrap_or((line.trim(), "")) {
            ("show", _) => {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
            ("navigate", route) if safe_route(route) => {
                let _ = window.eval(format!(
                    "location.hash = {}",
                    serde_json::json!(format!("#{route}"))
                ));
            }
            (other, _) => tracing::warn!("unknown window command {other:?}"),
        }
    }
    // The tray process is gone: so is its API. Close rather than linger.
    app.exit(0);
}

/// Blank or black WebKitGTK windows on some GPUs and drivers (NVIDIA,
/// virtual machines, Wayland): turn off the DMA-BUF renderer and compositing
/// unless the person chose otherwise. Compositing off also saves ~60 MB.
fn apply_webkit_workarounds() {
    for (key, value) in [
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
}
