//! The tray: an icon per state, a status line and tooltip, and every action
//! in the menu (many Linux panels never deliver clicks on the icon; where
//! one does, a click opens Perch). What it shows is one pure [`TrayModel`]
//! and one menu ([`entries`]); a backend per OS draws them: a
//! StatusNotifierItem over D-Bus on Linux (`sni.rs`, ksni, no GTK),
//! `tray-icon` + `muda` on Windows and macOS (`native.rs`, on the thread
//! that runs the OS's event loop: a Win32 message loop of its own, AppKit's
//! on the main thread). The tray is told of a new model only when the model
//! changed.

#[cfg(target_os = "linux")]
#[path = "sni.rs"]
mod platform;
#[cfg(any(windows, target_os = "macos"))]
#[path = "native.rs"]
mod platform;

pub use platform::Tray;

/// Runs `work`, the whole app (its exit status), with the event loop the
/// tray needs: on macOS AppKit's owns the main thread and `work` runs on
/// another; elsewhere `work` runs on this thread.
pub fn with_event_loop(work: impl FnOnce() -> u8 + Send + 'static) -> std::process::ExitCode {
    platform::with_event_loop(work)
}

use crate::shell::{ShellSlot, WindowKind};
use perch_runtime::model::{EventKind, Status};
use perch_runtime::settings::{NotificationsPatch, Settings, SettingsPatch};
use perch_runtime::{CodexState, Runtime};
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Idle,
    Working,
    NeedsApproval,
    /// Peer messages the person has not read.
    Unread,
    Offline,
    /// Codex is stopped while idle (`[codex] sleep_after`); it starts again
    /// when something needs it.
    Asleep,
}

impl TrayState {
    const ALL: [Self; 6] = [
        Self::Idle,
        Self::Working,
        Self::NeedsApproval,
        Self::Unread,
        Self::Offline,
        Self::Asleep,
    ];

    fn png(self) -> &'static [u8] {
        match self {
            Self::Idle => include_bytes!("../../../icons/tray-idle.png"),
            Self::Working => include_bytes!("../../../icons/tray-working.png"),
            Self::NeedsApproval => include_bytes!("../../../icons/tray-approval.png"),
            Self::Unread => include_bytes!("../../../icons/tray-unread.png"),
            Self::Offline => include_bytes!("../../../icons/tray-offline.png"),
            Self::Asleep => include_bytes!("../../../icons/tray-asleep.png"),
        }
    }
}

/// Everything the tray shows; the tray changes only where two models differ.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayModel {
    pub state: TrayState,
    pub status: String,
    /// Whom Codex is signed in as ("Account: …"), once known.
    pub account: Option<String>,
    /// The menu offers "Sign in…".
    pub needs_sign_in: bool,
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

impl TrayModel {
    /// What the tray shows before the server is up.
    fn starting() -> Self {
        Self {
            state: TrayState::Offline,
            status: "starting".into(),
            account: None,
            needs_sign_in: false,
            running_turns: 0,
            pending_approvals: 0,
            dnd: false,
            autostart: false,
            autostart_supported: false,
        }
    }
}

