//! OS notifications for runtime events (`toast/`: D-Bus on Linux, toasts
//! on Windows).
//!
//! - An approval notifies with Approve / Deny actions where the server
//!   supports actions; its default action opens the approval.
//! - A finished turn notifies only while no Perch window is visible.
//! - Codex crashing or giving up, and failed turns, notify.
//! - A peer message to the person or to Perch's agent notifies with its
//!   sender and subject (or first line), unless its sender or channel is
//!   muted; Open and Reply take the person to its thread in the Inbox.
//! - Do not disturb silences all but approvals (when allowed).
//! - Bursts of one kind within [`COALESCE_WINDOW`] replace the previous
//!   notification ("3 approvals need you", "5 new messages from 3 agents")
//!   instead of stacking.
//!
//! Text from Codex or peers is untrusted: it is escaped for servers that
//! render markup and cut short.
//!
//! `policy.rs` decides (pure), `coalesce.rs` merges bursts (pure), `toast/`
//! shows one on the OS's service; this file runs them on blocking threads
//! and carries their actions back.

mod coalesce;
mod policy;
#[cfg(test)]
mod tests;
mod toast;

pub use coalesce::{Coalescer, COALESCE_WINDOW};
pub use policy::{clean, note_for, Kind, Note, OpenTarget};

use perch_agent::AgentState;
use perch_runtime::model::EventKind;
use perch_runtime::{Decision, Runtime};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use toast::Toast;
use tokio::sync::mpsc;

/// What the notifier needs from the shell.
pub trait NotifierHost: Send + Sync + 'static {
    fn any_window_visible(&self) -> bool;
    fn open(&self, target: OpenTarget);
}

enum Action {
    Answer {
        approval_id: String,
        decision: Decision,
    },
    /// Accept (`true`) or discard a pending change.
    Decide {
        change_id: i64,
        accept: bool,
    },
    Open(OpenTarget),
}

/// The notifier's state between events.
struct Notifier {
    runtime: Arc<Runtime>,
    /// Says which turns wakeups started.
    agent: Arc<AgentState>,
    host: Arc<dyn NotifierHost>,
    coalescer: Coalescer,
    /// Approval id -> its own notification id, to mark it answered.
    approval_notes: HashMap<String, u32>,
    /// Pending approvals already notified, so a lag re-read skips them.
    notified: HashSet<String>,
    /// Pending change id -> its own notification id, to say how it ended.
    change_notes: HashMap<i64, u32>,
    supports_actions: bool,
    actions: mpsc::Sender<Action>,
}

