//! Memory, planner and wakeup routes: thin adapters over the runtime's
//! agent state (the same records the agent's MCP tools change).

use crate::error::ApiError;
use crate::routes::{created, ok, ApiResult, Json};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use perch_protocol::List;
use perch_runtime::memory::{MemoryFormat, MemoryPatch, MemoryQuery, NewMemory, Origin};
use perch_runtime::planner::{NewPlan, NewPlanItem, PlanChange, PlanItemPatch};
use perch_runtime::wakeups::{CreatedBy, NewWakeup, WakeupPatch};
use perch_runtime::Runtime;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Memory imports may be larger than other bodies.
pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

type Rt = State<Arc<Runtime>>;
type Id = Result<Path<i64>, PathRejection>;
type Ids = Result<Path<(i64, i64)>, PathRejection>;

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ------------------------------------------------------------------ memory

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryListQuery {
    q: Option<String>,
    tag: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn list_memories(
    State(rt): Rt,
    query: Result<Query<MemoryListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let query = MemoryQuery {
        q: q.q,
        tag: q.tag,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    };
    let page = rt.memories(query, false).await?;
    ok(List {
        data: page.memories,
        total: Some(page.total),
        has_more: None,
    })
}

pub async fn add_memory(State(rt): Rt, Json(new): Json<NewMemory>) -> ApiResult {
    created(rt.add_memory(new, Origin::person())?)
}

pub async fn get_memory(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    ok(rt.memory(id)?)
}

pub async fn patch_memory(State(rt): Rt, id: Id, Json(patch): Json<MemoryPatch>) -> ApiResult {
    let Path(id) = id?;
    ok(rt.update_memory(id, patch)?)
}

pub async fn delete_memory(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    if rt.delete_memories(&[id])?.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no memory {id}"),
        ));
    }
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkDelete {
    ids: Vec<i64>,
}

pub async fn delete_memories(State(rt): Rt, Json(body): Json<BulkDelete>) -> ApiResult {
    ok(json!({ "deleted": rt.delete_memories(&body.ids)?.len() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    format: Option<MemoryFormat>,
}

pub async fn export_memories(
    State(rt): Rt,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let format = q.format.unwrap_or(MemoryFormat::Jsonl);
    let (content_type, file) = match format {
        MemoryFormat::Jsonl => (
            "application/x-ndjson; charset=utf-8",
            "perch-memories.jsonl",
        ),
        MemoryFormat::Markdown => ("text/markdown; charset=utf-8", "perch-memories.md"),
    };
    let body = rt.export_memories(format)?;
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

pub async fn import_memories(
    State(rt): Rt,
    query: Result<Query<FormatQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> ApiResult {
    let Query(q) = query?;
    let format = q.format.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "say which format the file is: ?format=jsonl or ?format=markdown",
        )
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the file is not UTF-8 text",
        )
    })?;
    ok(rt.import_memories(format, text)?)
}

// ------------------------------------------------------------------ planner

pub async fn list_plans(State(rt): Rt) -> ApiResult {
    ok(List::of(rt.plans()?))
}

pub async fn create_plan(State(rt): Rt, Json(new): Json<NewPlan>) -> ApiResult {
    created(rt.create_plan(new)?)
}

pub async fn get_plan(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    ok(rt.plan(id)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRename {
    name: String,
}

pub async fn rename_plan(State(rt): Rt, id: Id, Json(body): Json<PlanRename>) -> ApiResult {
    let Path(id) = id?;
    ok(rt.change_plan(id, PlanChange::Rename(body.name))?)
}

pub async fn delete_plan(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    rt.delete_plan(id)?;
    no_content()
}

pub async fn add_plan_item(State(rt): Rt, id: Id, Json(item): Json<NewPlanItem>) -> ApiResult {
    let Path(id) = id?;
    ok(rt.change_plan(id, PlanChange::Add(vec![item]))?)
}

pub async fn patch_plan_item(
    State(rt): Rt,
    ids: Ids,
    Json(patch): Json<PlanItemPatch>,
) -> ApiResult {
    let Path((id, item)) = ids?;
    ok(rt.change_plan(id, PlanChange::Edit(item, patch))?)
}

pub async fn delete_plan_item(State(rt): Rt, ids: Ids) -> ApiResult {
    let Path((id, item)) = ids?;
    ok(rt.change_plan(id, PlanChange::Remove(item))?)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanClear {
    #[serde(default)]
    done_only: bool,
}

pub async fn clear_plan(State(rt): Rt, id: Id, body: axum::body::Bytes) -> ApiResult {
    let Path(id) = id?;
    let clear: PlanClear = if body.iter().all(u8::is_ascii_whitespace) {
        PlanClear::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("the body: {e}"),
            )
        })?
    };
    ok(rt.change_plan(
        id,
        PlanChange::Clear {
            done_only: clear.done_only,
        },
    )?)
}

// ------------------------------------------------------------------ wakeups

pub async fn list_wakeups(State(rt): Rt) -> ApiResult {
    ok(List::of(rt.wakeups()?))
}

pub async fn create_wakeup(State(rt): Rt, Json(new): Json<NewWakeup>) -> ApiResult {
    created(rt.create_wakeup(new, CreatedBy::Person)?)
}

pub async fn get_wakeup(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    ok(rt.wakeup(id)?)
}

pub async fn patch_wakeup(State(rt): Rt, id: Id, Json(patch): Json<WakeupPatch>) -> ApiResult {
    let Path(id) = id?;
    ok(rt.update_wakeup(id, patch)?)
}

pub async fn delete_wakeup(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    rt.delete_wakeup(id)?;
    no_content()
}

pub async fn run_wakeup(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    Ok((StatusCode::ACCEPTED, axum::Json(rt.run_wakeup_now(id)?)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunsQuery {
    wakeup_id: Option<i64>,
    limit: Option<usize>,
}

pub async fn list_runs(
    State(rt): Rt,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    ok(List::of(
        rt.wakeup_runs(q.wakeup_id, q.limit.unwrap_or(100))?,
    ))
}

pub async fn fire_missed_run(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    ok(rt.decide_missed_run(id, true)?)
}

pub async fn dismiss_missed_run(State(rt): Rt, id: Id) -> ApiResult {
    let Path(id) = id?;
    ok(rt.decide_missed_run(id, false)?)
}
