//! A window in its own process. The tray process never creates a webview:
//! each window is `perch-desktop --window KIND`, which loads the web UI from
//! the tray process's API and exits when its window closes, taking every
//! WebKit process with it (WebKitGTK keeps its network process for the life
//! of the process that made it, so in-process windows could never give that
//! memory back).
//!
//! The URL (with a one-time login code) comes in `PERCH_WINDOW_URL`, which
//! only the same user can read (not in argv, which everyone can); commands
//! come on stdin, one per line:
//! `show`, `navigate /route`. End of stdin (the tray process quit) closes
//! the window.

use crate::geometry::GeometryStore;
use crate::WindowKind;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

/// Routes are made by Perch from ids; refuse anything that could break out
/// of the fragment or the JavaScript string.
pub fn safe_route(route: &str) -> bool {
    route.starts_with('/') && route.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
}

pub fn run(kind: WindowKind, url: Option<String>, from_tray: bool, data_dir: &Path, context: tauri::Context) -> ExitCode {
    let Some(url) = url.and_then(|u| u.parse::<tauri::Url>().ok()) else {
        eprintln!("perch-desktop --window needs a URL in PERCH_WINDOW_URL (the tray process sets it)");
        return ExitCode::from(2);
    };
    let geometry = Arc::new(GeometryStore::open(data_dir.join("windows.json")));
    let saved = geometry.clone();
    let app = tauri::Builder::default()
        .setup(move |app| {
            let (width, height) = kind.default_size();
            let mut builder = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::External(url))
                .title(kind.title())
                .inner_size(width, height)
                .min_inner_size(420.0, 320.0);
            if let Some(g) = geometry.get(kind.label()) {
                builder = builder.inner_size(g.width, g.height).position(g.x, g.y).maximized(g.maximized);
            }
            builder.build()?;
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
        .build(context);
    match app {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("perch-desktop: could not open the window: {err}");
            ExitCode::FAILURE
        }
    }
}

fn follow_commands(app: &tauri::AppHandle, kind: WindowKind) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(window) = app.get_webview_window(kind.label()) else { return };
        match line.trim().split_once(' ').unwrap_or((line.trim(), "")) {
            ("show", _) => {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
            ("navigate", route) if safe_route(route) => {
                let _ = window.eval(format!("location.hash = {}", serde_json::json!(format!("#{route}"))));
            }
            (other, _) => tracing::warn!("unknown window command {other:?}"),
        }
    }
    // The tray process is gone: so is its API. Close rather than linger.
    app.exit(0);
}
