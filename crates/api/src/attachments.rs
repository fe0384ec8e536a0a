//! `/api/attachments`: images for a message (the body is the image), and
//! `/api/sessions/{id}/files`: the session folder's files for `@` mentions.

use crate::error::ApiError;
use crate::openapi::{BadBody, ById, CodexCall, Protected};
use crate::routes::{ok, Reply};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use perch_protocol::attachments::{Attachment, FileMatch, FileQuery, MAX_ATTACHMENT_BYTES};
use perch_protocol::List;
use perch_runtime::Runtime;
use std::sync::Arc;
use utoipa::ToSchema;

/// The route's own body limit: the largest image, and room for nothing else.
pub const ATTACHMENT_LIMIT: usize = MAX_ATTACHMENT_BYTES;

/// The body of an upload, as the document describes it: the image's bytes.
pub struct ImageBytes;

impl utoipa::PartialSchema for ImageBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .description(Some("A PNG, JPEG, GIF or WebP image, at most 20 MiB"))
            .into()
    }
}

impl ToSchema for ImageBytes {}

/// Keep an image for a message (PNG, JPEG, GIF or WebP, at most 20 MiB; the
/// body is the image, `Content-Type` its type). The same image is kept once.
#[utoipa::path(post, path = "/api/attachments", tag = "sessions",
    request_body(content = ImageBytes, content_type = "image/png"),
    responses((status = 201, body = Attachment), BadBody, Protected))]
pub async fn upload(
    State(rt): State<Arc<Runtime>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, axum::Json<Attachment>), ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the image is larger than {} MB, the limit per image",
                MAX_ATTACHMENT_BYTES / 1_048_576
            ),
        ),
        status => ApiError::new(status, "bad_request", e.body_text()),
    })?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if declared.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "say the image's type with `Content-Type` (image/png, image/jpeg, image/gif or image/webp)",
        ));
    }
    let kept = rt.save_attachment(declared, &body)?;
    Ok((StatusCode::CREATED, axum::Json(kept)))
}

/// A kept image, for previews and the history.
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The attachment id (32 hexadecimal digits)")),
    responses((status = 200, description = "The image", content_type = "image/png"), ById, Protected))]
pub async fn image(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (path, mime) = rt.attachment(&id)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("reading {}: {e}", path.display()),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            // Content-addressed: it never changes under its id.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Files of the session's working folder matching what follows `@`
/// (Codex's fuzzy file search; what git ignores is left out).
#[utoipa::path(get, path = "/api/sessions/{id}/files", tag = "sessions",
    params(("id" = String, Path, description = "The session id"), FileQuery),
    responses((status = 200, body = List<FileMatch>), ById, BadBody, CodexCall, Protected))]
pub async fn files(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    query: Result<Query<FileQuery>, QueryRejection>,
) -> Reply<List<FileMatch>> {
    let Query(query) = query?;
    let limit = match query.limit {
        None => 20,
        Some(n @ 1..=50) => n as usize,
        Some(n) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("limit must be 1–50, not {n}"),
            ))
        }
    };
    ok(List::of(rt.session_files(&id, &query.q, limit).await?))
}
