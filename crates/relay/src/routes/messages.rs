//! `/api/messages`: send, read (by recipient, unread, since a cursor), read
//! markers, threads, and claims with leases.

use super::{numeric_id, AgentKey, AppState, JsonBody, QueryParams};
use crate::error::{RelayError, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use perch_relay_protocol::{check_id, InstanceProof, Message, MessageQuery, NewMessage};
use serde::Deserialize;

pub(super) async fn send(
    State(state): State<AppState>,
    key: AgentKey,
    JsonBody(req): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<Message>)> {
    let from = check_id("from", &req.from)?;
    let authenticated = state.relay.authorize(&from, key.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.relay.send_as(req, authenticated).await?),
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<MessageQuery>,
) -> Result<Json<Vec<Message>>> {
    if query.unread == Some(true) && query.for_agent.is_none() {
        return Err(RelayError::Invalid(
            "`unread=true` needs `for=<agent id>`: read markers are per agent".into(),
        ));
    }
    Ok(Json(state.relay.messages(&query).await?))
}

pub(super) async fn cursor(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    Ok(Json(
        serde_json::json!({ "latestId": state.relay.cursor().await? }),
    ))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Message>> {
    Ok(Json(
        state.relay.message(numeric_id("message", &id)?).await?,
    ))
}

pub(super) async fn thread(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Message>>> {
    let message = state.relay.message(numeric_id("message", &id)?).await?;
    let query = MessageQuery {
        thread_id: Some(message.thread_id),
        limit: Some(1000),
        ..Default::default()
    };
    Ok(Json(state.relay.messages(&query).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReadMarker {
    read_by: Option<String>,
}

/// `PATCH /api/messages/{id}` with `{"readBy": agentId}`.
pub(super) async fn mark_read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(marker): JsonBody<ReadMarker>,
) -> Result<Json<Message>> {
    let agent = marker.read_by.ok_or_else(|| {
        RelayError::Invalid("the body needs `readBy`: the agent that read it".into())
    })?;
    state.relay.authorize(&agent, key.as_deref()).await?;
    Ok(Json(
        state
            .relay
            .mark_read(numeric_id("message", &id)?, &check_id("readBy", &agent)?)
            .await?,
    ))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .relay
        .delete_message(numeric_id("message", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClaimRequest {
    agent_id: Option<String>,
    instance_id: Option<String>,
    epoch: Option<i64>,
    /// The lease length (default `CLAIM_LEASE_MS`).
    lease_ms: Option<i64>,
}

impl ClaimRequest {
    fn parts(self) -> Result<(String, InstanceProof, Option<i64>)> {
        let agent = self
            .agent_id
            .ok_or_else(|| RelayError::Invalid("the body needs `agentId`".into()))?;
        Ok((
            agent,
            InstanceProof {
                instance_id: self.instance_id,
                epoch: self.epoch,
            },
            self.lease_ms,
        ))
    }
}

pub(super) async fn claim(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<Json<Message>> {
    let (agent, proof, lease) = req.parts()?;
    state.relay.authorize(&agent, key.as_deref()).await?;
    Ok(Json(
        state
            .relay
            .claim(numeric_id("message", &id)?, &agent, &proof, lease)
            .await?,
    ))
}

pub(super) async fn renew(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<Json<Message>> {
    let (agent, proof, lease) = req.parts()?;
    state.relay.authorize(&agent, key.as_deref()).await?;
    Ok(Json(
        state
            .relay
            .renew_claim(numeric_id("message", &id)?, &agent, &proof, lease)
            .await?,
    ))
}

pub(super) async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<Json<Message>> {
    let (agent, proof, _) = req.parts()?;
    state.relay.authorize(&agent, key.as_deref()).await?;
    Ok(Json(
        state
            .relay
            .release_claim(numeric_id("message", &id)?, &agent, &proof)
            .await?,
    ))
}
