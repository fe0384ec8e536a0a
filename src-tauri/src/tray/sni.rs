//! The tray on Linux: a StatusNotifierItem with its dbusmenu (ksni, over
//! D-Bus; no GTK). ksni signals just the properties and menu items that
//! differ from what it showed.

use super::{decode, entries, send, Entry, MenuAction, TrayError, TrayModel, TrayState};
use ksni::menu::{CheckmarkItem, MenuItem, StandardItem};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The icons, decoded once from the PNGs in `icons/` into the ARGB32
/// pixmaps StatusNotifierItem carries.
struct Icons(Vec<(TrayState, ksni::Icon)>);

impl Icons {
    fn decode() -> Result<Self, TrayError> {
        TrayState::ALL
            .iter()
            .map(|&state| {
                let rgba = decode(state.png())?;
                let icon = ksni::Icon {
                    width: rgba.width as i32,
                    height: rgba.height as i32,
                    data: rgba
                        .pixels
                        .chunks_exact(4)
                        .flat_map(|p| [p[3], p[0], p[1], p[2]])
                        .collect(),
                };
                Ok((state, icon))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn get(&self, state: TrayState) -> Vec<ksni::Icon> {
        self.0
            .iter()
            .filter(|(s, _)| *s == state)
            .map(|(_, icon)| icon.clone())
            .collect()
    }
}

/// The tray as ksni serves it: the model shown, and where clicks go.
pub struct PerchTray {
    model: TrayModel,
    icons: Arc<Icons>,
    actions: mpsc::Sender<MenuAction>,
}

impl ksni::Tray for PerchTray {
    fn id(&self) -> String {
        "perch".into()
    }

    fn title(&self) -> String {
        "Perch".into()
    }

    fn status(&self) -> ksni::Status {
        match self.model.state {
            TrayState::NeedsApproval => ksni::Status::NeedsAttention,
            _ => ksni::Status::Active,
        }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.icons.get(self.model.state)
    }

    fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.icons.get(TrayState::NeedsApproval)
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: "Perch".into(),
            description: self.model.status.clone(),
            ..Default::default()
        }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        send(&self.actions, MenuAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        entries(&self.model)
            .into_iter()
            .map(|entry| match entry {
                Entry::Label(label) => StandardItem {
                    label,
                    enabled: false,
                    ..Default::default()
                }
                .into(),
                Entry::Item {
                    label,
                    enabled,
                    action,
                } => StandardItem {
                    label,
                    enabled,
                    activate: Box::new(move |tray: &mut Self| send(&tray.actions, action)),
                    ..Default::default()
                }
                .into(),
                Entry::Check {
                    label,
                    checked,
                    enabled,
                    action,
                } => CheckmarkItem {
                    label: label.into(),
                    checked,
                    enabled,
                    activate: Box::new(move |tray: &mut Self| send(&tray.actions, action)),
                    ..Default::default()
                }
                .into(),
                Entry::Separator => MenuItem::Separator,
            })
            .collect()
    }
}

/// The running tray.
#[derive(Clone)]
pub struct Tray(ksni::Handle<PerchTray>);

impl Tray {
    /// Shows `model`; `false` once the tray is gone.
    pub async fn show(&self, model: TrayModel) -> bool {
        self.0
            .update(move |tray| tray.model = model)
            .await
            .is_some()
    }

    pub async fn shutdown(&self) {
        self.0.shutdown().await;
    }
}

/// The whole app on this thread: ksni needs no particular thread.
pub(crate) fn with_event_loop(
    work: impl FnOnce() -> u8 + Send + 'static,
) -> std::process::ExitCode {
    std::process::ExitCode::from(work())
}

/// Registers the tray with the panel.
pub(super) async fn spawn(actions: mpsc::Sender<MenuAction>) -> Result<Tray, TrayError> {
    use ksni::TrayMethods;
    let tray = PerchTray {
        model: TrayModel::starting(),
        icons: Arc::new(Icons::decode()?),
        actions,
    };
    tray.spawn().await.map(Tray).map_err(|e| {
        TrayError::Register(format!(
            "the tray did not register with the panel (StatusNotifierWatcher): {e}"
        ))
    })
}
