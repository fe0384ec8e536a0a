//! `GET /api/events`: the event bus as SSE, with `Last-Event-ID` replay.
//! A subscriber that lags is caught up from the replay buffer, so it misses
//! nothing unless it fell behind the whole buffer; then it gets `reset`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use perch_runtime::{Event, Published, Replay, Runtime};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// A comment line this often keeps proxies and browsers from closing an
/// idle stream (sent whether or not events flowed: one timer per stream,
/// not one per event).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most events one chunk of the stream carries.
const CHUNK_FRAMES: usize = 256;

struct Cursor {
    runtime: Arc<Runtime>,
    live: tokio::sync::broadcast::Receiver<Arc<Published>>,
    queued: VecDeque<Bytes>,
    last_sent: u64,
    keep_alive: tokio::time::Interval,
}

/// `id:`, `event:` and one `data:` line (JSON escapes newlines, so the
/// data is always one line).
fn frame(event: &Event) -> Bytes {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.seq,
        event.type_name()
    )
    .into()
}

/// Each event is framed once for all streams (`Published::encoded`).
fn to_sse(event: &Published) -> Bytes {
    event.encoded(frame)
}

/// `reset` and `lagged` are about the stream, not runtime events: no id.
fn control(kind: &str, mut data: serde_json::Value) -> Bytes {
    if let Some(obj) = data.as_object_mut() {
        obj.insert("type".into(), kind.into());
        obj.insert("at".into(), stdx::now_ms().into());
    }
    format!("event: {kind}\ndata: {data}\n\n").into()
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

    /// Takes what the live channel gave into `queued`; false once the bus
    /// is gone.
    fn accept(&mut self, received: Result<Arc<Published>, RecvError>) -> bool {
        match received {
            Ok(event) if event.seq > self.last_sent => {
                self.last_sent = event.seq;
                self.queued.push_back(to_sse(&event));
            }
            Ok(_) => {}
            Err(RecvError::Lagged(skipped)) => {
                let replay = self.runtime.events().since(self.last_sent);
                if matches!(replay, Replay::Reset) {
                    self.queued
                        .push_back(control("lagged", serde_json::json!({ "skipped": skipped })));
                }
                self.queue(replay);
            }
            Err(RecvError::Closed) => return false,
        }
        true
    }

    /// The queued frames as one chunk (at most `CHUNK_FRAMES` of them).
    fn chunk(&mut self) -> Bytes {
        let count = self.queued.len().min(CHUNK_FRAMES);
        if count == 1 {
            return self.queued.pop_front().unwrap_or_default();
        }
        let frames: Vec<Bytes> = self.queued.drain(..count).collect();
        let mut chunk = bytes::BytesMut::with_capacity(frames.iter().map(Bytes::len).sum());
        for frame in frames {
            chunk.extend_from_slice(&frame);
        }
        chunk.freeze()
    }

    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        loop {
            if !self.queued.is_empty() {
                return Some((Ok(self.chunk()), self));
            }
            let received = tokio::select! {
                biased;
                received = self.live.recv() => received,
                _ = self.keep_alive.tick() => {
                    return Some((Ok(Bytes::from_static(b":keep-alive\n\n")), self));
                }
            };
            if !self.accept(received) {
                return None;
            }
            // What is ready besides goes out in the same chunk: a burst of
            // deltas costs each stream one wake-up and one write, not one
            // per event.
            while self.queued.len() < CHUNK_FRAMES {
                let more = match self.live.try_recv() {
                    Ok(event) => Ok(event),
                    Err(TryRecvError::Lagged(skipped)) => Err(RecvError::Lagged(skipped)),
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                };
                self.accept(more);
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
pub async fn events(State(runtime): State<Arc<Runtime>>, headers: HeaderMap) -> Response {
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
        keep_alive: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
    };
    cursor.queue(subscription.replay);
    let stream = futures_util::stream::unfold(cursor, Cursor::next);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
