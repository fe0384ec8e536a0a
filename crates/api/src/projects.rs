//! `/api/projects`: the working folders the person added.

use crate::error::ApiError;
use crate::openapi::{BadBody, ById, Protected};
use crate::routes::{ok, Json, Reply};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use perch_protocol::projects::{NewProject, Project};
use perch_protocol::List;
use perch_runtime::Runtime;
use std::sync::Arc;

/// The projects, by path, with each folder's git branch and uncommitted
/// files now.
#[utoipa::path(get, path = "/api/projects", tag = "projects",
    responses((status = 200, body = List<Project>), Protected))]
pub async fn list_projects(State(rt): State<Arc<Runtime>>) -> Reply<List<Project>> {
    ok(List::of(rt.projects().await?))
}

/// Add a folder (it must exist and be readable). A folder already listed is
/// answered as it is, with 200.
#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = NewProject,
    responses((status = 201, body = Project), (status = 200, body = Project, description = "Already listed"),
        BadBody, Protected))]
pub async fn add_project(
    State(rt): State<Arc<Runtime>>,
    Json(body): Json<NewProject>,
) -> Result<(StatusCode, axum::Json<Project>), ApiError> {
    let (project, new) = rt.add_project(&body.path).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(project)))
}

/// Take a project off the list; its sessions and its folder stay.
#[utoipa::path(delete, path = "/api/projects/{id}", tag = "projects",
    params(("id" = i64, Path, description = "The project id")),
    responses((status = 204, description = "Removed"), ById, Protected))]
pub async fn remove_project(
    State(rt): State<Arc<Runtime>>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    rt.remove_project(id)?;
    Ok(StatusCode::NO_CONTENT)
}