/// Notifies about runtime events until the runtime's bus closes.
pub fn spawn(agent: Arc<AgentState>, host: Arc<dyn NotifierHost>) -> tokio::task::JoinHandle<()> {
    let runtime = agent.runtime().clone();
    tokio::spawn(async move {
        let (actions, mut actions_rx) = mpsc::channel::<Action>(32);
        let mut subscription = runtime.events().subscribe(None);
        let supports_actions = tokio::task::spawn_blocking(toast::supports_actions)
            .await
            .unwrap_or(false);
        let mut notifier = Notifier {
            runtime: runtime.clone(),
            agent,
            host: host.clone(),
            coalescer: Coalescer::default(),
            approval_notes: HashMap::new(),
            notified: HashSet::new(),
            change_notes: HashMap::new(),
            supports_actions,
            actions,
        };
        loop {
            tokio::select! {
                event = subscription.live.recv() => match event {
                    Ok(event) => notifier.handle(&event.kind).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Approvals must not be lost to a burst: re-read them.
                        match runtime.approvals(true) {
                            Ok(pending) => {
                                for approval in pending {
                                    if !notifier.notified.contains(&approval.id) {
                                        notifier.handle(&EventKind::ApprovalRequested { approval }).await;
                                    }
                                }
                            }
                            Err(err) => {
                                // Said, not swallowed: the person may have an approval waiting.
                                tracing::error!("re-reading pending approvals after a burst: {err}");
                                notifier.show(Note {
                                    kind: Kind::Approval,
                                    summary: "Approvals may be waiting".into(),
                                    body: clean(&format!("Perch could not read its pending approvals ({err}). Open Perch to see them.")),
                                    target: OpenTarget::Approvals,
                                    approval_id: None,
                                    change_id: None,
                                    sender: None,
                                }).await;
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                Some(action) = actions_rx.recv() => match action {
                    Action::Answer { approval_id, decision } => {
                        if let Err(err) = runtime.answer_approval(&approval_id, decision).await {
                            tracing::info!("approval {approval_id} from a notification: {err}");
                        }
                    }
                    Action::Decide { change_id, accept } => {
                        let decided = if accept {
                            notifier.agent.accept_change(change_id).await
                        } else {
                            notifier.agent.discard_change(change_id)
                        };
                        match decided {
                            Ok(change) => {
                                let outcome = match (&change.error, accept) {
                                    (Some(error), _) => format!("Failed: {}", clean(error)),
                                    (None, true) => format!("Applied: {}", clean(&change.summary)),
                                    (None, false) => format!("Discarded: {}", clean(&change.summary)),
                                };
                                if let Some(id) = notifier.change_notes.remove(&change_id) {
                                    answered(id, outcome).await;
                                }
                            }
                            Err(err) => tracing::info!("change {change_id} from a notification: {err}"),
                        }
                    }
                    Action::Open(target) => host.open(target),
                },
            }
        }
    })
}

impl Notifier {
    async fn handle(&mut self, event: &EventKind) {
        if let EventKind::ApprovalResolved { approval } = event {
            self.notified.remove(&approval.id);
            if let Some(id) = self.approval_notes.remove(&approval.id) {
                answered(id, format!("Answered: {}", clean(&approval.title))).await;
            }
            return;
        }
        // A wakeup's turn is told by its own note (`wakeup.run`), which
        // follows the wakeup's and the person's settings: no second one.
        if let EventKind::TurnCompleted { turn_id, .. } = event {
            if self.agent.is_wakeup_turn(turn_id) {
                return;
            }
        }
        let config = self.runtime.config().notifications;
        let Some(note) = note_for(event, &config, self.host.any_window_visible()) else {
            return;
        };
        if let Some(id) = &note.approval_id {
            self.notified.insert(id.clone());
        }
        self.show(note).await;
    }

    async fn show(&mut self, note: Note) {
        let now = Instant::now();
        let (note, replaces) = self.coalescer.coalesce(note, now);
        let kind = note.kind;
        let approval_id = note.approval_id.clone();
        let change_id = note.change_id;
        let target = note.target.clone();
        let mut actions = Vec::new();
        if self.supports_actions {
            actions.push(("default", "Open"));
            if approval_id.is_some() {
                actions.extend([("approve", "Approve"), ("deny", "Deny")]);
            }
            if change_id.is_some() {
                actions.extend([("accept", "Accept"), ("discard", "Discard")]);
            }
            if kind == Kind::PeerMessage {
                // No notification server here takes typed replies; Reply
                // opens the thread, whose composer answers the sender.
                actions.push(("reply", "Reply"));
            }
        }
        let toast = Toast {
            summary: note.summary,
            body: note.body,
            actions,
            urgent: matches!(kind, Kind::Approval | Kind::Change),
            replaces,
        };
        let answers = self.actions.clone();
        let answer_for = approval_id.clone();
        let on_action = move |action: &str| {
            let action = match (action, &answer_for, change_id) {
                ("accept" | "discard", _, Some(change_id)) => Action::Decide {
                    change_id,
                    accept: action == "accept",
                },
                ("approve", Some(id), _) => Action::Answer {
                    approval_id: id.clone(),
                    decision: Decision::Accept,
                },
                ("deny", Some(id), _) => Action::Answer {
                    approval_id: id.clone(),
                    decision: Decision::Decline,
                },
                ("default" | "reply", ..) => Action::Open(target.clone()),
                _ => return,
            };
            let _ = answers.blocking_send(action);
        };
        let shown = tokio::task::spawn_blocking(move || toast::show(toast, on_action)).await;
        let id = match shown {
            Ok(Ok(id)) => id,
            Ok(Err(err)) => {
                tracing::warn!("could not show a notification: {err}");
                return;
            }
            Err(err) => {
                tracing::warn!("the notification task failed: {err}");
                return;
            }
        };
        self.coalescer.shown(kind, id, now);
        if let Some(change) = change_id {
            self.change_notes.insert(change, id);
        }
        if let Some(approval) = &approval_id {
            self.approval_notes.insert(approval.clone(), id);
        } else if kind == Kind::Approval {
            // The coalesced note answers none of them by itself.
            self.approval_notes.retain(|_, note_id| *note_id != id);
        }
    }
}

/// A notification without buttons, for the shell to say something before
/// the notifier runs (Perch could not start, there is no tray).
pub async fn notify_plain(summary: &str, body: &str) {
    let toast = Toast {
        summary: summary.to_string(),
        body: clean(body),
        actions: Vec::new(),
        urgent: false,
        replaces: None,
    };
    let shown = tokio::task::spawn_blocking(move || toast::show(toast, |_| {})).await;
    if let Ok(Err(err)) = shown {
        tracing::warn!("could not show a notification: {err}");
    }
}

/// Replaces notification `id` by how it ended, off the async threads.
async fn answered(id: u32, summary: String) {
    let _ = tokio::task::spawn_blocking(move || toast::answered(id, &summary)).await;
}
