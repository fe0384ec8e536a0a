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

use perch_relay_protocol::{RelayEvent, Target};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use stdx::MutexExt;
use tokio::sync::{mpsc, watch};

/// Events a subscriber may have queued before it is told to resync.
const QUEUE: usize = 4096;

/// An event as the bus carries it to every subscriber.
#[derive(Debug, Clone)]
pub struct Published {
    /// Increases by one per event while this relay runs.
    pub seq: u64,
    /// The event's wire name (`RelayEvent::kind`).
    pub kind: &'static str,
    /// The payload as JSON text.
    pub data: String,
    pub about: About,
}

/// Whom an event concerns: what routing and filtering read, so they never
/// parse the JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// `agent.*`: the agent it is about.
    Agent(String),
    /// `message.new`: the sender, and the target in its wire form.
    NewMessage { from: String, to: String },
    /// `pair.*`: the pair's two members.
    Pair { from: String, to: String },
    /// Anything else (claims, tasks, ...): public.
    Public,
}

impl About {
    fn of(event: &RelayEvent) -> Self {
        match event {
            RelayEvent::AgentRegistered(agent)
            | RelayEvent::AgentUpdated(agent)
            | RelayEvent::AgentStatus(agent) => Self::Agent(agent.id.clone()),
            RelayEvent::AgentRemoved(removed) => Self::Agent(removed.id.clone()),
            RelayEvent::MessageNew(message) => Self::NewMessage {
                from: message.from.clone(),
                to: message.to.clone(),
            },
            RelayEvent::PairInvited(pair)
            | RelayEvent::PairAccepted(pair)
            | RelayEvent::PairRejected(pair)
            | RelayEvent::PairEnded(pair) => Self::Pair {
                from: pair.from.clone(),
                to: pair.to.clone(),
            },
            _ => Self::Public,
        }
    }
}

struct Route {
    /// The agent the subscriber filters for; `None` takes everything.
    agent: Option<String>,
    sender: mpsc::Sender<Arc<Published>>,
    /// Events dropped because the subscriber's queue was full.
    skipped: Arc<AtomicU64>,
}

/// One subscriber's end.
pub struct Subscription {
    pub events: mpsc::Receiver<Arc<Published>>,
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
        Self {
            routes: Mutex::new(Routes::default()),
            seq: AtomicU64::new(0),
            closed: watch::channel(false).0,
        }
    }
}

impl EventBus {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock_unpoisoned()
    }

    pub fn publish(&self, event: RelayEvent) {
        let data = match event.data_json() {
            Ok(data) => data,
            Err(e) => {
                tracing::error!("a {} event could not be serialized: {e}", event.kind());
                return;
            }
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Arc::new(Published {
            seq,
            kind: event.kind(),
            data,
            about: About::of(&event),
        });
        let mut routes = self.lock();
        let targets: Vec<u64> = match direct_recipients(&event) {
            Some(agents) => routes
                .unfiltered
                .iter()
                .chain(
                    agents
                        .iter()
                        .flat_map(|a| routes.by_agent.get(a).into_iter().flatten()),
                )
                .copied()
                .collect(),
            None => routes.all.keys().copied().collect(),
        };
        let mut gone = Vec::new();
        for id in targets {
            let Some(route) = routes.all.get(&id) else {
                continue;
            };
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
        routes.all.insert(
            id,
            Route {
                agent,
                sender,
                skipped: skipped.clone(),
            },
        );
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
        let gone: Vec<u64> = routes
            .all
            .iter()
            .filter(|(_, r)| r.sender.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            routes.remove(id);
        }
        routes.all.len()
    }
}

impl Routes {
    fn remove(&mut self, id: u64) {
        let Some(route) = self.all.remove(&id) else {
            return;
        };
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
fn direct_recipients(event: &Published) -> Option<Vec<String>> {
    match &event.about {
        About::NewMessage { to, .. } => match Target::parse(to) {
            Ok(Target::Agent(to)) => Some(vec![to]),
            _ => None,
        },
        About::Pair { from, to } => Some(vec![from.clone(), to.clone()]),
        About::Agent(_) | About::Public => None,
    }
}
