//! The relay's live events (`GET /api/events`). Published only after the
//! change is committed. The stream is a notification channel, not the source
//! of truth: a subscriber that falls behind gets a `resync` event and reads
//! what it missed from the store (`sinceId`).
//!
//! Events are routed when published: a message to one agent goes only to
//! that agent's subscribers (and the unfiltered ones), a pair event only to
//! its two agents', so a busy relay does not wake every subscriber for
//! every message. Group targets (`tag:`, `cap:`, `label:`, `broadcast`) and
//! everything else go to all; each subscriber still filters with its card.
//!
//! An event's payload is serialized to JSON once, when published, and that
//! text is shared by every subscriber; routing and filtering read the facts
//! they need from the typed payload (`Routed`), never from the JSON.

use crate::model::{Agent, Message, Pair, Target, Task};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// Events a subscriber may have queued before it is told to resync.
const QUEUE: usize = 4096;

#[derive(Debug, Clone)]
pub struct RelayEvent {
    /// Increases by one per event while this relay runs.
    pub seq: u64,
    /// `message.new`, `message.claimed`, `agent.status`, ...
    pub kind: &'static str,
    /// The payload as JSON text.
    pub data: String,
    pub about: About,
}

/// What routing and filtering need to know of an event's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct About {
    /// The agent an `agent.*` event is about.
    pub agent: Option<String>,
    /// Sender and target of a message (a target in its wire form), or the
    /// two members of a pair.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A payload the bus can publish: serializable, and able to say whom it
/// concerns.
pub trait Routed: Serialize {
    fn about(&self) -> About {
        About::default()
    }
}

impl Routed for Message {
    fn about(&self) -> About {
        About { agent: None, from: Some(self.from.clone()), to: Some(self.to.clone()) }
    }
}

impl Routed for Pair {
    fn about(&self) -> About {
        About { agent: None, from: Some(self.from.clone()), to: Some(self.to.clone()) }
    }
}

impl Routed for Agent {
    fn about(&self) -> About {
        About { agent: Some(self.id.clone()), ..About::default() }
    }
}

impl Routed for Task {}

/// Small ad hoc payloads (`{"id": …}`): an `id` string names the agent.
impl Routed for Value {
    fn about(&self) -> About {
        About { agent: self["id"].as_str().map(String::from), ..About::default() }
    }
}

struct Route {
    /// The agent the subscriber filters for; `None` takes everything.
    agent: Option<String>,
    sender: mpsc::Sender<Arc<RelayEvent>>,
    /// Events dropped because the subscriber's queue was full.
    skipped: Arc<AtomicU64>,
}

/// One subscriber's end.
pub struct Subscription {
    pub events: mpsc::Receiver<Arc<RelayEvent>>,
    /// Taken (swapped to 0) by the subscriber to say `resync`.
    pub skipped: Arc<AtomicU64>,
}

#[derive(Default)]
struct Routes {
    next_id: u64,
    all: HashMap<u64, Route>,
    /// Subscriber ids by the agent they filter for.
    by_agent: HashMap<String, Vec<u64>>,
    unfiltered: Vec<u64>,
}

pub struct EventBus {
    routes: Mutex<Routes>,
    seq: AtomicU64,
    /// Set when the server stops: open streams end instead of holding the
    /// shutdown until their clients leave.
    closed: watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self { routes: Mutex::new(Routes::default()), seq: AtomicU64::new(0), closed: watch::channel(false).0 }
    }
}

impl EventBus {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn publish(&self, kind: &'static str, data: &impl Routed) {
        let about = data.about();
        let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Arc::new(RelayEvent { seq, kind, data, about });
        let mut routes = self.lock();
        let targets: Vec<u64> = match direct_recipients(&event) {
            Some(agents) => routes
                .unfiltered
                .iter()
                .chain(agents.iter().flat_map(|a| routes.by_agent.get(a).into_iter().flatten()))
                .copied()
                .collect(),
            None => routes.all.keys().copied().collect(),
        };
        let mut gone = Vec::new();
        for id in targets {
            let Some(route) = routes.all.get(&id) else { continue };
            match route.sender.try_send(event.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    route.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(id),
            }
        }
        for id in gone {
            routes.remove(id);
        }
    }

    /// Events for `agent` (or all of them), from now on.
    pub fn subscribe(&self, agent: Option<String>) -> Subscription {
        let (sender, events) = mpsc::channel(QUEUE);
        let skipped = Arc::new(AtomicU64::new(0));
        let mut routes = self.lock();
        routes.next_id += 1;
        let id = routes.next_id;
        match &agent {
            Some(agent) => routes.by_agent.entry(agent.clone()).or_default().push(id),
            None => routes.unfiltered.push(id),
        }
        routes.all.insert(id, Route { agent, sender, skipped: skipped.clone() });
        Subscription { events, skipped }
    }

    /// Resolves once the relay stops serving.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn subscribers(&self) -> usize {
        let mut routes = self.lock();
        let gone: Vec<u64> = routes.all.iter().filter(|(_, r)| r.sender.is_closed()).map(|(id, _)| *id).collect();
        for id in gone {
            routes.remove(id);
        }
        routes.all.len()
    }
}

impl Routes {
    fn remove(&mut self, id: u64) {
        let Some(route) = self.all.remove(&id) else { return };
        match route.agent {
            Some(agent) => {
                if let Some(ids) = self.by_agent.get_mut(&agent) {
                    ids.retain(|x| *x != id);
                    if ids.is_empty() {
                        self.by_agent.remove(&agent);
                    }
                }
            }
            None => self.unfiltered.retain(|x| *x != id),
        }
    }
}

/// The agents an event can only concern, or `None` when it may concern
/// anyone (group targets, presence, tasks, ...).
fn direct_recipients(event: &RelayEvent) -> Option<Vec<String>> {
    let About { from, to, .. } = &event.about;
    match event.kind {
        "message.new" => match Target::parse(to.as_deref().unwrap_or_default()) {
            Ok(Target::Agent(to)) => Some(vec![to]),
            _ => None,
        },
        kind if kind.starts_with("pair.") => Some(from.iter().chain(to).cloned().collect()),
        _ => None,
    }
}
