//! `/api/changes*`: what the agent changed with Perch's tools, with where it
//! came from, and the changes a peer-driven turn asked for, which wait for
//! the person to accept or discard them.

use crate::openapi::{ById, Protected};
use crate::routes::{ok, QueryOr, Reply};
use axum::extract::{Path, Query, State};
use perch_agent::changes::AgentChange;
use perch_agent::AgentState;
use perch_protocol::changes::ChangeQuery;
use perch_protocol::errors::ErrorBody;
use perch_protocol::List;
use std::sync::Arc;

type Ag = State<Arc<AgentState>>;
type Id = Result<Path<i64>, axum::extract::rejection::PathRejection>;

/// The agent's changes, newest first; `status=pending` for those waiting.
#[utoipa::path(get, path = "/api/changes", tag = "changes", params(ChangeQuery),
    responses((status = 200, body = List<AgentChange>),
        (status = 400, body = ErrorBody, description = "A query parameter is wrong"), Protected))]
pub async fn list_changes(
    State(agent): Ag,
    query: QueryOr<ChangeQuery>,
) -> Reply<List<AgentChange>> {
    let Query(q) = query?;
    ok(List::of(
        agent.changes(q.status, q.limit.map_or(100, |n| n as usize))?,
    ))
}

/// One change.
#[utoipa::path(get, path = "/api/changes/{id}", tag = "changes",
    params(("id" = i64, Path, description = "The change id")),
    responses((status = 200, body = AgentChange), ById, Protected))]
pub async fn get_change(State(agent): Ag, id: Id) -> Reply<AgentChange> {
    let Path(id) = id?;
    ok(agent.change(id)?)
}

/// Accept a pending change: it runs now, once, with the tool the agent
/// called. The answer says whether it applied or failed (and why).
#[utoipa::path(post, path = "/api/changes/{id}/accept", tag = "changes",
    params(("id" = i64, Path, description = "The change id")),
    responses((status = 200, body = AgentChange), ById,
        (status = 409, body = ErrorBody, description = "It is not pending (any more)"),
        (status = 503, body = ErrorBody, description = "Perch's tools are not running yet"), Protected))]
pub async fn accept_change(State(agent): Ag, id: Id) -> Reply<AgentChange> {
    let Path(id) = id?;
    ok(agent.accept_change(id).await?)
}

/// Discard a pending change: it never runs.
#[utoipa::path(post, path = "/api/changes/{id}/discard", tag = "changes",
    params(("id" = i64, Path, description = "The change id")),
    responses((status = 200, body = AgentChange), ById,
        (status = 409, body = ErrorBody, description = "It is not pending (any more)"), Protected))]
pub async fn discard_change(State(agent): Ag, id: Id) -> Reply<AgentChange> {
    let Path(id) = id?;
    ok(agent.discard_change(id)?)
}
