//! `/api/peer/*`: the person's side of the peer network (Inbox, Peers,
//! `perch send/inbox/peers`). Thin adapters over `perch_peer::Peer`.

use crate::error::ApiError;
use crate::routes::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use perch_peer::Peer;
use perch_protocol::peer::{ReadMarks, SendMessage};
use perch_protocol::List;
use perch_relay_protocol::NewMessage;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `None` when the peer network is off (`[peer] enabled = false`, or no relay).
pub type PeerState = Option<Arc<Peer>>;

type ApiResult = Result<Response, ApiError>;

fn peer(state: &PeerState) -> Result<&Arc<Peer>, ApiError> {
    state.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "peer_off",
            "the peer network is off: set `[peer] enabled = true` and a relay (`[relay] listen` or `url`) in config.toml",
        )
    })
}

pub async fn status(State(state): State<PeerState>) -> ApiResult {
    Ok(match &state {
        Some(peer) => axum::Json(peer.status()).into_response(),
        None => axum::Json(json!({ "enabled": false })).into_response(),
    })
}

pub async fn agents(State(state): State<PeerState>) -> ApiResult {
    Ok(axum::Json(List::of(peer(&state)?.agents().await?)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboxQuery {
    channel: Option<String>,
    agent: Option<String>,
    before_id: Option<i64>,
    limit: Option<usize>,
}

pub async fn messages(
    State(state): State<PeerState>,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (messages, has_more) = peer(&state)?
        .inbox(
            nonempty(q.channel),
            nonempty(q.agent),
            q.before_id,
            q.limit.unwrap_or(200),
        )
        .await?;
    let page = List {
        data: messages,
        total: None,
        has_more: Some(has_more),
    };
    Ok(axum::Json(page).into_response())
}

pub async fn send(State(state): State<PeerState>, Json(out): Json<SendMessage>) -> ApiResult {
    let blank = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
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
        subject: blank(out.subject),
        channel: blank(out.channel),
        reply_to: out.reply_to,
        claimable: out.claimable,
        kind: None,
        meta: Default::default(),
        urgent: out.urgent,
    };
    let sent = peer(&state)?.send_as_person(message).await?;
    Ok((StatusCode::CREATED, axum::Json(sent)).into_response())
}

pub async fn read(State(state): State<PeerState>, Json(marks): Json<ReadMarks>) -> ApiResult {
    let unread = peer(&state)?.mark_read(&marks.ids).await?;
    Ok(axum::Json(json!({ "unread": unread })).into_response())
}

pub async fn pairs(State(state): State<PeerState>) -> ApiResult {
    Ok(axum::Json(List::of(peer(&state)?.pairs().await?)).into_response())
}

pub async fn tasks(State(state): State<PeerState>) -> ApiResult {
    Ok(axum::Json(List::of(peer(&state)?.tasks().await?)).into_response())
}
