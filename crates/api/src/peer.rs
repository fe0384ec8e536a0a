//! `/api/peer/*`: the person's side of the peer network (Inbox, Peers,
//! `perch send/inbox/peers`). Thin adapters over `perch_peer::Peer`.

use crate::error::ApiError;
use crate::openapi::{BadBody, Protected, RelayCall};
use crate::routes::{blank_is_none, created, ok, Json, Made, QueryOr, Reply};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use perch_peer::Peer;
use perch_protocol::peer::{
    InboxQuery, PeerMessage, PeerOff, PeerStatus, ReadMarks, SendMessage, Unread,
};
use perch_protocol::List;
use perch_relay_protocol::{Agent, NewMessage, Pair, Task};
use std::sync::Arc;

/// Perch's agent on the relay, or why there is none.
#[derive(Clone)]
pub struct PeerState {
    pub(crate) peer: Option<Arc<Peer>>,
    pub(crate) off_reason: Option<Arc<str>>,
}

fn peer(state: &PeerState) -> Result<&Arc<Peer>, ApiError> {
    state.peer.as_ref().ok_or_else(|| {
        let message = match &state.off_reason {
            Some(reason) => format!("the peer network is off: {reason}"),
            None => "the peer network is off: set `[peer] enabled = true` and a relay (`[relay] listen` or `url`) in config.toml".into(),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "peer_off", message)
    })
}

/// The peer network: relay, identities, connection, unread count, delivery.
#[utoipa::path(get, path = "/api/peer", tag = "peers",
    responses((status = 200, body = PeerStatus), Protected))]
pub async fn status(State(state): State<PeerState>) -> Reply<PeerStatus> {
    ok(match &state.peer {
        Some(peer) => peer.status(),
        None => PeerStatus::Off(PeerOff {
            enabled: false,
            reason: state.off_reason.as_deref().map(String::from),
        }),
    })
}

/// Agents on the relay with presence, label, tags, capabilities.
#[utoipa::path(get, path = "/api/peer/agents", tag = "peers",
    responses((status = 200, body = List<Agent>), RelayCall, Protected))]
pub async fn agents(State(state): State<PeerState>) -> Reply<List<Agent>> {
    ok(List::of(peer(&state)?.agents().await?))
}

/// Relay messages for the Inbox, oldest first; `hasMore` when older exist.
#[utoipa::path(get, path = "/api/peer/messages", tag = "peers", params(InboxQuery),
    responses((status = 200, body = List<PeerMessage>),
        (status = 400, body = perch_protocol::errors::ErrorBody, description = "A query parameter is wrong"),
        RelayCall, Protected))]
pub async fn messages(
    State(state): State<PeerState>,
    query: QueryOr<InboxQuery>,
) -> Reply<List<PeerMessage>> {
    let Query(q) = query?;
    let (messages, has_more) = peer(&state)?
        .inbox(
            blank_is_none(q.channel),
            blank_is_none(q.agent),
            q.before_id,
            q.limit.map_or(200, |n| n as usize),
        )
        .await?;
    ok(List {
        data: messages,
        total: None,
        has_more: Some(has_more),
    })
}

/// Send a relay message as the person.
#[utoipa::path(post, path = "/api/peer/messages", tag = "peers", request_body = SendMessage,
    responses((status = 201, body = PeerMessage), BadBody, RelayCall, Protected))]
pub async fn send(
    State(state): State<PeerState>,
    Json(out): Json<SendMessage>,
) -> Made<PeerMessage> {
    if out.to.trim().is_empty() || out.body.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`to` and `body` must not be empty",
        ));
    }
    let message = NewMessage {
        from: String::new(),
        to: out.to.trim().to_string(),
        body: out.body,
        subject: blank_is_none(out.subject),
        channel: blank_is_none(out.channel),
        reply_to: out.reply_to,
        claimable: out.claimable,
        kind: None,
        meta: Default::default(),
        urgent: out.urgent,
    };
    created(peer(&state)?.send_as_person(message).await?)
}

/// Mark messages read by the person.
#[utoipa::path(post, path = "/api/peer/read", tag = "peers", request_body = ReadMarks,
    responses((status = 200, body = Unread), BadBody, RelayCall, Protected))]
pub async fn read(State(state): State<PeerState>, Json(marks): Json<ReadMarks>) -> Reply<Unread> {
    ok(Unread {
        unread: peer(&state)?.mark_read(&marks.ids).await?,
    })
}

/// Pairs on the relay.
#[utoipa::path(get, path = "/api/peer/pairs", tag = "peers",
    responses((status = 200, body = List<Pair>), RelayCall, Protected))]
pub async fn pairs(State(state): State<PeerState>) -> Reply<List<Pair>> {
    ok(List::of(peer(&state)?.pairs().await?))
}

/// Integration tasks on the relay.
#[utoipa::path(get, path = "/api/peer/tasks", tag = "peers",
    responses((status = 200, body = List<Task>), RelayCall, Protected))]
pub async fn tasks(State(state): State<PeerState>) -> Reply<List<Task>> {
    ok(List::of(peer(&state)?.tasks().await?))
}
