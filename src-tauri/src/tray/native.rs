//! The tray on Windows and macOS: `tray-icon` with a `muda` menu, living
//! where the OS's event loop runs ([`event_loop`]): on Windows a thread of
//! its own that runs the Win32 message loop (`win32_loop.rs`); on macOS the
//! main thread, which runs AppKit's (`appkit_loop.rs`; the tray process's
//! tokio runtime runs on another thread there). A new model is handed to
//! that loop; menu clicks and (on Windows) a left click on the icon come
//! back as [`MenuAction`]s.

#[cfg(windows)]
#[path = "win32_loop.rs"]
mod event_loop;
#[cfg(target_os = "macos")]
#[path = "appkit_loop.rs"]
mod event_loop;

pub(super) use event_loop::with_event_loop;

use super::{decode, entries, send, Entry, MenuAction, TrayError, TrayModel, TrayState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stdx::MutexExt;
use tokio::sync::mpsc;
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

/// The running tray: the loop it lives on.
#[derive(Clone)]
pub struct Tray(event_loop::Handle);

impl Tray {
    /// Shows `model`; `false` once the tray is gone.
    pub async fn show(&self, model: TrayModel) -> bool {
        self.0.show(model)
    }

    pub async fn shutdown(&self) {
        self.0.quit();
    }
}

/// Each OS's habit: on Windows a left click opens the app and a right click
/// shows the menu; a macOS menu-bar item shows its menu on any click.
const LEFT_CLICK_OPENS: bool = cfg!(windows);

/// Which action each menu item stands for (rebuilt with the menu).
type Actions = Arc<Mutex<HashMap<MenuId, MenuAction>>>;

/// The tray on its loop's thread, and what redrawing it needs.
struct Resident {
    icon: TrayIcon,
    icons: Vec<(TrayState, Icon)>,
    ids: Actions,
}

impl Resident {
    /// Makes the tray (on the loop's thread) and routes its events to `actions`.
    fn build(actions: mpsc::Sender<MenuAction>) -> Result<Self, TrayError> {
        let icons = icons()?;
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
            if !LEFT_CLICK_OPENS {
                return;
            }
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
        let icon = TrayIconBuilder::new()
            .with_id("perch")
            .with_menu(Box::new(menu(&model, &ids)))
            .with_menu_on_left_click(!LEFT_CLICK_OPENS)
            .with_tooltip(format!("Perch: {}", model.status))
            .with_icon(icons[0].1.clone())
            .build()
            .map_err(|err| {
                TrayError::Register(format!("the tray icon could not be added: {err}"))
            })?;
        let resident = Self { icon, icons, ids };
        resident.apply(&model);
        Ok(resident)
    }

    fn apply(&self, model: &TrayModel) {
        if let Some((_, icon)) = self.icons.iter().find(|(s, _)| *s == model.state) {
            if let Err(err) = self.icon.set_icon(Some(icon.clone())) {
                tracing::warn!("the tray icon: {err}");
            }
        }
        if let Err(err) = self
            .icon
            .set_tooltip(Some(format!("Perch: {}", model.status)))
        {
            tracing::warn!("the tray tooltip: {err}");
        }
        self.icon.set_menu(Some(Box::new(menu(model, &self.ids))));
    }
}

pub(super) async fn spawn(actions: mpsc::Sender<MenuAction>) -> Result<Tray, TrayError> {
    event_loop::start(move || Resident::build(actions))
        .await
        .map(Tray)
}

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
