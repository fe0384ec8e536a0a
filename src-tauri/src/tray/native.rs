//! The tray on Windows: `tray-icon` with a `muda` menu, on a thread of its
//! own that creates them and runs the Win32 message loop they need (the
//! tray process's tokio runtime keeps its threads). A new model is handed
//! over a channel and the loop woken with a thread message; menu clicks and
//! a left click on the icon come back as [`MenuAction`]s.
#![allow(unsafe_code)]

use super::{decode, entries, send, Entry, MenuAction, TrayError, TrayModel, TrayState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stdx::MutexExt;
use tokio::sync::{mpsc, oneshot};
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use windows_sys::Win32::System::Threading::GetCurrentThreadId;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    DispatchMessageW, GetMessageW, PostQuitMessage, PostThreadMessageW, TranslateMessage, MSG,
    WM_APP,
};

enum Command {
    Show(Box<TrayModel>),
    Quit,
}

/// The running tray: where models go, and the thread to wake.
#[derive(Clone)]
pub struct Tray {
    commands: std::sync::mpsc::Sender<Command>,
    thread: u32,
}

impl Tray {
    fn post(&self, command: Command) -> bool {
        // SAFETY: posts a message with no pointers to a thread id this tray
        // got from its own thread; it fails harmlessly once the thread ended.
        self.commands.send(command).is_ok()
            && unsafe { PostThreadMessageW(self.thread, WM_APP, 0, 0) } != 0
    }

    /// Shows `model`; `false` once the tray is gone.
    pub async fn show(&self, model: TrayModel) -> bool {
        self.post(Command::Show(Box::new(model)))
    }

    pub async fn shutdown(&self) {
        self.post(Command::Quit);
    }
}

/// Which action each menu item stands for (rebuilt with the menu).
type Actions = Arc<Mutex<HashMap<MenuId, MenuAction>>>;

fn menu(model: &TrayModel, ids: &Actions) -> Menu {
    let menu = Menu::new();
    let mut actions = ids.lock_unpoisoned();
    actions.clear();
    for entry in entries(model) {
        let appended = match entry {
            Entry::Label(label) => menu.append(&MenuItem::new(label, false, None)),
            Entry::Item {
                label,
                enabled,
                action,
            } => {
                let item = MenuItem::new(label, enabled, None);
                actions.insert(item.id().clone(), action);
                menu.append(&item)
            }
            Entry::Check {
                label,
                checked,
                enabled,
                action,
            } => {
                let item = CheckMenuItem::new(label, enabled, checked, None);
                actions.insert(item.id().clone(), action);
                menu.append(&item)
            }
            Entry::Separator => menu.append(&PredefinedMenuItem::separator()),
        };
        if let Err(err) = appended {
            tracing::warn!("the tray menu: {err}");
        }
    }
    menu
}

fn icons() -> Result<Vec<(TrayState, Icon)>, TrayError> {
    TrayState::ALL
        .iter()
        .map(|&state| {
            let rgba = decode(state.png())?;
            let icon = Icon::from_rgba(rgba.pixels, rgba.width, rgba.height)
                .map_err(|e| TrayError::Register(format!("a tray icon: {e}")))?;
            Ok((state, icon))
        })
        .collect()
}

fn apply(tray: &TrayIcon, model: &TrayModel, icons: &[(TrayState, Icon)], ids: &Actions) {
    if let Some((_, icon)) = icons.iter().find(|(s, _)| *s == model.state) {
        if let Err(err) = tray.set_icon(Some(icon.clone())) {
            tracing::warn!("the tray icon: {err}");
        }
    }
    if let Err(err) = tray.set_tooltip(Some(format!("Perch: {}", model.status))) {
        tracing::warn!("the tray tooltip: {err}");
    }
    tray.set_menu(Some(Box::new(menu(model, ids))));
}

pub(super) async fn spawn(actions: mpsc::Sender<MenuAction>) -> Result<Tray, TrayError> {
    let (ready, started) = oneshot::channel();
    std::thread::Builder::new()
        .name("perch-tray".into())
        .spawn(move || run(actions, ready))
        .map_err(|e| TrayError::Register(format!("starting the tray's thread: {e}")))?;
    started
        .await
        .map_err(|_| TrayError::Register("the tray's thread ended before the tray showed".into()))?
}

fn run(actions: mpsc::Sender<MenuAction>, ready: oneshot::Sender<Result<Tray, TrayError>>) {
    let icons = match icons() {
        Ok(icons) => icons,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let ids: Actions = Arc::default();
    let clicked = actions.clone();
    let by_id = ids.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        let action = by_id.lock_unpoisoned().get(event.id()).copied();
        if let Some(action) = action {
            send(&clicked, action);
        }
    }));
    TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
        if let TrayIconEvent::Click {
            button: MouseButton::Left,
            button_state: MouseButtonState::Up,
            ..
        } = event
        {
            send(&actions, MenuAction::Open);
        }
    }));
    let model = TrayModel::starting();
    let built = TrayIconBuilder::new()
        .with_id("perch")
        .with_menu(Box::new(menu(&model, &ids)))
        .with_tooltip(format!("Perch: {}", model.status))
        .with_icon(icons[0].1.clone())
        .build();
    let tray = match built {
        Ok(tray) => tray,
        Err(err) => {
            let _ = ready.send(Err(TrayError::Register(format!(
                "the tray icon could not be added: {err}"
            ))));
            return;
        }
    };
    apply(&tray, &model, &icons, &ids);
    let (commands, inbox) = std::sync::mpsc::channel();
    // SAFETY: reads this thread's own id.
    let thread = unsafe { GetCurrentThreadId() };
    if ready.send(Ok(Tray { commands, thread })).is_err() {
        return;
    }
    // SAFETY: the standard message loop over a zeroed MSG this function
    // owns; GetMessageW returns 0 on WM_QUIT and -1 on an error.
    unsafe {
        let mut message: MSG = std::mem::zeroed();
        while GetMessageW(&mut message, std::ptr::null_mut(), 0, 0) > 0 {
            if message.message == WM_APP {
                for command in inbox.try_iter() {
                    match command {
                        Command::Show(model) => apply(&tray, &model, &icons, &ids),
                        Command::Quit => PostQuitMessage(0),
                    }
                }
            }
            TranslateMessage(&message);
            DispatchMessageW(&message);
        }
    }
    drop(tray);
}
