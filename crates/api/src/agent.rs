//! Memory, planner and wakeup routes: thin adapters over `perch-agent` (the same records the agent's MCP tools change).

use crate::body_schemas::BodySchemas;
use crate::error::ApiError;
use crate::openapi::{BadBody, ById, Protected};
use crate::routes::{accepted, created, ok, optional_body, Json, Made, QueryOr, Reply};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use perch_agent::memory::{
    ImportReport, Memory, MemoryFormat, MemoryPatch, MemoryQuery, NewMemory, Origin,
};
use perch_agent::planner::{NewPlan, NewPlanItem, Plan, PlanChange, PlanItemPatch};
use perch_agent::wakeups::{CreatedBy, NewWakeup, Wakeup, WakeupPatch, WakeupRun};
use perch_agent::AgentState;
use perch_protocol::errors::ErrorBody;
use perch_protocol::memory::{BulkDelete, Deleted};
use perch_protocol::plans::{PlanClear, PlanRename};
use perch_protocol::List;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Memory imports may be larger than other bodies.
pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

type Ag = State<Arc<AgentState>>;
type Id = Result<Path<i64>, PathRejection>;
type Ids = Result<Path<(i64, i64)>, PathRejection>;

fn no_content() -> Result<StatusCode, ApiError> {
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ memory

/// The query of `GET /api/memories`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemoryListQuery {
    /// Ranked search over text and tags.
    q: Option<String>,
    /// Only memories with this tag.
    tag: Option<String>,
    /// At most this many (default 50).
    #[param(maximum = 4_294_967_295_u32)]
    limit: Option<u32>,
    /// Skip this many (default 0).
    #[param(maximum = 4_294_967_295_u32)]
    offset: Option<u32>,
}

/// Memories: newest first, or ranked with `?q=`; `total` counts them all.
#[utoipa::path(get, path = "/api/memories", tag = "memory", params(MemoryListQuery),
    responses((status = 200, body = List<Memory>), (status = 400, body = ErrorBody, description = "A query parameter is wrong"),
        (status = 502, body = ErrorBody, description = "The embeddings service failed"),
        Protected))]
pub async fn list_memories(
    State(agent): Ag,
    query: QueryOr<MemoryListQuery>,
) -> Reply<List<Memory>> {
    let Query(q) = query?;
    let query = MemoryQuery {
        q: q.q,
        tag: q.tag,
        limit: q.limit.map_or(50, |n| n as usize),
        offset: q.offset.map_or(0, |n| n as usize),
    };
    let page = agent.memories(query, false).await?;
    ok(List {
        data: page.memories,
        total: Some(page.total),
        has_more: None,
    })
}

/// Add a memory (as the person).
#[utoipa::path(post, path = "/api/memories", tag = "memory", request_body = NewMemory,
    responses((status = 201, body = Memory,
        links(("get_memory" = (operation_id = "get_memory", parameters(("id" = "$response.body#/id")))), ("patch_memory" = (operation_id = "patch_memory", parameters(("id" = "$response.body#/id")))), ("delete_memory" = (operation_id = "delete_memory", parameters(("id" = "$response.body#/id")))))),
        BadBody, Protected))]
pub async fn add_memory(State(agent): Ag, Json(new): Json<NewMemory>) -> Made<Memory> {
    created(agent.add_memory(new, Origin::person())?)
}

/// One memory.
#[utoipa::path(get, path = "/api/memories/{id}", tag = "memory",
    params(("id" = i64, Path, description = "The memory id")),
    responses((status = 200, body = Memory), ById, Protected))]
pub async fn get_memory(State(agent): Ag, id: Id) -> Reply<Memory> {
    let Path(id) = id?;
    ok(agent.memory(id)?)
}

/// Edit a memory's text, tags or importance.
#[utoipa::path(patch, path = "/api/memories/{id}", tag = "memory",
    params(("id" = i64, Path, description = "The memory id")), request_body = MemoryPatch,
    responses((status = 200, body = Memory), ById, BadBody, Protected))]
pub async fn patch_memory(
    State(agent): Ag,
    id: Id,
    Json(patch): Json<MemoryPatch>,
) -> Reply<Memory> {
    let Path(id) = id?;
    ok(agent.update_memory(id, patch)?)
}

/// Delete a memory.
#[utoipa::path(delete, path = "/api/memories/{id}", tag = "memory",
    params(("id" = i64, Path, description = "The memory id")),
    responses((status = 204, description = "Deleted"), ById, Protected))]
pub async fn delete_memory(State(agent): Ag, id: Id) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    if agent.delete_memories(&[id])?.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no memory {id}"),
        ));
    }
    no_content()
}

