//! `/api/sessions/{id}/review*`: the files a session changed, revert and
//! "open in editor".

use crate::error::ApiError;
use crate::openapi::{BadBody, ById, Protected};
use crate::routes::{ok, Json, Reply};
use axum::extract::{Path, State};
use perch_protocol::review::{OpenFile, Opened, Revert, Review};
use perch_runtime::Runtime;
use std::sync::Arc;

/// Every file the session changed, diffed against the commit checked out
/// before its first change (or Codex's own diffs outside git).
#[utoipa::path(get, path = "/api/sessions/{id}/review", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, body = Review), ById, Protected))]
pub async fn review(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> Reply<Review> {
    ok(rt.review(&id).await?)
}

/// Put a file the session changed (or one hunk of its diff) back as it is
/// in the base commit; answers the review after.
#[utoipa::path(post, path = "/api/sessions/{id}/review/revert", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = Revert,
    responses((status = 200, body = Review), ById, BadBody,
        (status = 409, body = perch_protocol::errors::ErrorBody,
            description = "No git base, or the hunk is no longer there (read the review again)"),
        Protected))]
pub async fn revert(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<Revert>,
) -> Reply<Review> {
    ok(rt.revert(&id, &body.path, body.hunk).await?)
}

/// Open a file of the session's folder in the configured editor (`[review]
/// editor`), else in the desktop's default application for it.
#[utoipa::path(post, path = "/api/sessions/{id}/review/open", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = OpenFile,
    responses((status = 200, body = Opened), ById, BadBody,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "No editor configured and no desktop to open with"),
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "The desktop could not open it"),
        Protected))]
pub async fn open(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<OpenFile>,
) -> Result<axum::Json<Opened>, ApiError> {
    Ok(axum::Json(rt.open_file(&id, &body.path, body.line).await?))
}
