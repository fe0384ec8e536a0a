//! One notification with buttons on the OS's own notification service, and
//! which button the person pressed. One interface, one implementation per
//! OS: the freedesktop service over D-Bus on Linux and the BSDs
//! (notify-rust), Windows toasts (tauri-winrt-notification), macOS
//! UserNotifications (objc2); docs/desktop.md says what each OS does.

#[cfg(all(unix, not(target_os = "macos")))]
#[path = "freedesktop.rs"]
mod platform;
#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod platform;
#[cfg(windows)]
#[path = "windows.rs"]
mod platform;

/// What to show.
pub(crate) struct Toast {
    pub summary: String,
    pub body: String,
    /// `(action, label)`; `default` is a click on the notification itself.
    pub actions: Vec<(&'static str, &'static str)>,
    /// Approvals and changes: stays until answered where the OS allows.
    pub urgent: bool,
    /// The notification this one replaces (a coalesced burst), where the OS
    /// can replace one.
    pub replaces: Option<u32>,
}

/// Whether notifications here carry buttons (blocking: may ask the service).
pub(crate) fn supports_actions() -> bool {
    platform::supports_actions()
}

/// Shows `toast` (blocking) and calls `on_action` with the action pressed,
/// from another thread, later. The id is what `replaces` and [`answered`] take.
pub(crate) fn show(toast: Toast, on_action: impl Fn(&str) + Send + 'static) -> Result<u32, String> {
    platform::show(toast, on_action)
}

/// Replaces notification `id` by a short one that says how it ended
/// (blocking); where the OS cannot replace one, nothing is shown.
pub(crate) fn answered(id: u32, summary: &str) {
    platform::answered(id, summary);
}
