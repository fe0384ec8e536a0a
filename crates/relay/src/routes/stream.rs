//! `GET /api/events`: live relay events as SSE. With `agentId=` (or
//! `for=`), message events are limited to those that reach that agent.
//!
//! The stream is a push notification, the store is the truth: the first
//! event is `ready` with the current `latestId`, and a subscriber that falls
//! behind gets `resync`. Either way the client reads what it has not yet
//! processed with `GET /api/messages?for=&sinceId=`, so nothing is lost.

use super::{AppState, QueryParams};
use crate::error::Result;
use crate::events::{RelayEvent, Subscription};
use crate::model::{check_id, Agent, Target};
use crate::relay::Relay;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use std::sync::atomic::Ordering;

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

fn to_sse(event: &RelayEvent) -> SseEvent {
    SseEvent::default().id(event.seq.to_string()).event(event.kind).data(&event.data)
}

impl Subscriber {
    /// Whether `event` concerns the filtering agent (everything does without
    /// a filter; presence and tasks are public).
    fn wants(&mut self, event: &RelayEvent) -> bool {
        let Some((id, card)) = &mut self.agent else { return true };
        let about = &event.about;
        if event.kind.starts_with("agent.") && about.agent.as_deref() == Some(id.as_str()) {
            if let Ok(fresh) = self.relay.agent(id) {
                *card = Some(fresh);
            }
        }
        let is_me = |who: &Option<String>| who.as_deref() == Some(id.as_str());
        match event.kind {
            "message.new" => {
                let reaches = match (Target::parse(about.to.as_deref().unwrap_or_default()), card.as_ref()) {
                    (Ok(target), Some(card)) => target.matches(card),
                    (Ok(Target::Agent(to)), None) => to == *id,
                    (Ok(Target::Broadcast), None) => true,
                    _ => false,
                };
                !is_me(&about.from) && reaches
            }
            kind if kind.starts_with("pair.") => is_me(&about.from) || is_me(&about.to),
            _ => true,
        }
    }

    async fn next(mut self) -> Option<(std::result::Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((Ok(event), self));
            }
            let skipped = self.live.skipped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                let latest = self.relay.cursor().unwrap_or(0);
                let data = serde_json::json!({ "skipped": skipped, "latestId": latest });
                return Some((Ok(SseEvent::default().event("resync").data(data.to_string())), self));
            }
            let next = tokio::select! {
                next = self.live.events.recv() => next,
                _ = self.closing.wait_for(|closed| *closed) => return None,
            };
            match next {
                Some(event) if self.wants(&event) => return Some((Ok(to_sse(&event)), self)),
                Some(_) => {}
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
            let card = relay.agent(&id).ok();
            Some((id, card))
        }
        None => None,
    };
    // Subscribe before reading the cursor: an event committed in between is
    // both below `latestId` and on the stream, never in neither.
    let live = relay.events().subscribe(agent.as_ref().map(|(id, _)| id.clone()));
    let closing = relay.events().closing();
    let ready = serde_json::json!({ "latestId": relay.cursor()? });
    let mut queued = VecDeque::new();
    queued.push_back(SseEvent::default().event("ready").data(ready.to_string()));
    let subscriber = Subscriber { relay, live, closing, queued, agent };
    let stream = futures_util::stream::unfold(subscriber, Subscriber::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
