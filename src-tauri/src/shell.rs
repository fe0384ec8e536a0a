//! The windows: the chat and the dashboard, both the web UI served by the
//! in-process API, signed in with a one-time login code in the URL fragment.

use crate::geometry::GeometryStore;
use perch_api::Auth;
use perch_host::notifier::{NotifierHost, OpenTarget};
use perch_host::server::Server;
use perch_runtime::Runtime;
use std::path::Path;
use std::sync::Arc;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Chat,
    Dashboard,
}

impl WindowKind {
    fn label(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Dashboard => "dashboard",
        }
    }
    fn title(self) -> &'static str {
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
    fn default_size(self) -> (f64, f64) {
        match self {
            Self::Chat => (980.0, 720.0),
            Self::Dashboard => (860.0, 640.0),
        }
    }
}

pub struct Shell {
    app: tauri::AppHandle,
    url: String,
    auth: Arc<Auth>,
    pub runtime: Arc<Runtime>,
    geometry: GeometryStore,
}

/// Routes are made by Perch from ids; refuse anything that could break out
/// of the fragment or the JavaScript string.
fn safe_route(route: &str) -> bool {
    route.starts_with('/') && route.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
}

impl Shell {
    pub fn new(app: tauri::AppHandle, server: &Server, data_dir: &Path) -> Self {
        Self {
            app,
            url: server.url.clone(),
            auth: server.auth.clone(),
            runtime: server.runtime.clone(),
            geometry: GeometryStore::open(data_dir.join("windows.json")),
        }
    }

    /// Shows (or makes) the window, at `route` if given.
    pub fn show(&self, kind: WindowKind, route: Option<String>) {
        let route = route.filter(|r| safe_route(r));
        if let Some(window) = self.app.get_webview_window(kind.label()) {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
            if let Some(route) = route {
                let _ = window.eval(format!("location.hash = {}", serde_json::json!(format!("#{route}"))));
            }
            return;
        }
        if let Err(err) = self.create(kind, route.as_deref().unwrap_or(kind.default_route())) {
            tracing::error!("could not open the {} window: {err}", kind.label());
        }
    }

    fn create(&self, kind: WindowKind, route: &str) -> Result<(), String> {
        let (code, _) = self.auth.new_login_code().map_err(|e| e.to_string())?;
        let url = format!("{}/#login={code}&next={route}", self.url);
        let url = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let (width, height) = kind.default_size();
        let mut builder = WebviewWindowBuilder::new(&self.app, kind.label(), WebviewUrl::External(url))
            .title(kind.title())
            .inner_size(width, height)
            .min_inner_size(420.0, 320.0);
        if let Some(saved) = self.geometry.get(kind.label()) {
            builder = builder.inner_size(saved.width, saved.height).position(saved.x, saved.y).maximized(saved.maximized);
        }
        builder.build().map(|_| ()).map_err(|e| e.to_string())
    }

    pub fn remember_geometry(&self, window: &tauri::Window) {
        self.geometry.remember(window);
    }

    pub fn quit(&self) {
        self.app.exit(0);
    }
}

impl NotifierHost for Shell {
    fn any_window_visible(&self) -> bool {
        self.app.webview_windows().values().any(|w| w.is_visible().unwrap_or(false))
    }

    fn open(&self, target: OpenTarget) {
        let kind = match target {
            OpenTarget::Session { .. } => WindowKind::Chat,
            OpenTarget::Approval { .. } | OpenTarget::Approvals | OpenTarget::Dashboard => WindowKind::Dashboard,
        };
        self.show(kind, Some(target.route()));
    }
}
