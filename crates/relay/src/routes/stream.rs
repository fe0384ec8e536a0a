//! `GET /api/events`: live relay events as SSE. With `agentId=` (or
//! `for=`), message events are limited to those that reach that agent.
//!
//! The stream is a push notification, the store is the truth: the first
//! event is `ready` with the current `latestId`, and a subscriber that falls
//! behind gets `resync`. Either way the client reads what it has not yet
//! processed with `GET /api/messages?for=&sinceId=`, so nothing is lost.

use super::{AppState, QueryParams};
use crate::error::Result;
use crate::events::{About, Published, Subscription};
use crate::relay::Relay;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use perch_relay_protocol::{check_id, Agent, Ready, RelayEvent, Resync, Target};
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct StreamFilter {
    agent_id: Option<String>,
    #[serde(rename = "for")]
    for_agent: Option<String>,
}

struct Subscriber {
    relay: Arc<Relay>,
    live: Subscription,
    closing: tokio::sync::watch::Receiver<bool>,
    queued: VecDeque<SseEvent>,
    /// The filtering agent's id and its card as last seen (tags, label...).
    agent: Option<(String, Option<Agent>)>,
}

/// An event the stream makes itself (`ready`, `resync`), not the bus.
fn stream_event(event: &RelayEvent) -> SseEvent {
    let data = event.data_json().unwrap_or_else(|e| {
        tracing::error!("a {} event could not be serialized: {e}", event.kind());
        "{}".into()
    });
    SseEvent::default().event(event.kind()).data(data)
}

fn to_sse(event: &Published) -> SseEvent {
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind)
        .data(&event.data)
}

impl Subscriber {
    /// Whether `event` concerns the filtering agent (everything does without
    /// a filter; presence and tasks are public).
    async fn wants(&mut self, event: &Published) -> bool {
        let Some((id, card)) = &mut self.agent else {
            return true;
        };
        let is_me = |who: &str| who == id.as_str();
        match &event.about {
            About::Agent(agent) => {
                if is_me(agent) {
                    if let Ok(fresh) = self.relay.agent(id).await {
                        *card = Some(fresh);
                    }
                }
                true
            }
            About::NewMessage { from, to } => {
                let reaches = match (Target::parse(to), card.as_ref()) {
                    (Ok(target), Some(card)) => target.matches(card),
                    (Ok(Target::Agent(to)), None) => to == *id,
                    (Ok(Target::Broadcast), None) => true,
                    _ => false,
                };
                !is_me(from) && reaches
            }
            About::Pair { from, to } => is_me(from) || is_me(to),
            About::Public => true,
        }
    }

    async fn next(mut self) -> Option<(std::result::Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((Ok(event), self));
            }
            let skipped = self.live.skipped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                let latest_id = match self.relay.view_cursor() {
                    Ok(id) => id,
                    Err(e) => {
                        // The client resyncs from its own cursor; 0 only says "unknown".
                        tracing::warn!("reading the relay's cursor for a resync: {e}");
                        0
                    }
                };
                let resync = RelayEvent::Resync(Resync { skipped, latest_id });
                return Some((Ok(stream_event(&resync)), self));
            }
            let next = tokio::select! {
                next = self.live.events.recv() => next,
                _ = self.closing.wait_for(|closed| *closed) => return None,
            };
            match next {
                Some(event) => {
                    if self.wants(&event).await {
                        return Some((Ok(to_sse(&event)), self));
                    }
                }
                None => return None,
            }
        }
    }
}

pub(super) async fn events(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<StreamFilter>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let relay = state.relay;
    let agent = match filter.agent_id.or(filter.for_agent) {
        Some(id) => {
            let id = check_id("agentId", &id)?;
            let card = relay.agent(&id).await.ok();
            Some((id, card))
        }
        None => None,
    };
    // Subscribe before reading the cursor: an event committed in between is
    // both below `latestId` and on the stream, never in neither.
    let live = relay
        .events()
        .subscribe(agent.as_ref().map(|(id, _)| id.clone()));
    let closing = relay.events().closing();
    let ready = RelayEvent::Ready(Ready {
        latest_id: relay.view_cursor()?,
    });
    let mut queued = VecDeque::new();
    queued.push_back(stream_event(&ready));
    let subscriber = Subscriber {
        relay,
        live,
        closing,
        queued,
        agent,
    };
    let stream = futures_util::stream::unfold(subscriber, Subscriber::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
