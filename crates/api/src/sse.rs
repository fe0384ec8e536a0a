//! `GET /api/events`: the event bus as SSE, with `Last-Event-ID` replay.
//! A subscriber that lags is caught up from the replay buffer, so it misses
//! nothing unless it fell behind the whole buffer; then it gets `reset`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use perch_runtime::{Event, Replay, Runtime};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

struct Cursor {
    runtime: Arc<Runtime>,
    live: tokio::sync::broadcast::Receiver<Arc<Event>>,
    queued: VecDeque<SseEvent>,
    last_sent: u64,
}

fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.type_name())
        .data(data)
}

/// `reset` and `lagged` are about the stream, not runtime events: no id.
fn control(kind: &str, mut data: serde_json::Value) -> SseEvent {
    if let Some(obj) = data.as_object_mut() {
        obj.insert("type".into(), kind.into());
        obj.insert("at".into(), stdx::now_ms().into());
    }
    SseEvent::default().event(kind).data(data.to_string())
}

impl Cursor {
    fn queue(&mut self, replay: Replay) {
        match replay {
            Replay::Events(events) => {
                let after = self.last_sent;
                for event in events.iter().filter(|e| e.seq > after) {
                    self.queued.push_back(to_sse(event));
                    self.last_sent = event.seq;
                }
            }
            Replay::Reset => {
                self.queued
                    .push_back(control("reset", serde_json::json!({})));
                self.last_sent = self.runtime.events().last_seq();
            }
        }
    }

    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((Ok(event), self));
            }
            match self.live.recv().await {
                Ok(event) if event.seq > self.last_sent => {
                    self.last_sent = event.seq;
                    return Some((Ok(to_sse(&event)), self));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(skipped)) => {
                    let replay = self.runtime.events().since(self.last_sent);
                    if matches!(replay, Replay::Reset) {
                        self.queued.push_back(control(
                            "lagged",
                            serde_json::json!({ "skipped": skipped }),
                        ));
                    }
                    self.queue(replay);
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// The event stream (SSE): every runtime event, with `Last-Event-ID`
/// replay; event types and payloads are in docs/api.md.
#[utoipa::path(get, path = "/api/events", tag = crate::openapi::NOT_FUZZED,
    params(("last-event-id" = Option<u64>, Header, description = "Replay the events after this one")),
    responses((status = 200, content_type = "text/event-stream", body = perch_protocol::events::Event,
        description = "An endless stream: each `data:` is one Event as JSON, its `event:` the type \
            and its `id:` the seq; besides, `lagged` and `reset` (no id) say the stream fell behind"),
        crate::openapi::Protected))]
pub async fn events(
    State(runtime): State<Arc<Runtime>>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let subscription = runtime.events().subscribe(last_event_id);
    let mut cursor = Cursor {
        last_sent: last_event_id.unwrap_or(subscription.last_seq),
        runtime,
        live: subscription.live,
        queued: VecDeque::new(),
    };
    cursor.queue(subscription.replay);
    let stream = futures_util::stream::unfold(cursor, Cursor::next);
    Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}
