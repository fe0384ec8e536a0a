//! `/api/pairs`: invite, accept, reject, hang up, pair chat.

use super::{AgentKey, AppState, JsonBody, QueryParams};
use crate::error::{RelayError, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use perch_relay_protocol::{Message, Pair, PairStatus};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
pub(super) struct Invite {
    from: Option<String>,
    target: Option<String>,
    objective: Option<String>,
}

pub(super) async fn invite(
    State(state): State<AppState>,
    key: AgentKey,
    JsonBody(req): JsonBody<Invite>,
) -> Result<(StatusCode, Json<Pair>)> {
    let from = req
        .from
        .ok_or_else(|| RelayError::Invalid("the body needs `from`".into()))?;
    let target = req.target.ok_or_else(|| {
        RelayError::Invalid("the body needs `target` (an id, tag:, cap: or label:)".into())
    })?;
    let authenticated = state.relay.authorize(&from, key.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .relay
                .invite(&from, &target, req.objective, authenticated)
                .await?,
        ),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PairFilter {
    agent_id: Option<String>,
    status: Option<PairStatus>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<PairFilter>,
) -> Result<Json<Vec<Pair>>> {
    Ok(Json(
        state
            .relay
            .pairs(filter.agent_id.as_deref(), filter.status)
            .await?,
    ))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Pair>> {
    Ok(Json(state.relay.pair(&id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Answer {
    agent_id: Option<String>,
}

async fn answer(
    state: AppState,
    id: String,
    key: AgentKey,
    req: Answer,
    next: PairStatus,
) -> Result<Json<Pair>> {
    let agent = req
        .agent_id
        .ok_or_else(|| RelayError::Invalid("the body needs `agentId`".into()))?;
    let authenticated = state.relay.authorize(&agent, key.as_deref()).await?;
    Ok(Json(
        state
            .relay
            .answer_pair(&id, &agent, next, authenticated)
            .await?,
    ))
}

pub(super) async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<Answer>,
) -> Result<Json<Pair>> {
    answer(state, id, key, req, PairStatus::Active).await
}

pub(super) async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<Answer>,
) -> Result<Json<Pair>> {
    answer(state, id, key, req, PairStatus::Rejected).await
}

pub(super) async fn hangup(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<Answer>,
) -> Result<Json<Pair>> {
    answer(state, id, key, req, PairStatus::Ended).await
}

#[derive(Deserialize)]
pub(super) struct PairChat {
    from: Option<String>,
    body: Option<String>,
    /// Kept on the message (an end-to-end mark, `e2e`); `pairId` is the relay's.
    #[serde(default)]
    meta: Map<String, Value>,
}

pub(super) async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<PairChat>,
) -> Result<(StatusCode, Json<Message>)> {
    let from = req
        .from
        .ok_or_else(|| RelayError::Invalid("the body needs `from`".into()))?;
    let body = req
        .body
        .ok_or_else(|| RelayError::Invalid("the body needs `body`".into()))?;
    let authenticated = state.relay.authorize(&from, key.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .relay
                .pair_message(&id, &from, &body, req.meta, authenticated)
                .await?,
        ),
    ))
}

pub(super) async fn messages(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Message>>> {
    Ok(Json(state.relay.pair_messages(&id).await?))
}
