//! What an event shows, if anything: pure, so it is tested by table
//! (`tests.rs`). Text from Codex or peers is untrusted: [`clean`] escapes it
//! for servers that render markup and cuts it short.

use perch_runtime::config::NotificationsConfig;
use perch_runtime::model::{Approval, EventKind, TurnStatus};
use perch_runtime::CodexState;

pub(super) const MAX_BODY_CHARS: usize = 240;

/// Where a notification click takes the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenTarget {
    Approval {
        id: String,
    },
    Approvals,
    Session {
        id: String,
    },
    Dashboard,
    /// A peer message's thread in the Inbox (`None`: the Inbox).
    Inbox {
        thread_id: Option<i64>,
    },
    Peers,
    Wakeups,
    /// The changes waiting for the person.
    Changes,
}

impl OpenTarget {
    /// The UI route (hash) of the target.
    pub fn route(&self) -> String {
        match self {
            Self::Approval { id } => format!("/approvals/{id}"),
            Self::Approvals => "/approvals".into(),
            Self::Session { id } => format!("/chat/{id}"),
            Self::Dashboard => "/dashboard".into(),
            Self::Inbox {
                thread_id: Some(id),
            } => format!("/inbox/{id}"),
            Self::Inbox { thread_id: None } => "/inbox".into(),
            Self::Peers => "/peers".into(),
            Self::Wakeups => "/wakeups".into(),
            Self::Changes => "/changes".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Approval,
    /// A change a peer-driven turn asked for waits for the person: answered
    /// like an approval, but merged only with its own kind.
    Change,
    TurnFinished,
    Codex,
    Error,
    PeerMessage,
    Wakeup,
}

/// A notification to show, before coalescing.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub kind: Kind,
    pub summary: String,
    pub body: String,
    pub target: OpenTarget,
    /// Set for a single approval: the Approve / Deny actions answer it.
    pub approval_id: Option<String>,
    /// Set for a single pending change: the Accept / Discard actions decide it.
    pub change_id: Option<i64>,
    /// Who a peer message is from (coalescing counts senders).
    pub sender: Option<String>,
}

/// Decides what an event shows, if anything. Pure, so it is tested by table.
pub fn note_for(
    event: &EventKind,
    config: &NotificationsConfig,
    window_visible: bool,
) -> Option<Note> {
    let allowed = |kind: Kind, wanted: bool| {
        let asks = matches!(kind, Kind::Approval | Kind::Change);
        wanted && (!config.dnd || (asks && config.dnd_allows_approvals))
    };
    match event {
        EventKind::ApprovalRequested { approval } if allowed(Kind::Approval, config.approvals) => {
            Some(approval_note(approval))
        }
        EventKind::TurnCompleted {
            session_id,
            status,
            error,
            ..
        } if *status == TurnStatus::Failed => allowed(Kind::Error, config.errors).then(|| Note {
            kind: Kind::Error,
            summary: "A turn failed".into(),
            body: clean(error.as_deref().unwrap_or("Codex reported an error")),
            target: OpenTarget::Session {
                id: session_id.clone(),
            },
            approval_id: None,
            change_id: None,
            sender: None,
        }),
        EventKind::TurnCompleted {
            session_id, status, ..
        } if !window_visible && *status == TurnStatus::Completed => {
            allowed(Kind::TurnFinished, config.turn_finished).then(|| Note {
                kind: Kind::TurnFinished,
                summary: "Perch finished a turn".into(),
                body: "The answer is ready.".into(),
                target: OpenTarget::Session {
                    id: session_id.clone(),
                },
                approval_id: None,
                change_id: None,
                sender: None,
            })
        }
        EventKind::CodexState {
            state: CodexState::Restarting,
            detail,
        } => allowed(Kind::Codex, config.codex_restarts).then(|| Note {
            kind: Kind::Codex,
            summary: "Codex stopped and is restarting".into(),
            body: clean(detail.as_deref().unwrap_or("")),
            target: OpenTarget::Dashboard,
            approval_id: None,
            change_id: None,
            sender: None,
        }),
        EventKind::CodexState {
            state: CodexState::Failed,
            detail,
        } => allowed(Kind::Codex, config.codex_restarts || config.errors).then(|| Note {
            kind: Kind::Codex,
            summary: "Codex is not running".into(),
            body: clean(
                detail
                    .as_deref()
                    .unwrap_or("Perch gave up restarting it; see Settings"),
            ),
            target: OpenTarget::Dashboard,
            approval_id: None,
            change_id: None,
            sender: None,
        }),
        EventKind::PeerDeliveryFailed { error, queued } => allowed(Kind::Error, config.errors)
            .then(|| Note {
                kind: Kind::Error,
                summary: format!(
                    "{queued} peer message{} cannot reach Codex",
                    if *queued == 1 { "" } else { "s" }
                ),
                body: clean(error),
                target: OpenTarget::Peers,
                approval_id: None,
                change_id: None,
                sender: None,
            }),
        EventKind::PeerFenced { message, .. } => {
            allowed(Kind::Error, config.errors).then(|| Note {
                kind: Kind::Error,
                summary: "Perch's identity on the relay was taken over".into(),
                body: clean(message),
                target: OpenTarget::Peers,
                approval_id: None,
                change_id: None,
                sender: None,
            })
        }
        // A change a peer-driven turn asked for waits for the person: as an
        // approval does, it notifies whatever the turn settings say.
        EventKind::ChangePending { change } => allowed(Kind::Change, config.approvals).then(|| {
            let who = change.provenance.senders_in_words();
            let why = if who.is_empty() {
                "a call Perch could not tie to one of your turns".to_string()
            } else {
                format!("a turn answering {who}")
            };
            Note {
                kind: Kind::Change,
                summary: clean(&format!("Your agent asks: {}", change.summary)),
                body: clean(&format!(
                    "From {why}. Nothing happens until you accept it (Changes page, or `perch changes accept {}`).",
                    change.id
                )),
                target: OpenTarget::Changes,
                approval_id: None,
                change_id: Some(change.id),
                sender: None,
            }
        }),
        EventKind::WakeupRun { run, notify } if *notify => allowed(Kind::Wakeup, config.wakeups)
            .then(|| wakeup_note(run))
            .flatten(),
        EventKind::PeerMessage {
            message,
            to_person,
            to_agent,
        } if *to_person || *to_agent => {
            let seal = &message.seal;
            let message = &message.message;
            let from = message.from.as_str();
            let channel = message.channel.as_deref();
            let muted = config.muted_agents.iter().any(|a| a == from)
                || channel.is_some_and(|c| config.muted_channels.iter().any(|m| m == c));
            // Meant for others (or before this device was a member): nothing to say.
            let quiet = seal.withheld.is_some() && !seal.tampered;
            (!muted && !quiet && allowed(Kind::PeerMessage, config.peer_messages)).then(|| {
                match seal.withheld.as_deref() {
                    Some(why) => withheld_note(message, from, why),
                    None => peer_note(message, from, *to_person),
                }
            })
        }
        _ => None,
    }
}

/// A wakeup's turn ended, or an occurrence was missed (the `ask` policy).
fn wakeup_note(run: &perch_agent::wakeups::WakeupRun) -> Option<Note> {
    use perch_agent::wakeups::RunStatus;
    let (summary, target) = match run.status {
        RunStatus::Completed => (format!("Wakeup “{}” is done", run.label), None),
        RunStatus::Failed => (format!("Wakeup “{}” failed", run.label), None),
        RunStatus::Interrupted => (format!("Wakeup “{}” was interrupted", run.label), None),
        RunStatus::Missed => (
            format!("Wakeup “{}” was missed: run it now?", run.label),
            Some(OpenTarget::Wakeups),
        ),
        _ => return None,
    };
    let target = target
        .or_else(|| run.session_id.clone().map(|id| OpenTarget::Session { id }))
        .unwrap_or(OpenTarget::Wakeups);
    Some(Note {
        kind: Kind::Wakeup,
        summary: clean(&summary),
        body: clean(run.summary.as_deref().unwrap_or("")),
        target,
        approval_id: None,
        change_id: None,
        sender: None,
    })
}

/// A message that failed its end-to-end checks: who, and why it was kept
/// from the agent; none of its text.
fn withheld_note(message: &perch_relay_protocol::Message, from: &str, why: &str) -> Note {
    Note {
        kind: Kind::PeerMessage,
        summary: clean(&format!("Perch withheld a message from {from}")),
        body: clean(&format!(
            "It did not reach your agent: {why}. Look at the sender on the Peers page."
        )),
        target: OpenTarget::Inbox {
            thread_id: Some(message.thread_id),
        },
        approval_id: None,
        change_id: None,
        sender: Some(from.to_string()),
    }
}

fn peer_note(message: &perch_relay_protocol::Message, from: &str, to_person: bool) -> Note {
    let body = message.body.as_str();
    let about = message
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| body.lines().next().unwrap_or(""));
    let whom = if to_person { "" } else { " to your agent" };
    let proof = if message.authenticated {
        ""
    } else {
        " (unauthenticated)"
    };
    let channel = message
        .channel
        .as_deref()
        .map(|c| format!(" in {c}"))
        .unwrap_or_default();
    Note {
        kind: Kind::PeerMessage,
        summary: clean(&format!("{from}{proof}{whom}{channel}: {about}")),
        body: clean(body),
        target: OpenTarget::Inbox {
            thread_id: Some(message.thread_id),
        },
        approval_id: None,
        change_id: None,
        sender: Some(from.to_string()),
    }
}

pub(super) fn approval_note(approval: &Approval) -> Note {
    // What is destructive comes first: a notification may show two lines.
    let warning = approval
        .dangers
        .iter()
        .map(|d| format!("Careful: {d}\n"))
        .collect::<String>();
    let body = match &approval.detail {
        Some(detail) => format!("{warning}{}\n{}", approval.title, detail),
        None => format!("{warning}{}", approval.title),
    };
    Note {
        kind: Kind::Approval,
        summary: if approval.dangers.is_empty() {
            "Perch needs your approval".into()
        } else {
            "Perch needs your approval: destructive command".into()
        },
        body: clean(&body),
        target: OpenTarget::Approval {
            id: approval.id.clone(),
        },
        approval_id: Some(approval.id.clone()),
        change_id: None,
        sender: None,
    }
}

/// Escapes markup and cuts the text to a notification's size.
pub fn clean(text: &str) -> String {
    let cut: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_BODY_CHARS)
        .collect();
    let cut = if text.chars().count() > MAX_BODY_CHARS {
        format!("{cut}…")
    } else {
        cut
    };
    cut.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
