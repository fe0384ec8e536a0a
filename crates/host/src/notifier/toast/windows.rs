//! Windows toasts with buttons; a button or a click on the toast reaches
//! Perch while it runs. Toasts are attributed to Perch's AppUserModelID,
//! which the installer registers with its Start menu shortcut. A toast is
//! not replaced in place (bursts show the newest; answered ones stay).

use super::Toast;
use std::sync::atomic::{AtomicU32, Ordering};
use tauri_winrt_notification::{Scenario, Toast as WinToast};

/// Perch's AppUserModelID (installers/windows: the shortcut sets it).
pub(crate) const APP_ID: &str = "dev.perch.desktop";

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

pub(super) fn supports_actions() -> bool {
    true
}

pub(super) fn show(toast: Toast, on_action: impl Fn(&str) + Send + 'static) -> Result<u32, String> {
    if toast.replaces.is_some() {
        tracing::debug!("a toast is not replaced in place: this burst's shows anew");
    }
    let Toast {
        summary,
        body,
        actions,
        urgent,
        ..
    } = toast;
    let mut win = WinToast::new(APP_ID).title(&summary).text1(&body);
    for (action, label) in &actions {
        if *action != "default" {
            win = win.add_button(label, action);
        }
    }
    if urgent {
        // Stays on screen until the person acts.
        win = win.scenario(Scenario::Reminder);
    }
    win.on_activated(move |action| {
        on_action(action.as_deref().unwrap_or("default"));
        Ok(())
    })
    .show()
    .map_err(|e| e.to_string())?;
    Ok(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

pub(super) fn answered(_: u32, _: &str) {}