/// Delete several memories (ids that do not exist are ignored).
#[utoipa::path(post, path = "/api/memories/delete", tag = "memory", request_body = BulkDelete,
    responses((status = 200, body = Deleted), BadBody, Protected))]
pub async fn delete_memories(State(agent): Ag, Json(body): Json<BulkDelete>) -> Reply<Deleted> {
    ok(Deleted {
        deleted: agent.delete_memories(&body.ids)?.len(),
    })
}

/// The query of the memory export.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (the default) or `markdown`.
    #[param(inline)]
    format: Option<MemoryFormat>,
}

/// The query of the memory import.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// What the file is: `jsonl` or `markdown`.
    #[param(inline)]
    format: MemoryFormat,
}

/// Every memory as a file.
#[utoipa::path(get, path = "/api/memories/export", tag = "memory", params(ExportQuery),
    responses(
        (status = 200, description = "The file (`Content-Disposition: attachment`)",
            content((String = "application/x-ndjson"), (String = "text/markdown"))),
        (status = 400, body = ErrorBody, description = "A query parameter is wrong"),
        Protected))]
pub async fn export_memories(
    State(agent): Ag,
    query: QueryOr<ExportQuery>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let format = q.format.unwrap_or(MemoryFormat::Jsonl);
    let (content_type, file) = match format {
        MemoryFormat::Jsonl => (
            "application/x-ndjson; charset=utf-8",
            "perch-memories.jsonl",
        ),
        MemoryFormat::Markdown => ("text/markdown; charset=utf-8", "perch-memories.md"),
    };
    let body = agent.export_memories(format)?;
    let disposition = format!("attachment; filename=\"{file}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The body of an import, as the document describes it (the handler reads
/// the bytes): the file's text, JSON lines or the Markdown export, not empty.
pub struct MemoryFile;

impl utoipa::PartialSchema for MemoryFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .description(Some("The file's text: JSON lines, or the Markdown export"))
            .into()
    }
}

impl ToSchema for MemoryFile {}

/// Import memories from a file (up to 16 MiB): the body is the file.
#[utoipa::path(post, path = "/api/memories/import", tag = "memory", params(ImportQuery),
    request_body(content = MemoryFile, content_type = "text/plain"),
    responses((status = 200, body = ImportReport), BadBody, Protected))]
pub async fn import_memories(
    State(agent): Ag,
    query: Result<Query<ImportQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Reply<ImportReport> {
    let Query(ImportQuery { format }) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "say which format the file is, ?format=jsonl or ?format=markdown ({})",
                e.body_text()
            ),
        )
    })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body is empty: send the file's text as the body",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the file is not UTF-8 text",
        )
    })?;
    ok(agent.import_memories(format, text)?)
}

// ------------------------------------------------------------------ planner

/// Todo lists with their items.
#[utoipa::path(get, path = "/api/plans", tag = "planner",
    responses((status = 200, body = List<Plan>), Protected))]
pub async fn list_plans(State(agent): Ag) -> Reply<List<Plan>> {
    ok(List::of(agent.plans()?))
}

/// Create a todo list.
#[utoipa::path(post, path = "/api/plans", tag = "planner", request_body = NewPlan,
    responses((status = 201, body = Plan,
        links(("get_plan" = (operation_id = "get_plan", parameters(("id" = "$response.body#/id")))), ("rename_plan" = (operation_id = "rename_plan", parameters(("id" = "$response.body#/id")))), ("delete_plan" = (operation_id = "delete_plan", parameters(("id" = "$response.body#/id")))), ("add_plan_item" = (operation_id = "add_plan_item", parameters(("id" = "$response.body#/id")))), ("clear_plan" = (operation_id = "clear_plan", parameters(("id" = "$response.body#/id")))))),
        BadBody,
        (status = 409, body = ErrorBody, description = "A list with that name exists"), Protected))]
pub async fn create_plan(State(agent): Ag, Json(new): Json<NewPlan>) -> Made<Plan> {
    created(agent.create_plan(new)?)
}

/// One todo list.
#[utoipa::path(get, path = "/api/plans/{id}", tag = "planner",
    params(("id" = i64, Path, description = "The plan id")),
    responses((status = 200, body = Plan), ById, Protected))]
pub async fn get_plan(State(agent): Ag, id: Id) -> Reply<Plan> {
    let Path(id) = id?;
    ok(agent.plan(id)?)
}

