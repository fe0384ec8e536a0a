//! The relay's live events (`GET /api/events`). Published only after the
//! change is committed. The stream is a notification channel, not the source
//! of truth: a subscriber that falls behind gets a `resync` event and reads
//! what it missed from the store (`sinceId`).

use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, watch};

const CAPACITY: usize = 4096;

#[derive(Debug, Clone, Serialize)]
pub struct RelayEvent {
    /// Increases by one per event while this relay runs.
    pub seq: u64,
    /// `message.new`, `message.claimed`, `agent.status`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Value,
}

pub struct EventBus {
    sender: broadcast::Sender<RelayEvent>,
    seq: AtomicU64,
    /// Set when the server stops: open streams end instead of holding the
    /// shutdown until their clients leave.
    closed: watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(CAPACITY).0, seq: AtomicU64::new(0), closed: watch::channel(false).0 }
    }
}

impl EventBus {
    pub fn publish(&self, kind: &'static str, data: impl Serialize) {
        let data = serde_json::to_value(data).unwrap_or(Value::Null);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // No receiver is fine: nobody is listening.
        let _ = self.sender.send(RelayEvent { seq, kind, data });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.sender.subscribe()
    }

    /// Resolves once the relay stops serving.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}
