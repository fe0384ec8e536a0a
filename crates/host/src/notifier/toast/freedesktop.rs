//! The freedesktop notification service over D-Bus: ids that replace,
//! actions (when the server has the `actions` capability), urgency.

use super::Toast;

pub(super) fn supports_actions() -> bool {
    notify_rust::get_capabilities().is_ok_and(|c| c.iter().any(|c| c == "actions"))
}

pub(super) fn show(toast: Toast, on_action: impl Fn(&str) + Send + 'static) -> Result<u32, String> {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Perch")
        .icon("perch")
        .summary(&toast.summary)
        .body(&toast.body);
    if let Some(id) = toast.replaces {
        notification.id(id);
    }
    for (action, label) in &toast.actions {
        notification.action(action, label);
    }
    if toast.urgent {
        notification.urgency(notify_rust::Urgency::Critical);
    }
    let handle = notification.show().map_err(|e| e.to_string())?;
    let id = handle.id();
    if !toast.actions.is_empty() {
        std::thread::Builder::new()
            .name("perch-notification".into())
            .spawn(move || handle.wait_for_action(|action| on_action(action)))
            .map_err(|e| format!("waiting for the notification's buttons: {e}"))?;
    }
    Ok(id)
}

pub(super) fn answered(id: u32, summary: &str) {
    let shown = notify_rust::Notification::new()
        .appname("Perch")
        .icon("perch")
        .id(id)
        .summary(summary)
        .timeout(notify_rust::Timeout::Milliseconds(4000))
        .show();
    if let Err(err) = shown {
        tracing::debug!("could not update a notification: {err}");
    }
}
