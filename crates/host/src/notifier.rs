//! OS notifications for runtime events (notify-rust: D-Bus on Linux).
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

use perch_runtime::config::NotificationsConfig;
use perch_runtime::model::{Approval, EventKind};
use perch_runtime::{Decision, HealthState, Runtime};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const COALESCE_WINDOW: Duration = Duration::from_secs(5);
const MAX_BODY_CHARS: usize = 240;

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
        }
    }
}

/// What the notifier needs from the shell.
pub trait NotifierHost: Send + Sync + 'static {
    fn any_window_visible(&self) -> bool;
    fn open(&self, target: OpenTarget);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Approval,
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
        wanted && (!config.dnd || (kind == Kind::Approval && config.dnd_allows_approvals))
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
        } if status == "failed" => allowed(Kind::Error, config.errors).then(|| Note {
            kind: Kind::Error,
            summary: "A turn failed".into(),
            body: clean(error.as_deref().unwrap_or("Codex reported an error")),
            target: OpenTarget::Session {
                id: session_id.clone(),
            },
            approval_id: None,
            sender: None,
        }),
        EventKind::TurnCompleted {
            session_id, status, ..
        } if !window_visible && status == "completed" => {
            allowed(Kind::TurnFinished, config.turn_finished).then(|| Note {
                kind: Kind::TurnFinished,
                summary: "Perch finished a turn".into(),
                body: "The answer is ready.".into(),
                target: OpenTarget::Session {
                    id: session_id.clone(),
                },
                approval_id: None,
                sender: None,
            })
        }
        EventKind::CodexState {
            state: HealthState::Restarting,
            detail,
        } => allowed(Kind::Codex, config.codex_restarts).then(|| Note {
            kind: Kind::Codex,
            summary: "Codex stopped and is restarting".into(),
            body: clean(detail.as_deref().unwrap_or("")),
            target: OpenTarget::Dashboard,
            approval_id: None,
            sender: None,
        }),
        EventKind::CodexState {
            state: HealthState::Failed,
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
                sender: None,
            }),
        EventKind::WakeupRun { run, notify } if *notify => allowed(Kind::Wakeup, config.wakeups)
            .then(|| wakeup_note(run))
            .flatten(),
        EventKind::PeerMessage {
            message,
            to_person,
            to_agent,
        } if *to_person || *to_agent => {
            let from = message["from"].as_str().unwrap_or("an agent");
            let channel = message["channel"].as_str();
            let muted = config.muted_agents.iter().any(|a| a == from)
                || channel.is_some_and(|c| config.muted_channels.iter().any(|m| m == c));
            (!muted && allowed(Kind::PeerMessage, config.peer_messages))
                .then(|| peer_note(message, from, *to_person))
        }
        _ => None,
    }
}

/// A wakeup's turn ended, or an occurrence was missed (the `ask` policy).
fn wakeup_note(run: &perch_runtime::wakeups::WakeupRun) -> Option<Note> {
    use perch_runtime::wakeups::RunStatus;
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
        sender: None,
    })
}

fn peer_note(message: &serde_json::Value, from: &str, to_person: bool) -> Note {
    let body = message["body"].as_str().unwrap_or_default();
    let about = message["subject"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| body.lines().next().unwrap_or(""));
    let whom = if to_person { "" } else { " to your agent" };
    let channel = message["channel"]
        .as_str()
        .map(|c| format!(" in {c}"))
        .unwrap_or_default();
    Note {
        kind: Kind::PeerMessage,
        summary: clean(&format!("{from}{whom}{channel}: {about}")),
        body: clean(body),
        target: OpenTarget::Inbox {
            thread_id: message["threadId"].as_i64().or(message["id"].as_i64()),
        },
        approval_id: None,
        sender: Some(from.to_string()),
    }
}