/// The tray's view of the runtime. Pure, so it is tested by table.
/// `unread`: peer messages to the person not yet read.
pub fn model(status: &Status, checks: TrayChecks, unread: usize) -> TrayModel {
    let running = status.active_turns.len();
    let pending = status.pending_approvals;
    let needs_sign_in = status
        .account
        .as_ref()
        .is_some_and(perch_runtime::model::AccountState::needs_sign_in);
    let (state, text) = match status.codex.state {
        CodexState::Failed | CodexState::Stopped => (
            TrayState::Offline,
            format!("Codex is not running{}", detail(&status.codex.detail)),
        ),
        CodexState::Starting => (TrayState::Offline, "Codex is starting".to_string()),
        // Nothing runs or waits while it sleeps; unread messages still show.
        CodexState::Asleep if unread > 0 => (
            TrayState::Unread,
            format!("{unread} unread message{}", plural(unread)),
        ),
        CodexState::Asleep => (
            TrayState::Asleep,
            "Idle (Codex asleep to save memory)".to_string(),
        ),
        CodexState::Restarting => (
            TrayState::Offline,
            format!("Codex is restarting{}", detail(&status.codex.detail)),
        ),
        CodexState::Ready | CodexState::Degraded if pending > 0 => (
            TrayState::NeedsApproval,
            format!(
                "{pending} approval{} need{} you",
                plural(pending),
                if pending == 1 { "s" } else { "" }
            ),
        ),
        CodexState::Ready | CodexState::Degraded if unread > 0 => (
            TrayState::Unread,
            format!("{unread} unread message{}", plural(unread)),
        ),
        CodexState::Ready | CodexState::Degraded if running > 0 => (
            TrayState::Working,
            format!("Working on {running} turn{}", plural(running)),
        ),
        CodexState::Ready | CodexState::Degraded if needs_sign_in => (
            TrayState::Idle,
            "Not signed in: no turn can run (Sign in…)".to_string(),
        ),
        CodexState::Ready | CodexState::Degraded => (TrayState::Idle, "Idle".to_string()),
    };
    TrayModel {
        state,
        status: text,
        account: status
            .account
            .as_ref()
            .map(|a| format!("Account: {}", a.describe())),
        needs_sign_in,
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
    detail
        .as_deref()
        .map(|d| format!(": {}", d.chars().take(80).collect::<String>()))
        .unwrap_or_default()
}

/// Every action of the tray menu (and of a click on the icon: `Open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    Open,
    /// Opens the chat window, which shows the sign-in screen.
    SignIn,
    Dashboard,
    NewSession,
    Interrupt,
    Approvals,
    ToggleDnd,
    ToggleAutostart,
    Settings,
    Quit,
}

/// One line of the menu, whichever backend draws it.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Text that is not an action (the status, the account).
    Label(String),
    Item {
        label: String,
        enabled: bool,
        action: MenuAction,
    },
    Check {
        label: &'static str,
        checked: bool,
        enabled: bool,
        action: MenuAction,
    },
    Separator,
}

/// The menu for `m`.
pub fn entries(m: &TrayModel) -> Vec<Entry> {
    let item = |label: String, enabled: bool, action: MenuAction| Entry::Item {
        label,
        enabled,
        action,
    };
    let mut menu = vec![Entry::Label(format!("Perch: {}", m.status))];
    if let Some(account) = &m.account {
        menu.push(Entry::Label(account.clone()));
    }
    if m.needs_sign_in {
        menu.push(item("Sign in…".into(), true, MenuAction::SignIn));
    }
    menu.extend([
        Entry::Separator,
        item("Open Perch".into(), true, MenuAction::Open),
        item("Dashboard".into(), true, MenuAction::Dashboard),
        item("New session".into(), true, MenuAction::NewSession),
        item(
            "Interrupt current turn".into(),
            m.running_turns > 0,
            MenuAction::Interrupt,
        ),
        item(
            format!("Pending approvals ({})", m.pending_approvals),
            true,
            MenuAction::Approvals,
        ),
        Entry::Separator,
        Entry::Check {
            label: "Do not disturb",
            checked: m.dnd,
            enabled: true,
            action: MenuAction::ToggleDnd,
        },
        Entry::Check {
            label: "Start at login",
            checked: m.autostart,
            enabled: m.autostart_supported,
            action: MenuAction::ToggleAutostart,
        },
        item("Settings…".into(), true, MenuAction::Settings),
        Entry::Separator,
        item("Quit Perch".into(), true, MenuAction::Quit),
    ]);
    menu
}

/// A tray icon decoded from its PNG: 8-bit RGBA rows.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