/// Rename a todo list.
#[utoipa::path(patch, path = "/api/plans/{id}", tag = "planner",
    params(("id" = i64, Path, description = "The plan id")), request_body = PlanRename,
    responses((status = 200, body = Plan), ById, BadBody,
        (status = 409, body = ErrorBody, description = "A list with that name exists"), Protected))]
pub async fn rename_plan(State(agent): Ag, id: Id, Json(body): Json<PlanRename>) -> Reply<Plan> {
    let Path(id) = id?;
    ok(agent.change_plan(id, PlanChange::Rename(body.name))?)
}

/// Delete a todo list.
#[utoipa::path(delete, path = "/api/plans/{id}", tag = "planner",
    params(("id" = i64, Path, description = "The plan id")),
    responses((status = 204, description = "Deleted"), ById, Protected))]
pub async fn delete_plan(State(agent): Ag, id: Id) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    agent.delete_plan(id)?;
    no_content()
}

/// Add an item.
#[utoipa::path(post, path = "/api/plans/{id}/items", tag = "planner",
    params(("id" = i64, Path, description = "The plan id")), request_body = NewPlanItem,
    responses((status = 200, body = Plan,
        links(("patch_plan_item" = (operation_id = "patch_plan_item", parameters(("id" = "$response.body#/id"), ("itemId" = "$response.body#/items/0/id")))), ("delete_plan_item" = (operation_id = "delete_plan_item", parameters(("id" = "$response.body#/id"), ("itemId" = "$response.body#/items/0/id")))))),
        ById, BadBody, Protected))]
pub async fn add_plan_item(State(agent): Ag, id: Id, Json(item): Json<NewPlanItem>) -> Reply<Plan> {
    let Path(id) = id?;
    ok(agent.change_plan(id, PlanChange::Add(vec![item]))?)
}

/// Edit, check, uncheck or move an item.
#[utoipa::path(patch, path = "/api/plans/{id}/items/{itemId}", tag = "planner",
    params(("id" = i64, Path, description = "The plan id"), ("itemId" = i64, Path, description = "The item id")),
    request_body = PlanItemPatch,
    responses((status = 200, body = Plan), ById, BadBody, Protected))]
pub async fn patch_plan_item(
    State(agent): Ag,
    ids: Ids,
    Json(patch): Json<PlanItemPatch>,
) -> Reply<Plan> {
    let Path((id, item)) = ids?;
    ok(agent.change_plan(id, PlanChange::Edit(item, patch))?)
}

/// Remove an item.
#[utoipa::path(delete, path = "/api/plans/{id}/items/{itemId}", tag = "planner",
    params(("id" = i64, Path, description = "The plan id"), ("itemId" = i64, Path, description = "The item id")),
    responses((status = 200, body = Plan), ById, Protected))]
pub async fn delete_plan_item(State(agent): Ag, ids: Ids) -> Reply<Plan> {
    let Path((id, item)) = ids?;
    ok(agent.change_plan(id, PlanChange::Remove(item))?)
}

/// Remove all items, or only the checked ones.
#[utoipa::path(post, path = "/api/plans/{id}/clear", tag = "planner",
    params(("id" = i64, Path, description = "The plan id")),
    request_body(content = Option<PlanClear>, description = "Optional"),
    responses((status = 200, body = Plan), ById, BadBody, Protected))]
pub async fn clear_plan(
    State(agent): Ag,
    id: Id,
    schemas: Option<Extension<Arc<BodySchemas>>>,
    body: axum::body::Bytes,
) -> Reply<Plan> {
    let Path(id) = id?;
    let clear: PlanClear = optional_body(schemas, &body)?;
    ok(agent.change_plan(
        id,
        PlanChange::Clear {
            done_only: clear.done_only,
        },
    )?)
}

// ------------------------------------------------------------------ wakeups

/// Wakeups with their next fire times and last runs.
#[utoipa::path(get, path = "/api/wakeups", tag = "wakeups",
    responses((status = 200, body = List<Wakeup>), Protected))]
pub async fn list_wakeups(State(agent): Ag) -> Reply<List<Wakeup>> {
    ok(List::of(agent.wakeups()?))
}

/// Schedule a wakeup (at, in, every or cron).
#[utoipa::path(post, path = "/api/wakeups", tag = "wakeups", request_body = NewWakeup,
    responses((status = 201, body = Wakeup,
        links(("get_wakeup" = (operation_id = "get_wakeup", parameters(("id" = "$response.body#/id")))), ("patch_wakeup" = (operation_id = "patch_wakeup", parameters(("id" = "$response.body#/id")))), ("delete_wakeup" = (operation_id = "delete_wakeup", parameters(("id" = "$response.body#/id")))), ("run_wakeup" = (operation_id = "run_wakeup", parameters(("id" = "$response.body#/id")))))),
        BadBody,
        (status = 404, body = ErrorBody, description = "The target session does not exist"),
        Protected))]
