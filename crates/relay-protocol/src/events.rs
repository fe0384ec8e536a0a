//! The relay's event stream (`GET /api/events`, server-sent events): one
//! table gives each event its wire name (the SSE `event:` field) and its
//! payload type (the `data:` field, as JSON).

use crate::{Agent, Message, Pair, Task};
use serde::{Deserialize, Serialize};

/// `ready`: the stream is open; everything up to `latestId` is in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    pub latest_id: i64,
}

/// `resync`: the subscriber fell behind and `skipped` events were dropped;
/// read what it missed from the store (`sinceId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resync {
    pub skipped: u64,
    pub latest_id: i64,
}

/// An agent that is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRemoved {
    pub id: String,
}

/// A message someone marked read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRead {
    pub id: i64,
    pub agent_id: String,
}

/// A message that was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub id: i64,
}

macro_rules! relay_events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $wire:literal,)*) => {
        /// Every event of the relay's stream.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RelayEvent {
            $($(#[$doc])* $variant($payload),)*
        }

        impl RelayEvent {
            /// Every wire name, in the table's order.
            pub const KINDS: &'static [&'static str] = &[$($wire),*];

            /// The wire name (the SSE `event:` field).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $wire,)*
                }
            }

            /// The payload as JSON (the SSE `data:` field).
            pub fn data_json(&self) -> serde_json::Result<String> {
                match self {
                    $(Self::$variant(payload) => serde_json::to_string(payload),)*
                }
            }

            /// The event named `kind` with the payload `data`; `Ok(None)` for a
            /// kind this version does not know (a newer relay's).
            pub fn parse(kind: &str, data: &str) -> serde_json::Result<Option<Self>> {
                Ok(Some(match kind {
                    $($wire => Self::$variant(serde_json::from_str(data)?),)*
                    _ => return Ok(None),
                }))
            }
        }
    };
}

relay_events! {
    Ready(Ready) = "ready",
    Resync(Resync) = "resync",
    /// An agent registered (a new card or a new instance of one).
    AgentRegistered(Agent) = "agent.registered",
    /// An agent's card changed (tags, label, channels...).
    AgentUpdated(Agent) = "agent.updated",
    /// An agent's presence changed.
    AgentStatus(Agent) = "agent.status",
    AgentRemoved(AgentRemoved) = "agent.removed",
    MessageNew(Message) = "message.new",
    MessageRead(MessageRead) = "message.read",
    MessageDeleted(MessageDeleted) = "message.deleted",
    MessageClaimed(Message) = "message.claimed",
    MessageReleased(Message) = "message.released",
    PairInvited(Pair) = "pair.invited",
    PairAccepted(Pair) = "pair.accepted",
    PairRejected(Pair) = "pair.rejected",
    PairEnded(Pair) = "pair.ended",
    TaskCreated(Task) = "task.created",
    TaskUpdated(Task) = "task.updated",
    TaskClaimed(Task) = "task.claimed",
    TaskStatus(Task) = "task.status",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_wire_name() -> serde_json::Result<()> {
        let events = [
            RelayEvent::Ready(Ready { latest_id: 7 }),
            RelayEvent::Resync(Resync {
                skipped: 3,
                latest_id: 9,
            }),
            RelayEvent::AgentRemoved(AgentRemoved { id: "a".into() }),
            RelayEvent::MessageRead(MessageRead {
                id: 4,
                agent_id: "b".into(),
            }),
            RelayEvent::MessageDeleted(MessageDeleted { id: 5 }),
        ];
        for event in events {
            let parsed = RelayEvent::parse(event.kind(), &event.data_json()?)?;
            assert_eq!(parsed.as_ref(), Some(&event));
        }
        assert_eq!(
            RelayEvent::parse("message.new", "{}")
                .map_err(|e| e.is_data())
                .err(),
            Some(true)
        );
        assert_eq!(RelayEvent::parse("agent.teleported", "{}")?, None);
        Ok(())
    }

    #[test]
    fn the_wire_names_are_unique() {
        let mut kinds = RelayEvent::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), RelayEvent::KINDS.len());
    }
}
