//! The tray: an icon per state, a status line, and every action in the menu
//! (Linux never delivers tray clicks). The menu is built once; afterwards
//! only the items whose text, check or enabled state changed are updated.

use crate::shell::{Shell, WindowKind};
use perch_runtime::model::{EventKind, Status};
use perch_runtime::settings::{NotificationsPatch, Settings, SettingsPatch};
use perch_runtime::{HealthState, Runtime};
use std::sync::Arc;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Idle,
    Working,
    NeedsApproval,
    /// Peer messages the person has not read.
    Unread,
    Offline,
}

impl TrayState {
    fn icon(self) -> &'static [u8] {
        match self {
            Self::Idle => include_bytes!("../../icons/tray-idle.png"),
            Self::Working => include_bytes!("../../icons/tray-working.png"),
            Self::NeedsApproval => include_bytes!("../../icons/tray-approval.png"),
            Self::Unread => include_bytes!("../../icons/tray-unread.png"),
            Self::Offline => include_bytes!("../../icons/tray-offline.png"),
        }
    }
}

/// Everything the tray shows; the tray changes only where two models differ.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayModel {
    pub state: TrayState,
    pub status: String,
    pub running_turns: usize,
    pub pending_approvals: usize,
    pub dnd: bool,
    pub autostart: bool,
    pub autostart_supported: bool,
}

/// The settings the tray shows as checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrayChecks {
    pub dnd: bool,
    pub autostart: bool,
    pub autostart_supported: bool,
}

impl From<&Settings> for TrayChecks {
    fn from(settings: &Settings) -> Self {
        Self {
            dnd: settings.notifications.dnd,
            autostart: settings.autostart.enabled,
            autostart_supported: settings.autostart.supported,
        }
    }
}

