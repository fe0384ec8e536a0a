//! The event bus: every runtime event gets a sequence number, goes to live
//! subscribers, and stays in a bounded replay buffer.
//!
//! Invariants:
//! - Sequence numbers start at 1 and have no gaps.
//! - `subscribe(after)` returns the buffered events after `after` and a live
//!   receiver, taken under the same lock as `publish`: no event is both missed
//!   and not replayed, and none is delivered twice.
//! - A subscriber that lags can recover what it missed from the buffer with
//!   [`EventBus::since`]; only events older than the buffer are ever lost, and
//!   then it is told (`Replay::Reset`).
//! - An event is encoded for the wire at most once, however many streams
//!   send it ([`Published::encoded`]); the encoding itself is the edge's.

use crate::model::EventKind;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use stdx::MutexExt;
use tokio::sync::broadcast;

pub const REPLAY_CAPACITY: usize = 4096;
const LIVE_CAPACITY: usize = 1024;

pub use perch_protocol::events::Event;

/// An event as the bus hands it out: the event, and a slot for its wire
/// form, filled by the first stream that sends it and shared by the rest
/// (50 browser tabs cost one encoding, not 50).
pub struct Published {
    event: Event,
    encoded: OnceLock<bytes::Bytes>,
}

impl Published {
    /// The wire form made by `encode`, once per event.
    pub fn encoded(&self, encode: impl FnOnce(&Event) -> bytes::Bytes) -> bytes::Bytes {
        self.encoded.get_or_init(|| encode(&self.event)).clone()
    }
}

impl std::ops::Deref for Published {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

pub enum Replay {
    Events(Vec<Arc<Published>>),
    /// Events after the asked-for one are no longer buffered.
    Reset,
}

pub struct Subscription {
    pub replay: Replay,
    /// The newest event when the subscription was taken.
    pub last_seq: u64,
    pub live: broadcast::Receiver<Arc<Published>>,
}

pub struct EventBus {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<Published>>,
}

struct Inner {
    next_seq: u64,
    buffer: VecDeque<Arc<Published>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                next_seq: 1,
                buffer: VecDeque::with_capacity(REPLAY_CAPACITY),
            }),
            live: broadcast::channel(LIVE_CAPACITY).0,
        }
    }
}

impl EventBus {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock_unpoisoned()
    }

    pub fn publish(&self, kind: EventKind) -> u64 {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let event = Arc::new(Published {
            event: Event {
                seq,
                at: stdx::now_ms(),
                kind,
            },
            encoded: OnceLock::new(),
        });
        if inner.buffer.len() == REPLAY_CAPACITY {
            inner.buffer.pop_front();
        }
        inner.buffer.push_back(event.clone());
        let _ = self.live.send(event);
        seq
    }

    /// Live events from now on, plus the buffered ones after `after`.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let inner = self.lock();
        let live = self.live.subscribe();
        let replay = match after {
            None => Replay::Events(Vec::new()),
            Some(after) => Self::buffered_after(&inner, after),
        };
        Subscription {
            replay,
            live,
            last_seq: inner.next_seq - 1,
        }
    }

    /// The buffered events after `after`, for a subscriber that lagged.
    pub fn since(&self, after: u64) -> Replay {
        Self::buffered_after(&self.lock(), after)
    }

    fn buffered_after(inner: &Inner, after: u64) -> Replay {
        let oldest = inner.buffer.front().map_or(inner.next_seq, |e| e.seq);
        // Too old for the buffer, or from another run of the server.
        if after + 1 < oldest || after >= inner.next_seq {
            return Replay::Reset;
        }
        Replay::Events(
            inner
                .buffer
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect(),
        )
    }

    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(n: usize) -> EventKind {
        EventKind::Warning {
            session_id: None,
            message: format!("w{n}"),
        }
    }

    fn seqs(replay: Replay) -> Option<Vec<u64>> {
        match replay {
            Replay::Events(events) => Some(events.iter().map(|e| e.seq).collect()),
            Replay::Reset => None,
        }
    }

    #[test]
    fn replays_after_the_last_seen_id_and_resets_past_the_buffer() {
        let bus = EventBus::default();
        for n in 0..5 {
            bus.publish(warning(n));
        }
        assert_eq!(seqs(bus.subscribe(Some(3)).replay), Some(vec![4, 5]));
        assert_eq!(seqs(bus.subscribe(Some(5)).replay), Some(vec![]));
        assert_eq!(seqs(bus.subscribe(None).replay), Some(vec![]));
        assert_eq!(
            seqs(bus.subscribe(Some(99)).replay),
            None,
            "an id from a previous run resets"
        );
        for n in 0..REPLAY_CAPACITY {
            bus.publish(warning(n));
        }
        assert_eq!(seqs(bus.since(2)), None, "event 3 fell out of the buffer");
        let oldest = bus.last_seq() - REPLAY_CAPACITY as u64 + 1;
        assert_eq!(
            seqs(bus.since(oldest - 1)).map(|v| v.len()),
            Some(REPLAY_CAPACITY)
        );
    }

    #[tokio::test]
    async fn live_subscribers_get_every_event_in_order() {
        let bus = EventBus::default();
        let mut sub = bus.subscribe(None);
        for n in 0..3 {
            bus.publish(warning(n));
        }
        for expected in 1..=3 {
            let event = sub.live.recv().await.ok().map(|e| e.seq);
            assert_eq!(event, Some(expected));
        }
    }
}
