//! `/api/integrations/events` and `/api/tasks`: integration ingress with
//! dedupe, task claims, status, history and callbacks.

use super::{numeric_id, presented_token, AgentKey, AppState, JsonBody, QueryParams};
use crate::error::{RelayError, Result};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use perch_relay_protocol::{Callback, InstanceProof, IntegrationEvent, Task, TaskEvent};
use serde::Deserialize;
use serde_json::{json, Value};

/// Integration tokens only: the source of a task is the integration.
pub(super) async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(event): JsonBody<IntegrationEvent>,
) -> Result<(StatusCode, Json<Value>)> {
    let token = presented_token(&headers).ok_or(RelayError::Unauthorized)?;
    let integration = state
        .relay
        .integration_for_token(token)
        .ok_or(RelayError::Unauthorized)?
        .clone();
    let (task, created) = state.relay.ingest(&integration, event).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(
            json!({ "task": task, "created": created, "deduped": !created && task.occurrence_count > 1 }),
        ),
    ))
}

#[derive(Deserialize, Default)]
pub(super) struct TaskFilter {
    status: Option<String>,
    source: Option<String>,
    target: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    QueryParams(f): QueryParams<TaskFilter>,
) -> Result<Json<Vec<Task>>> {
    Ok(Json(
        state
            .relay
            .tasks(
                f.status.as_deref(),
                f.source.as_deref(),
                f.target.as_deref(),
                f.limit,
            )
            .await?,
    ))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>> {
    Ok(Json(state.relay.task(numeric_id("task", &id)?).await?))
}

pub(super) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<TaskEvent>>> {
    Ok(Json(
        state.relay.task_events(numeric_id("task", &id)?).await?,
    ))
}

pub(super) async fn callbacks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Callback>>> {
    Ok(Json(
        state.relay.task_callbacks(numeric_id("task", &id)?).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskClaimRequest {
    agent_id: Option<String>,
    instance_id: Option<String>,
    epoch: Option<i64>,
}

pub(super) async fn claim(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<TaskClaimRequest>,
) -> Result<Json<Task>> {
    let agent = req
        .agent_id
        .ok_or_else(|| RelayError::Invalid("the body needs `agentId`".into()))?;
    state.relay.authorize(&agent, key.as_deref()).await?;
    let proof = InstanceProof {
        instance_id: req.instance_id,
        epoch: req.epoch,
    };
    Ok(Json(
        state
            .relay
            .claim_task(numeric_id("task", &id)?, &agent, &proof)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusUpdate {
    status: Option<String>,
    result: Option<String>,
    progress: Option<String>,
    agent_id: Option<String>,
}

pub(super) async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(req): JsonBody<StatusUpdate>,
) -> Result<Json<Task>> {
    if let Some(agent) = &req.agent_id {
        state.relay.authorize(agent, key.as_deref()).await?;
    }
    let status = req
        .status
        .ok_or_else(|| RelayError::Invalid("the body needs `status`".into()))?;
    Ok(Json(
        state
            .relay
            .update_task(
                numeric_id("task", &id)?,
                &status,
                req.result,
                req.progress,
                req.agent_id.as_deref(),
            )
            .await?,
    ))
}
