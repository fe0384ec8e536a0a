//! notify-rust's plain notifications: summary and body, no buttons, no
//! replacing (macOS until its UserNotifications backend lands, issue 19).

use super::Toast;

pub(super) fn supports_actions() -> bool {
    false
}

pub(super) fn show(toast: Toast, _: impl Fn(&str) + Send + 'static) -> Result<u32, String> {
    notify_rust::Notification::new()
        .appname("Perch")
        .summary(&toast.summary)
        .body(&toast.body)
        .show()
        .map(|_| 0)
        .map_err(|e| e.to_string())
}

pub(super) fn answered(_: u32, _: &str) {}