pub async fn create_wakeup(State(agent): Ag, Json(new): Json<NewWakeup>) -> Made<Wakeup> {
    created(agent.create_wakeup(new, CreatedBy::Person)?)
}

/// One wakeup.
#[utoipa::path(get, path = "/api/wakeups/{id}", tag = "wakeups",
    params(("id" = i64, Path, description = "The wakeup id")),
    responses((status = 200, body = Wakeup), ById, Protected))]
pub async fn get_wakeup(State(agent): Ag, id: Id) -> Reply<Wakeup> {
    let Path(id) = id?;
    ok(agent.wakeup(id)?)
}

/// Edit, pause (`enabled: false`) or resume a wakeup.
#[utoipa::path(patch, path = "/api/wakeups/{id}", tag = "wakeups",
    params(("id" = i64, Path, description = "The wakeup id")), request_body = WakeupPatch,
    responses((status = 200, body = Wakeup), ById, BadBody, Protected))]
pub async fn patch_wakeup(
    State(agent): Ag,
    id: Id,
    Json(patch): Json<WakeupPatch>,
) -> Reply<Wakeup> {
    let Path(id) = id?;
    ok(agent.update_wakeup(id, patch)?)
}

/// Delete a wakeup (its runs stay in the log).
#[utoipa::path(delete, path = "/api/wakeups/{id}", tag = "wakeups",
    params(("id" = i64, Path, description = "The wakeup id")),
    responses((status = 204, description = "Deleted"), ById, Protected))]
pub async fn delete_wakeup(State(agent): Ag, id: Id) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    agent.delete_wakeup(id)?;
    no_content()
}

/// Run a wakeup now, outside its schedule.
#[utoipa::path(post, path = "/api/wakeups/{id}/run", tag = "wakeups",
    params(("id" = i64, Path, description = "The wakeup id")),
    responses((status = 202, body = WakeupRun,
        links(("fire_missed_run" = (operation_id = "fire_missed_run", parameters(("id" = "$response.body#/id")))), ("dismiss_missed_run" = (operation_id = "dismiss_missed_run", parameters(("id" = "$response.body#/id")))))),
        ById, (status = 409, body = ErrorBody, description = "It is running"), Protected))]
pub async fn run_wakeup(State(agent): Ag, id: Id) -> Made<WakeupRun> {
    let Path(id) = id?;
    accepted(agent.run_wakeup_now(id)?)
}

/// The query of `GET /api/wakeups/runs`.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RunsQuery {
    /// Only this wakeup's runs.
    wakeup_id: Option<i64>,
    /// At most this many (default 100).
    #[param(maximum = 4_294_967_295_u32)]
    limit: Option<u32>,
}

/// The run log, newest first.
#[utoipa::path(get, path = "/api/wakeups/runs", tag = "wakeups", params(RunsQuery),
    responses((status = 200, body = List<WakeupRun>),
        (status = 400, body = ErrorBody, description = "A query parameter is wrong"), Protected))]
pub async fn list_runs(State(agent): Ag, query: QueryOr<RunsQuery>) -> Reply<List<WakeupRun>> {
    let Query(q) = query?;
    ok(List::of(agent.wakeup_runs(
        q.wakeup_id,
        q.limit.map_or(100, |n| n as usize),
    )?))
}

/// Run a missed occurrence now (misfire policy `ask`).
#[utoipa::path(post, path = "/api/wakeups/runs/{id}/fire", tag = "wakeups",
    params(("id" = i64, Path, description = "The run id")),
    responses((status = 200, body = WakeupRun), ById,
        (status = 409, body = ErrorBody, description = "The run is not a missed one"), Protected))]
pub async fn fire_missed_run(State(agent): Ag, id: Id) -> Reply<WakeupRun> {
    let Path(id) = id?;
    ok(agent.decide_missed_run(id, true)?)
}

/// Dismiss a missed occurrence.
#[utoipa::path(post, path = "/api/wakeups/runs/{id}/dismiss", tag = "wakeups",
    params(("id" = i64, Path, description = "The run id")),
    responses((status = 200, body = WakeupRun), ById,
        (status = 409, body = ErrorBody, description = "The run is not a missed one"), Protected))]
pub async fn dismiss_missed_run(State(agent): Ag, id: Id) -> Reply<WakeupRun> {
    let Path(id) = id?;
    ok(agent.decide_missed_run(id, false)?)
}
