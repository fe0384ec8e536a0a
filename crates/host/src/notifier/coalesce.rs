//! Bursts of one kind within [`COALESCE_WINDOW`] replace the previous
//! notification instead of stacking.

use super::policy::{Kind, Note, OpenTarget};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub const COALESCE_WINDOW: Duration = Duration::from_secs(5);

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
                        change_id: None,
                        ..note
                    },
                    Kind::Change => Note {
                        summary: format!("{count} changes your agent asked for wait for you"),
                        body: "Open Perch to accept or discard them.".into(),
                        target: OpenTarget::Changes,
                        change_id: None,
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