fn decode(png_bytes: &[u8]) -> Result<Rgba, TrayError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut rgba = vec![
        0;
        reader
            .output_buffer_size()
            .ok_or(TrayError::Icon("the icon is too large"))?
    ];
    let info = reader.next_frame(&mut rgba)?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return Err(TrayError::Icon("the icon is not 8-bit RGBA"));
    }
    rgba.truncate(info.buffer_size());
    Ok(Rgba {
        width: info.width,
        height: info.height,
        pixels: rgba,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    #[error("cannot decode a tray icon: {0}")]
    Png(#[from] png::DecodingError),
    #[error("cannot decode a tray icon: {0}")]
    Icon(&'static str),
    #[error("{0}")]
    Register(String),
}

/// Shows the tray. Menu actions (and a click on the icon: `Open`) arrive
/// on the returned receiver, for `run_menu_actions`.
pub async fn spawn() -> Result<(Tray, mpsc::Receiver<MenuAction>), TrayError> {
    let (actions, received) = mpsc::channel(16);
    Ok((platform::spawn(actions).await?, received))
}

/// Hands a menu action to `run_menu_actions`; said when it is dropped.
fn send(actions: &mpsc::Sender<MenuAction>, action: MenuAction) {
    if let Err(err) = actions.try_send(action) {
        tracing::warn!("tray menu {action:?} dropped: {err}");
    }
}

/// Keeps the tray in step with the runtime: on every event that can change
/// it, recompute the model (settings only when they changed) and hand it to
/// the tray only if it differs from the one shown.
pub fn spawn_updates(tray: Tray, runtime: Arc<Runtime>) {
    tokio::spawn(async move {
        let mut subscription = runtime.events().subscribe(None);
        let mut checks = match runtime.settings().await {
            Ok(settings) => TrayChecks::from(&settings),
            Err(err) => {
                tracing::error!("the tray cannot read the settings: {err}");
                return;
            }
        };
        let mut unread = 0;
        let mut shown: Option<TrayModel> = None;
        loop {
            match runtime.status() {
                Ok(status) => {
                    let next = model(&status, checks, unread);
                    if shown.as_ref() != Some(&next) {
                        shown = Some(next.clone());
                        if !tray.show(next).await {
                            return; // the tray was shut down
                        }
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
                            let now = status.link().map_or(0, |link| link.unread);
                            if now != unread {
                                unread = now;
                                break;
                            }
                        }
                        EventKind::CodexState { .. }
                        | EventKind::AccountUpdated { .. }
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

/// Runs the menu's actions in order. One clicked while Perch is still
/// starting waits for it instead of being lost.
pub fn run_menu_actions(mut actions: mpsc::Receiver<MenuAction>, shell: ShellSlot) {
    tokio::spawn(async move {
        while let Some(action) = actions.recv().await {
            tracing::info!("tray menu: {action:?}");
            let Some(shell) = crate::shell::ready(&shell).await else {
                return;
            };
            if let Err(err) = run_menu_action(&shell, action).await {
                tracing::warn!("tray menu {action:?}: {err}");
            }
        }
    });
}

async fn run_menu_action(
    shell: &crate::shell::Shell,
    action: MenuAction,
) -> Result<(), perch_runtime::Error> {
    let runtime = &shell.runtime;
    match action {
        MenuAction::Open => shell.show(WindowKind::Chat, None),
        // The chat window shows the sign-in screen while nobody is signed in.
        MenuAction::SignIn => shell.show(WindowKind::Chat, Some("/chat".into())),
        MenuAction::Dashboard => shell.show(WindowKind::Dashboard, None),
        MenuAction::Settings => shell.show(WindowKind::Dashboard, Some("/settings".into())),
        MenuAction::NewSession => {
            let session = runtime.create_session(Default::default()).await?;
            shell.show(WindowKind::Chat, Some(format!("/chat/{}", session.id)));
        }
        MenuAction::Interrupt => {
            let status = runtime.status()?;
            if let Some(turn) = status.active_turns.iter().max_by_key(|t| t.started_at) {
                runtime.interrupt(&turn.session_id).await?;
            }
        }
        MenuAction::Approvals => {
            let pending = runtime.approvals(true)?;
            let route = match pending.as_slice() {
                [only] => format!("/approvals/{}", only.id),
                _ => "/approvals".into(),
            };
            shell.show(WindowKind::Dashboard, Some(route));
        }
        MenuAction::ToggleDnd => {
            let dnd = !runtime.config().notifications.dnd;
            let notifications = NotificationsPatch {
                dnd: Some(dnd),
                ..Default::default()
            };
            let patch = SettingsPatch {
                notifications: Some(notifications),
                ..Default::default()
            };
            runtime.update_settings(patch).await?;
        }
        MenuAction::ToggleAutostart => {
            let enabled = runtime.settings().await?.autostart.enabled;
            let patch = SettingsPatch {
                autostart: Some(!enabled),
                ..Default::default()
            };
            runtime.update_settings(patch).await?;
        }
        MenuAction::Quit => shell.quit(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use perch_runtime::model::{ActiveTurn, CodexStatus};

    fn status(state: CodexState, running: usize, pending: usize) -> Status {
        Status {
            version: "test".into(),
            codex: CodexStatus {
                state,
                detail: None,
                version: None,
                pinned_version: "0.169.0".into(),
                restarts: 0,
                pid: None,
                bin: String::new(),
            },
            active_turns: (0..running)
                .map(|i| ActiveTurn {
                    session_id: format!("s{i}"),
                    turn_id: "t".into(),
                    stalled: false,
                    started_at: 0,
                })
                .collect(),
            pending_approvals: pending,
            approval_policy: perch_runtime::ApprovalPolicy::Guarded,
            model: None,
            data_dir: String::new(),
            warnings: vec![],
            account: None,
        }
    }

    #[test]
    fn the_tray_state_follows_codex_turns_and_approvals() {
        let cases = [
            (CodexState::Ready, 0, 0, TrayState::Idle, "Idle"),
            (
                CodexState::Ready,
                2,
                0,
                TrayState::Working,
                "Working on 2 turns",
            ),
            (
                CodexState::Degraded,
                1,
                1,
                TrayState::NeedsApproval,
                "1 approval needs you",
            ),
            (
                CodexState::Ready,
                1,
                3,
                TrayState::NeedsApproval,
                "3 approvals need you",
            ),
            (
                CodexState::Failed,
                0,
                2,
                TrayState::Offline,
                "Codex is not running",
            ),
            (
                CodexState::Starting,
                0,
                0,
                TrayState::Offline,
                "Codex is starting",
            ),
            (
                CodexState::Asleep,
                0,
                0,
                TrayState::Asleep,
                "Idle (Codex asleep to save memory)",
            ),
        ];
        for (health, running, pending, state, text) in cases {
            let m = model(&status(health, running, pending), TrayChecks::default(), 0);
            assert_eq!(
                (m.state, m.status.as_str()),
                (state, text),
                "{health:?} {running} {pending}"
            );
        }
        // Unread peer messages show over work, under approvals.
        let m = model(&status(CodexState::Ready, 1, 0), TrayChecks::default(), 2);
        assert_eq!(
            (m.state, m.status.as_str()),
            (TrayState::Unread, "2 unread messages")
        );
        let m = model(&status(CodexState::Ready, 0, 1), TrayChecks::default(), 2);
        assert_eq!(m.state, TrayState::NeedsApproval);
        // Issue 15: nobody signed in is said, with "Sign in…" in the menu.
        let mut nobody = status(CodexState::Ready, 0, 0);
        nobody.account = Some(perch_runtime::model::AccountState {
            account: None,
            requires_openai_auth: true,
            shared_with_codex_cli: true,
        });
        let m = model(&nobody, TrayChecks::default(), 0);
        assert_eq!(m.status, "Not signed in: no turn can run (Sign in…)");
        assert_eq!(m.account.as_deref(), Some("Account: not signed in"));
        assert!(m.needs_sign_in);
    }

    #[test]
    fn every_tray_icon_decodes() -> Result<(), TrayError> {
        for state in TrayState::ALL {
            let icon = decode(state.png())?;
            assert_eq!(
                icon.pixels.len(),
                (icon.width * icon.height * 4) as usize,
                "{state:?}"
            );
            assert!(
                icon.pixels.chunks_exact(4).any(|p| p[3] > 0),
                "{state:?}: fully transparent"
            );
        }
        Ok(())
    }

    #[test]
    fn the_menu_offers_sign_in_and_interrupt_only_when_they_apply() {
        let mut m = TrayModel::starting();
        let actions = |m: &TrayModel| -> Vec<(MenuAction, bool)> {
            entries(m)
                .into_iter()
                .filter_map(|e| match e {
                    Entry::Item {
                        action, enabled, ..
                    }
                    | Entry::Check {
                        action, enabled, ..
                    } => Some((action, enabled)),
                    _ => None,
                })
                .collect()
        };
        assert!(!actions(&m).contains(&(MenuAction::SignIn, true)));
        assert!(actions(&m).contains(&(MenuAction::Interrupt, false)));
        m.needs_sign_in = true;
        m.running_turns = 1;
        assert!(actions(&m).contains(&(MenuAction::SignIn, true)));
        assert!(actions(&m).contains(&(MenuAction::Interrupt, true)));
        assert_eq!(
            entries(&m).first(),
            Some(&Entry::Label("Perch: starting".into()))
        );
    }
}
