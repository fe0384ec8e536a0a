//! The handlers: thin adapters from HTTP to `Runtime` methods.

use crate::auth::{Auth, SESSION_COOKIE};
use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use perch_protocol::List;
use perch_runtime::model::{NewSession, SessionPatch};
use perch_runtime::settings::SettingsPatch;
use perch_runtime::{Decision, LoginParams, Runtime};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `axum::Json` with our error shape for bad bodies.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

pub(crate) fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

fn accepted(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::ACCEPTED, axum::Json(value)).into_response())
}

pub async fn health() -> ApiResult {
    ok(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: Option<String>,
    code: Option<String>,
}

pub async fn open_session(State(auth): State<Arc<Auth>>, Json(body): Json<SignIn>) -> ApiResult {
    let Some(id) = auth.open_session(body.token.as_deref(), body.code.as_deref()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "that token or login code is not valid (codes work once, for 60 s); `perch token` prints the token",
        ));
    };
    let cookie =
        format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/api; Max-Age=2592000");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

pub async fn close_session(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> ApiResult {
    auth.close_session(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/api; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

pub async fn login_code(State(auth): State<Arc<Auth>>) -> ApiResult {
    let (code, ttl) = auth
        .new_login_code()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    ok(json!({ "code": code, "expiresAt": stdx::now_ms() + ttl as i64 * 1000 }))
}

pub async fn status(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(rt.status()?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    #[serde(default)]
    archived: bool,
    q: Option<String>,
}

pub async fn list_sessions(
    State(rt): State<Arc<Runtime>>,
    query: Result<Query<SessionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query?;
    ok(List::of(rt.sessions(query.archived, query.q.as_deref())?))
}

/// The body is optional here: an empty POST starts a session with defaults.
pub async fn create_session(State(rt): State<Arc<Runtime>>, body: axum::body::Bytes) -> ApiResult {
    let new: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("bad session fields: {e}"),
            )
        })?
    };
    created(rt.create_session(new).await?)
}

pub async fn get_session(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> ApiResult {
    ok(rt.session(&id)?)
}

pub async fn patch_session(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(patch): Json<SessionPatch>,
) -> ApiResult {
    ok(rt.update_session(&id, patch).await?)
}

pub async fn fork_session(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> ApiResult {
    created(rt.fork_session(&id).await?)
}

pub async fn compact_session(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> ApiResult {
    rt.compact_session(&id).await?;
    accepted(json!({}))
}

pub async fn history(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> ApiResult {
    ok(List::of(rt.history(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    text: String,
}

pub async fn send_message(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<Message>,
) -> ApiResult {
    accepted(rt.send_message(&id, &body.text).await?)
}

pub async fn interrupt(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> ApiResult {
    accepted(json!({ "turnId": rt.interrupt(&id).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    status: Option<String>,
}

pub async fn list_approvals(
    State(rt): State<Arc<Runtime>>,
    query: Result<Query<ApprovalQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query?;
    let pending_only = match query.status.as_deref() {
        None | Some("pending") => true,
        Some("all") => false,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("status must be `pending` or `all`, not {other:?}"),
            ))
        }
    };
    ok(List::of(rt.approvals(pending_only)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    decision: Decision,
}

pub async fn answer_approval(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<Answer>,
) -> ApiResult {
    ok(rt.answer_approval(&id, body.decision).await?)
}

pub async fn account(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(rt.account().await?)
}

pub async fn login(State(rt): State<Arc<Runtime>>, Json(body): Json<LoginParams>) -> ApiResult {
    ok(rt.login(body).await?)
}

pub async fn models(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(List::of(rt.models().await?))
}

pub async fn settings(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(rt.settings().await?)
}

pub async fn patch_settings(
    State(rt): State<Arc<Runtime>>,
    Json(patch): Json<SettingsPatch>,
) -> ApiResult {
    ok(rt.update_settings(patch).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderKey {
    key: String,
}

pub async fn put_provider_key(
    State(rt): State<Arc<Runtime>>,
    Json(body): Json<ProviderKey>,
) -> ApiResult {
    ok(rt.set_provider_key(Some(body.key)).await?)
}

pub async fn delete_provider_key(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(rt.set_provider_key(None).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayToken {
    token: String,
}

pub async fn put_relay_token(
    State(rt): State<Arc<Runtime>>,
    Json(body): Json<RelayToken>,
) -> ApiResult {
    ok(rt.set_relay_token(Some(body.token)).await?)
}

pub async fn delete_relay_token(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(rt.set_relay_token(None).await?)
}

pub async fn restart_codex(State(rt): State<Arc<Runtime>>) -> ApiResult {
    accepted(rt.restart_codex().await?)
}

pub async fn diagnostics(State(rt): State<Arc<Runtime>>) -> ApiResult {
    ok(json!({ "text": rt.diagnostics().await? }))
}

pub async fn openapi() -> ApiResult {
    ok(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such API route; see /api/openapi.json",
    )
}