/// The tray's view of the runtime. Pure, so it is tested by table.
/// `unread`: peer messages to the person not yet read.
pub fn model(status: &Status, checks: TrayChecks, unread: usize) -> TrayModel {
    let running = status.active_turns.len();
    let pending = status.pending_approvals;
    let (state, text) = match status.codex.state {
        HealthState::Failed | HealthState::Stopped => {
            (TrayState::Offline, format!("Codex is not running{}", detail(&status.codex.detail)))
        }
        HealthState::Starting => (TrayState::Offline, "Codex is starting".to_string()),
        HealthState::Restarting => (TrayState::Offline, format!("Codex is restarting{}", detail(&status.codex.detail))),
        HealthState::Ready | HealthState::Degraded if pending > 0 => {
            (TrayState::NeedsApproval, format!("{pending} approval{} need{} you", plural(pending), if pending == 1 { "s" } else { "" }))
        }
        HealthState::Ready | HealthState::Degraded if unread > 0 => {
            (TrayState::Unread, format!("{unread} unread message{}", plural(unread)))
        }
        HealthState::Ready | HealthState::Degraded if running > 0 => {
            (TrayState::Working, format!("Working on {running} turn{}", plural(running)))
        }
        HealthState::Ready | HealthState::Degraded => (TrayState::Idle, "Idle".to_string()),
    };
    TrayModel {
        state,
        status: text,
        running_turns: running,
        pending_approvals: pending,
        dnd: checks.dnd,
        autostart: checks.autostart,
        autostart_supported: checks.autostart_supported,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn detail(detail: &Option<String>) -> String {
    detail.as_deref().map(|d| format!(": {}", d.chars().take(80).collect::<String>())).unwrap_or_default()
}

pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<tauri::Wry>,
    interrupt: MenuItem<tauri::Wry>,
    approvals: MenuItem<tauri::Wry>,
    dnd: CheckMenuItem<tauri::Wry>,
    autostart: CheckMenuItem<tauri::Wry>,
    shown: Option<TrayModel>,
}

impl Tray {
    pub fn build(app: &AppHandle) -> tauri::Result<Self> {
        let status = MenuItem::with_id(app, "status", "Perch: starting", false, None::<&str>)?;
        let open = MenuItem::with_id(app, "open", "Open Perch", true, None::<&str>)?;
        let dashboard = MenuItem::with_id(app, "dashboard", "Dashboard", true, None::<&str>)?;
        let new_session = MenuItem::with_id(app, "new-session", "New session", true, None::<&str>)?;
        let interrupt = MenuItem::with_id(app, "interrupt", "Interrupt current turn", false, None::<&str>)?;
        let approvals = MenuItem::with_id(app, "approvals", "Pending approvals (0)", true, None::<&str>)?;
        let dnd = CheckMenuItem::with_id(app, "dnd", "Do not disturb", true, false, None::<&str>)?;
        let autostart = CheckMenuItem::with_id(app, "autostart", "Start at login", true, false, None::<&str>)?;
        let settings = MenuItem::with_id(app, "settings", "Settings…", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Perch", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &PredefinedMenuItem::separator(app)?,
                &open,
                &dashboard,
                &new_session,
                &interrupt,
                &approvals,
                &PredefinedMenuItem::separator(app)?,
                &dnd,
                &autostart,
                &settings,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("perch")
            .icon(Image::from_bytes(TrayState::Offline.icon())?)
            .tooltip("Perch")
            .title("Perch")
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(on_menu_event)
            .build(app)?;
        Ok(Self { icon, status, interrupt, approvals, dnd, autostart, shown: None })
    }

    /// Applies `next`, touching only what differs from what is shown.
    fn apply(&mut self, next: TrayModel) -> tauri::Result<()> {
        let old = self.shown.take();
        let changed = |f: &dyn Fn(&TrayModel) -> bool| old.as_ref().is_none_or(f);
        if changed(&|o| o.state != next.state) {
            self.icon.set_icon(Some(Image::from_bytes(next.state.icon())?))?;
        }
        if changed(&|o| o.status != next.status) {
            self.status.set_text(format!("Perch: {}", next.status))?;
            self.icon.set_tooltip(Some(format!("Perch: {}", next.status)))?;
        }
        if changed(&|o| (o.running_turns > 0) != (next.running_turns > 0)) {
            self.interrupt.set_enabled(next.running_turns > 0)?;
        }
        if changed(&|o| o.pending_approvals != next.pending_approvals) {
            self.approvals.set_text(format!("Pending approvals ({})", next.pending_approvals))?;
        }
        // A check item flips itself when clicked; always reassert the real state.
        self.dnd.set_checked(next.dnd)?;
        self.autostart.set_checked(next.autostart)?;
        if changed(&|o| o.autostart_supported != next.autostart_supported) {
            self.autostart.set_enabled(next.autostart_supported)?;
        }
        self.shown = Some(next);
        Ok(())
    }
}

/// Keeps the tray in step with the runtime: on every event that can change
/// it, recompute the model (settings only when they changed).
pub fn spawn_updates(mut tray: Tray, runtime: Arc<Runtime>) {
    tauri::async_runtime::spawn(async move {
        let mut subscription = runtime.events().subscribe(None);
        let mut checks = match runtime.settings().await {
            Ok(settings) => TrayChecks::from(&settings),
            Err(err) => {
                tracing::error!("the tray cannot read the settings: {err}");
                return;
            }
        };
        let mut unread = 0;
        loop {
            match runtime.status() {
                Ok(status) => {
                    if let Err(err) = tray.apply(model(&status, checks, unread)) {
                        tracing::warn!("could not update the tray: {err}");
                    }
                }
                Err(err) => tracing::warn!("the tray cannot read the status: {err}"),
            }
            // Wait for the next event that matters to the tray.
            loop {
                match subscription.live.recv().await {
                    Ok(event) => match &event.kind {
                        EventKind::SettingsChanged { settings: new } => {
                            checks = TrayChecks::from(&**new);
                            break;
                        }
                        EventKind::PeerStatus { status } => {
                            let now = status["unread"].as_u64().unwrap_or(0) as usize;
                            if now != unread {
                                unread = now;
                                break;
                            }
                        }
                        EventKind::CodexState { .. }
                        | EventKind::TurnStarted { .. }
                        | EventKind::TurnCompleted { .. }
                        | EventKind::ApprovalRequested { .. }
                        | EventKind::ApprovalResolved { .. } => break,
                        _ => {}
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let Some(shell) = app.try_state::<Arc<Shell>>().map(|s| s.inner().clone()) else {
        tracing::warn!("tray menu used before Perch finished starting");
        return;
    };
    let id = event.id().as_ref().to_string();
    tracing::info!("tray menu: {id}");
    tauri::async_runtime::spawn(async move {
        if let Err(err) = run_menu_action(&shell, &id).await {
            tracing::warn!("tray menu {id}: {err}");
        }
    });
}

async fn run_menu_action(shell: &Shell, id: &str) -> Result<(), perch_runtime::Error> {
    let runtime = &shell.runtime;
    match id {
        "open" => shell.show(WindowKind::Chat, None),
        "dashboard" => shell.show(WindowKind::Dashboard, None),
        "settings" => shell.show(WindowKind::Dashboard, Some("/settings".into())),
        "new-session" => {
            let session = runtime.create_session(Default::default()).await?;
            shell.show(WindowKind::Chat, Some(format!("/chat/{}", session.id)));
        }
        "interrupt" => {
            let status = runtime.status()?;
            if let Some(turn) = status.active_turns.iter().max_by_key(|t| t.started_at) {
                runtime.interrupt(&turn.session_id).await?;
            }
        }
        "approvals" => {
            let pending = runtime.approvals(true)?;
            let route = match pending.as_slice() {
                [only] => format!("/approvals/{}", only.id),
                _ => "/approvals".into(),
            };
            shell.show(WindowKind::Dashboard, Some(route));
        }
        "dnd" => {
            let dnd = !runtime.config().notifications.dnd;
            let notifications = NotificationsPatch { dnd: Some(dnd), ..Default::default() };
            let patch = SettingsPatch { notifications: Some(notifications), ..Default::default() };
            runtime.update_settings(patch).await?;
        }
        "autostart" => {
            let enabled = runtime.settings().await?.autostart.enabled;
            let patch = SettingsPatch { autostart: Some(!enabled), ..Default::default() };
            runtime.update_settings(patch).await?;
        }
        "quit" => shell.quit(),
        other => tracing::warn!("unknown tray menu item {other}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use perch_runtime::model::{ActiveTurn, CodexStatus};

    fn status(state: HealthState, running: usize, pending: usize) -> Status {
        Status {
            version: "test",
            codex: CodexStatus {
                state,
                detail: None,
                version: None,
                pinned_version: "0.169.0",
                restarts: 0,
                pid: None,
                bin: String::new(),
            },
            active_turns: (0..running)
                .map(|i| ActiveTurn { session_id: format!("s{i}"), turn_id: "t".into(), stalled: false, started_at: 0 })
                .collect(),
            pending_approvals: pending,
            approval_policy: perch_runtime::ApprovalPolicy::Guarded,
            model: None,
            data_dir: String::new(),
            warnings: vec![],
        }
    }

    #[test]
    fn the_tray_state_follows_codex_turns_and_approvals() {
        let cases = [
            (HealthState::Ready, 0, 0, TrayState::Idle, "Idle"),
            (HealthState::Ready, 2, 0, TrayState::Working, "Working on 2 turns"),
            (HealthState::Degraded, 1, 1, TrayState::NeedsApproval, "1 approval needs you"),
            (HealthState::Ready, 1, 3, TrayState::NeedsApproval, "3 approvals need you"),
            (HealthState::Failed, 0, 2, TrayState::Offline, "Codex is not running"),
            (HealthState::Starting, 0, 0, TrayState::Offline, "Codex is starting"),
        ];
        for (health, running, pending, state, text) in cases {
            let m = model(&status(health, running, pending), TrayChecks::default(), 0);
            assert_eq!((m.state, m.status.as_str()), (state, text), "{health:?} {running} {pending}");
        }
        // Unread peer messages show over work, under approvals.
        let m = model(&status(HealthState::Ready, 1, 0), TrayChecks::default(), 2);
        assert_eq!((m.state, m.status.as_str()), (TrayState::Unread, "2 unread messages"));
        let m = model(&status(HealthState::Ready, 0, 1), TrayChecks::default(), 2);
        assert_eq!(m.state, TrayState::NeedsApproval);
    }
}