fn approval_note(approval: &Approval) -> Note {
    let body = match &approval.detail {
        Some(detail) => format!("{}\n{}", approval.title, detail),
        None => approval.title.clone(),
    };
    Note {
        kind: Kind::Approval,
        summary: "Perch needs your approval".into(),
        body: clean(&body),
        target: OpenTarget::Approval {
            id: approval.id.clone(),
        },
        approval_id: Some(approval.id.clone()),
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

/// Merges a burst of one kind into one notification.
#[derive(Default)]
pub struct Coalescer {
    last: HashMap<Kind, Burst>,
}

/// The notification a burst replaces, and what it has merged so far.
struct Burst {
    id: u32,
    at: Instant,
    count: usize,
    senders: HashSet<String>,
}

impl Coalescer {
    /// The note to show and the notification id it replaces, if any.
    pub fn coalesce(&mut self, note: Note, now: Instant) -> (Note, Option<u32>) {
        match self.last.get_mut(&note.kind) {
            Some(burst) if now.duration_since(burst.at) < COALESCE_WINDOW => {
                burst.count += 1;
                burst.at = now;
                burst.senders.extend(note.sender.clone());
                let (count, senders) = (burst.count, burst.senders.len());
                let merged = match note.kind {
                    Kind::Approval => Note {
                        summary: format!("{count} approvals need you"),
                        body: "Open Perch to answer them.".into(),
                        target: OpenTarget::Approvals,
                        approval_id: None,
                        ..note
                    },
                    Kind::TurnFinished => Note {
                        summary: format!("Perch finished {count} turns"),
                        target: OpenTarget::Dashboard,
                        ..note
                    },
                    Kind::PeerMessage => Note {
                        summary: format!(
                            "{count} new messages from {senders} agent{}",
                            if senders == 1 { "" } else { "s" }
                        ),
                        body: format!("Latest: {}", note.summary),
                        target: OpenTarget::Inbox { thread_id: None },
                        ..note
                    },
                    Kind::Wakeup => Note {
                        summary: format!("{count} wakeups need a look"),
                        body: format!("Latest: {}", note.summary),
                        target: OpenTarget::Wakeups,
                        ..note
                    },
                    Kind::Codex | Kind::Error => Note {
                        summary: format!("{} ({count})", note.summary),
                        ..note
                    },
                };
                (merged, Some(burst.id))
            }
            _ => {
                let senders = note.sender.iter().cloned().collect();
                self.last.insert(
                    note.kind,
                    Burst {
                        id: 0,
                        at: now,
                        count: 1,
                        senders,
                    },
                );
                (note, None)
            }
        }
    }

    /// Records the id the server gave the note just shown.
    pub fn shown(&mut self, kind: Kind, id: u32, now: Instant) {
        if let Some(burst) = self.last.get_mut(&kind) {
            burst.id = id;
            burst.at = now;
        }
    }
}

enum Action {
    Answer {
        approval_id: String,
        decision: Decision,
    },
    Open(OpenTarget),
}

/// The notifier's state between events.
struct Notifier {
    runtime: Arc<Runtime>,
    host: Arc<dyn NotifierHost>,
    coalescer: Coalescer,
    /// Approval id -> its own notification id, to mark it answered.
    approval_notes: HashMap<String, u32>,
    /// Pending approvals already notified, so a lag re-read skips them.
    notified: HashSet<String>,
    supports_actions: bool,
    actions: mpsc::Sender<Action>,
}

/// Notifies about runtime events until the runtime's bus closes.
pub fn spawn(runtime: Arc<Runtime>, host: Arc<dyn NotifierHost>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (actions, mut actions_rx) = mpsc::channel::<Action>(32);
        let mut subscription = runtime.events().subscribe(None);
        let supports_actions = tokio::task::spawn_blocking(|| {
            notify_rust::get_capabilities().map(|c| c.iter().any(|c| c == "actions"))
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false);
        let mut notifier = Notifier {
            runtime: runtime.clone(),
            host: host.clone(),
            coalescer: Coalescer::default(),
            approval_notes: HashMap::new(),
            notified: HashSet::new(),
            supports_actions,
            actions,
        };
        loop {
            tokio::select! {
                event = subscription.live.recv() => match event {
                    Ok(event) => notifier.handle(&event.kind).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Approvals must not be lost to a burst: re-read them.
                        for approval in runtime.approvals(true).unwrap_or_default() {
                            if !notifier.notified.contains(&approval.id) {
                                notifier.handle(&EventKind::ApprovalRequested { approval }).await;
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
                show_blocking(replace_with_answered(
                    id,
                    format!("Answered: {}", clean(&approval.title)),
                ))
                .await;
            }
            return;
        }
        // A wakeup's turn is told by its own note (`wakeup.run`), which
        // follows the wakeup's and the person's settings: no second one.
        if let EventKind::TurnCompleted { turn_id, .. } = event {
            if self.runtime.is_wakeup_turn(turn_id) {
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
        let target = note.target.clone();
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Perch")
            .icon("perch")
            .summary(&note.summary)
            .body(&note.body);
        if let Some(id) = replaces {
            notification.id(id);
        }
        if self.supports_actions {
            notification.action("default", "Open");
            if approval_id.is_some() {
                notification
                    .action("approve", "Approve")
                    .action("deny", "Deny");
            }
            if kind == Kind::PeerMessage {
                // No notification server here takes typed replies; Reply
                // opens the thread, whose composer answers the sender.
                notification.action("reply", "Reply");
            }
        }
        if kind == Kind::Approval {
            notification.urgency(notify_rust::Urgency::Critical);
        }
        let shown = tokio::task::spawn_blocking(move || notification.show()).await;
        let handle = match shown {
            Ok(Ok(handle)) => handle,
            Ok(Err(err)) => {
                tracing::warn!("could not show a notification: {err}");
                return;
            }
            Err(err) => {
                tracing::warn!("the notification task failed: {err}");
                return;
            }
        };
        self.coalescer.shown(kind, handle.id(), now);
        if let Some(id) = &approval_id {
            self.approval_notes.insert(id.clone(), handle.id());
        } else if kind == Kind::Approval {
            // The coalesced note answers none of them by itself.
            self.approval_notes
                .retain(|_, note_id| *note_id != handle.id());
        }
        if !self.supports_actions {
            return;
        }
        let actions = self.actions.clone();
        tokio::task::spawn_blocking(move || {
            handle.wait_for_action(|action| {
                let action = match (action, &approval_id) {
                    ("approve", Some(id)) => Action::Answer {
                        approval_id: id.clone(),
                        decision: Decision::Accept,
                    },
                    ("deny", Some(id)) => Action::Answer {
                        approval_id: id.clone(),
                        decision: Decision::Decline,
                    },
                    ("default" | "reply", _) => Action::Open(target.clone()),
                    _ => return,
                };
                let _ = actions.blocking_send(action);
            });
        });
    }
}

fn replace_with_answered(id: u32, summary: String) -> notify_rust::Notification {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Perch")
        .icon("perch")
        .id(id)
        .summary(&summary)
        .timeout(notify_rust::Timeout::Milliseconds(4000));
    notification
}

async fn show_blocking(notification: notify_rust::Notification) {
    let result = tokio::task::spawn_blocking(move || notification.show().map(|_| ())).await;
    if let Ok(Err(err)) = result {
        tracing::debug!("could not update a notification: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perch_runtime::model::{ApprovalKind, ApprovalStatus};
    use perch_runtime::wakeups::{RunStatus, WakeupRun};

    fn approval(id: &str) -> Approval {
        Approval {
            id: id.into(),
            session_id: "s1".into(),
            turn_id: None,
            item_id: None,
            kind: ApprovalKind::Command,
            title: "Run <b>rm</b> & co".into(),
            detail: None,
            status: ApprovalStatus::Pending,
            created_at: 0,
            answered_at: None,
            answered_by: None,
        }
    }

    fn turn(status: &str) -> EventKind {
        EventKind::TurnCompleted {
            session_id: "s1".into(),
            turn_id: "t1".into(),
            status: status.into(),
            error: None,
        }
    }

    #[test]
    fn which_events_notify() {
        let base = NotificationsConfig::default();
        let dnd = NotificationsConfig {
            dnd: true,
            ..NotificationsConfig::default()
        };
        let dnd_strict = NotificationsConfig {
            dnd: true,
            dnd_allows_approvals: false,
            ..NotificationsConfig::default()
        };
        let no_turns = NotificationsConfig {
            turn_finished: false,
            ..NotificationsConfig::default()
        };
        let asks = EventKind::ApprovalRequested {
            approval: approval("a1"),
        };
        let restarting = EventKind::CodexState {
            state: HealthState::Restarting,
            detail: None,
        };
        let (completed, interrupted, failed) =
            (turn("completed"), turn("interrupted"), turn("failed"));
        // (event, config, window visible, expected kind)
        let cases: Vec<(&EventKind, &NotificationsConfig, bool, Option<Kind>)> = vec![
            (&asks, &base, true, Some(Kind::Approval)),
            (&asks, &dnd, false, Some(Kind::Approval)),
            (&asks, &dnd_strict, false, None),
            (&completed, &base, false, Some(Kind::TurnFinished)),
            (&completed, &base, true, None),
            (&completed, &no_turns, false, None),
            (&completed, &dnd, false, None),
            (&interrupted, &base, false, None),
            (&failed, &base, true, Some(Kind::Error)),
            (&restarting, &base, true, Some(Kind::Codex)),
            (&restarting, &dnd, true, None),
        ];
        let peer = |from: &str, channel: &str, to_person: bool, to_agent: bool| {
            EventKind::PeerMessage {
                message: serde_json::json!({ "id": 9, "threadId": 8, "from": from, "channel": channel, "body": "hi" }),
                to_person,
                to_agent,
            }
        };
        let (to_me, to_agent, overheard) = (
            peer("bob", "ops", true, false),
            peer("bob", "ops", false, true),
            peer("bob", "ops", false, false),
        );
        let muted_bob = NotificationsConfig {
            muted_agents: vec!["bob".into()],
            ..NotificationsConfig::default()
        };
        let muted_ops = NotificationsConfig {
            muted_channels: vec!["ops".into()],
            ..NotificationsConfig::default()
        };
        let no_peers = NotificationsConfig {
            peer_messages: false,
            ..NotificationsConfig::default()
        };
        let stuck = EventKind::PeerDeliveryFailed {
            error: "x".into(),
            queued: 2,
        };
        let run = |status: RunStatus, notify: bool| EventKind::WakeupRun {
            run: WakeupRun {
                id: 1,
                wakeup_id: 1,
                label: "standup".into(),
                scheduled_at: 0,
                fired_at: Some(0),
                status,
                session_id: Some("thr".into()),
                turn_id: Some("t".into()),
                summary: Some("all good".into()),
                finished_at: None,
            },
            notify,
        };
        let (done, missed, running, quiet) = (
            run(RunStatus::Completed, true),
            run(RunStatus::Missed, true),
            run(RunStatus::Running, true),
            run(RunStatus::Completed, false),
        );
        let no_wakeups = NotificationsConfig {
            wakeups: false,
            ..NotificationsConfig::default()
        };
        let cases = cases.into_iter().chain([
            (&to_me, &base, true, Some(Kind::PeerMessage)),
            (&to_agent, &base, false, Some(Kind::PeerMessage)),
            (&overheard, &base, false, None),
            (&to_me, &muted_bob, false, None),
            (&to_me, &muted_ops, false, None),
            (&to_me, &no_peers, false, None),
            (&to_me, &dnd, false, None),
            (&stuck, &base, true, Some(Kind::Error)),
            (&done, &base, true, Some(Kind::Wakeup)),
            (&missed, &base, false, Some(Kind::Wakeup)),
            (&running, &base, false, None),
            (&quiet, &base, false, None),
            (&done, &no_wakeups, false, None),
            (&done, &dnd, false, None),
        ]);
        for (i, (event, config, visible, expected)) in cases.enumerate() {
            assert_eq!(
                note_for(event, config, visible).map(|n| n.kind),
                expected,
                "case {i}"
            );
        }
    }

    #[test]
    fn approval_text_is_escaped_and_answerable() {
        let note = note_for(
            &EventKind::ApprovalRequested {
                approval: approval("a1"),
            },
            &Default::default(),
            true,
        );
        let note = note.unwrap_or_else(|| panic!("no note"));
        assert_eq!(note.body, "Run &lt;b&gt;rm&lt;/b&gt; &amp; co");
        assert_eq!(note.approval_id.as_deref(), Some("a1"));
        assert_eq!(note.target.route(), "/approvals/a1");
        assert!(clean(&"x".repeat(1000)).chars().count() <= MAX_BODY_CHARS + 1);
    }

    #[test]
    fn bursts_coalesce_into_one_notification() {
        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        let first = approval_note(&approval("a1"));
        let (shown, replaces) = coalescer.coalesce(first, start);
        assert_eq!((shown.approval_id.as_deref(), replaces), (Some("a1"), None));
        coalescer.shown(Kind::Approval, 7, start);

        let (merged, replaces) = coalescer.coalesce(
            approval_note(&approval("a2")),
            start + Duration::from_secs(1),
        );
        assert_eq!(replaces, Some(7));
        assert_eq!(merged.summary, "2 approvals need you");
        assert_eq!(
            merged.approval_id, None,
            "a merged note must not answer one approval"
        );
        assert_eq!(merged.target, OpenTarget::Approvals);
        coalescer.shown(Kind::Approval, 7, start + Duration::from_secs(1));

        let (third, _) = coalescer.coalesce(
            approval_note(&approval("a3")),
            start + Duration::from_secs(2),
        );
        assert_eq!(third.summary, "3 approvals need you");

        let later = start + Duration::from_secs(2) + COALESCE_WINDOW;
        let (alone, replaces) = coalescer.coalesce(approval_note(&approval("a4")), later);
        assert_eq!((alone.approval_id.as_deref(), replaces), (Some("a4"), None));
    }

    #[test]
    fn a_peer_burst_says_how_many_messages_from_how_many_agents() {
        let config = NotificationsConfig::default();
        let message = |from: &str, subject: Option<&str>| {
            let event = EventKind::PeerMessage {
                message: serde_json::json!({ "id": 3, "threadId": 1, "from": from, "channel": "ops", "subject": subject, "body": "<b>deploy</b> done\nsecond line" }),
                to_person: true,
                to_agent: false,
            };
            note_for(&event, &config, false).unwrap_or_else(|| panic!("no note"))
        };
        let first = message("bob", Some("Deploy"));
        assert_eq!(first.summary, "bob in ops: Deploy");
        assert_eq!(first.body, "&lt;b&gt;deploy&lt;/b&gt; done\nsecond line");
        assert_eq!(first.target.route(), "/inbox/1");
        assert_eq!(
            message("bob", None).summary,
            "bob in ops: &lt;b&gt;deploy&lt;/b&gt; done"
        );

        let mut coalescer = Coalescer::default();
        let start = Instant::now();
        let (_, replaces) = coalescer.coalesce(first, start);
        assert_eq!(replaces, None);
        coalescer.shown(Kind::PeerMessage, 11, start);
        let mut last = None;
        for (i, from) in ["carol", "bob", "dave", "carol"].into_iter().enumerate() {
            last = Some(coalescer.coalesce(
                message(from, None),
                start + Duration::from_millis(100 * (i as u64 + 1)),
            ));
        }
        let (merged, replaces) = last.unwrap_or_else(|| panic!("no burst"));
        assert_eq!(replaces, Some(11));
        assert_eq!(merged.summary, "5 new messages from 3 agents");
        assert_eq!(merged.target.route(), "/inbox");
    }
}
