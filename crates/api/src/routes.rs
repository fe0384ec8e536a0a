//! The handlers of sessions, approvals, account, settings and Codex: thin
//! adapters from HTTP to `Runtime` methods. Each one's `#[utoipa::path]`
//! is its entry in the OpenAPI document (see `openapi.rs`).

use crate::auth::{Auth, SESSION_COOKIE};
use crate::body_schemas::BodySchemas;
use crate::error::ApiError;
use crate::openapi::{BadBody, ById, CodexCall, Protected, NOT_FUZZED};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use perch_protocol::account::{AccountState, Login, LoginStarted, Usage};
use perch_protocol::approvals::{
    Answer, Approval, ApprovalFilter, ApprovalQuery, Decision, MAX_REASON_CHARS,
};
use perch_protocol::auth::{Health, LoginCode, SignIn};
use perch_protocol::sessions::{
    Compacting, ForkFrom, HistoryTurn, Interrupting, NewSession, Resend, Sent, Session,
    SessionPatch, SessionQuery, UserText,
};
use perch_protocol::settings::{
    ProviderCheck, ProviderChecked, ProviderKey, RelayToken, Settings, SettingsPatch,
};
use perch_protocol::system::{Diagnostics, ModelInfo, Status};
use perch_protocol::List;
use perch_runtime::Runtime;
use std::sync::Arc;
use utoipa::ToSchema;

/// A JSON object body, read into `T` with our error shape: 400 when it does
/// not fit `T`. Any JSON number with no fraction is an integer, as JSON
/// Schema counts (`2.0` is `2`).
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let schemas = req.extensions().get::<Arc<BodySchemas>>().cloned();
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        Ok(Json(read_body(schemas.as_deref(), value)?))
    }
}

/// Reads a JSON object body into `T`, checked against `T`'s schema.
fn read_body<T: serde::de::DeserializeOwned + ToSchema>(
    schemas: Option<&BodySchemas>,
    mut value: serde_json::Value,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be a JSON object",
        ));
    }
    if let Some(schemas) = schemas {
        schemas.check(&T::name(), &value)?;
    }
    whole_numbers_as_integers(&mut value);
    // A body that does not fit the schema is 400; 422 is for values that
    // fit it but are refused (a blank text, a time in the past).
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("a field is missing, unknown or of the wrong type: {e}"),
        )
    })
}

fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // Within ±2^53 a float holds every whole number exactly.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// A `200` with `T` as JSON, or the error.
pub(crate) type Reply<T> = Result<axum::Json<T>, ApiError>;
/// A `201` (or `202`) with `T` as JSON, or the error.
pub(crate) type Made<T> = Result<(StatusCode, axum::Json<T>), ApiError>;
pub(crate) type QueryOr<T> = Result<Query<T>, QueryRejection>;

/// A query value trimmed, `None` when it is only spaces.
pub(crate) fn blank_is_none(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub(crate) fn ok<T>(value: T) -> Reply<T> {
    Ok(axum::Json(value))
}

pub(crate) fn created<T>(value: T) -> Made<T> {
    Ok((StatusCode::CREATED, axum::Json(value)))
}

pub(crate) fn accepted<T>(value: T) -> Made<T> {
    Ok((StatusCode::ACCEPTED, axum::Json(value)))
}

/// A body that may be left out: an empty body, or `null`, is `T::default()`;
/// anything else is a JSON object read as [`Json`] reads it.
pub(crate) fn optional_body<T: serde::de::DeserializeOwned + ToSchema + Default>(
    schemas: Option<Extension<Arc<BodySchemas>>>,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    match value {
        serde_json::Value::Null => Ok(T::default()),
        serde_json::Value::Object(_) => read_body(schemas.as_ref().map(|s| s.0.as_ref()), value),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be a JSON object (or left out)",
        )),
    }
}

/// Liveness.
#[utoipa::path(get, path = "/api/health", tag = "system", security(()),
    responses((status = 200, body = Health)))]
pub async fn health() -> Reply<Health> {
    ok(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Exchange the token or a one-time login code for a session cookie.
#[utoipa::path(post, path = "/api/auth/session", tag = "auth", security(()),
    request_body = SignIn,
    responses(
        (status = 204, description = "Signed in: the `perch_session` cookie is set",
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 401, body = perch_protocol::errors::ErrorBody, description = "Not a valid token or code"),
        BadBody))]
pub async fn open_session(
    State(auth): State<Arc<Auth>>,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
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

/// Sign the browser out (ends its session, if any).
#[utoipa::path(delete, path = "/api/auth/session", tag = "auth", security(()),
    responses((status = 204, description = "Signed out; the cookie is cleared",
        headers(("set-cookie" = String, description = "The cleared cookie")))))]
pub async fn close_session(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    auth.close_session(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/api; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// A one-time login code for the browser (60 s).
#[utoipa::path(post, path = "/api/auth/login-codes", tag = "auth",
    responses((status = 200, body = LoginCode), Protected))]
pub async fn login_code(State(auth): State<Arc<Auth>>) -> Reply<LoginCode> {
    let (code, ttl) = auth
        .new_login_code()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    ok(LoginCode {
        code,
        expires_at: stdx::now_ms() + ttl as i64 * 1000,
    })
}

/// Codex's state, running turns, pending approvals.
#[utoipa::path(get, path = "/api/status", tag = "system",
    responses((status = 200, body = Status), Protected))]
pub async fn status(State(rt): State<Arc<Runtime>>) -> Reply<Status> {
    ok(rt.status()?)
}

/// Sessions, newest activity first; archived ones with `?archived=true`.
#[utoipa::path(get, path = "/api/sessions", tag = "sessions", params(SessionQuery),
    responses((status = 200, body = List<Session>),
        (status = 400, body = perch_protocol::errors::ErrorBody, description = "A query parameter is wrong"),
        Protected))]
pub async fn list_sessions(
    State(rt): State<Arc<Runtime>>,
    query: QueryOr<SessionQuery>,
) -> Reply<List<Session>> {
    let Query(query) = query?;
    let filter = perch_runtime::store::SessionFilter {
        archived: match query.include_archived {
            Some(true) => None,
            _ => Some(query.archived.unwrap_or(false)),
        },
        query: blank_is_none(query.q),
        project: blank_is_none(query.project)
            .map(|p| p.trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty()),
    };
    ok(List::of(rt.sessions(&filter)?))
}

/// Start a session (a new Codex thread). The body is optional: an empty
/// one starts a session with the defaults.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions",
    request_body(content = Option<NewSession>, description = "Optional"),
    responses((status = 201, body = Session,
        links(("get_session" = (operation_id = "get_session", parameters(("id" = "$response.body#/id")))), ("patch_session" = (operation_id = "patch_session", parameters(("id" = "$response.body#/id")))), ("fork_session" = (operation_id = "fork_session", parameters(("id" = "$response.body#/id")))), ("compact_session" = (operation_id = "compact_session", parameters(("id" = "$response.body#/id")))), ("history" = (operation_id = "history", parameters(("id" = "$response.body#/id")))), ("send_message" = (operation_id = "send_message", parameters(("id" = "$response.body#/id")))), ("resend" = (operation_id = "resend", parameters(("id" = "$response.body#/id")))), ("interrupt" = (operation_id = "interrupt", parameters(("id" = "$response.body#/id")))))),
        BadBody, CodexCall, Protected))]
pub async fn create_session(
    State(rt): State<Arc<Runtime>>,
    schemas: Option<Extension<Arc<BodySchemas>>>,
    body: axum::body::Bytes,
) -> Made<Session> {
    let new: NewSession = optional_body(schemas, &body)?;
    created(rt.create_session(new).await?)
}

/// One session.
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The session (Codex thread) id")),
    responses((status = 200, body = Session), ById, Protected))]
pub async fn get_session(State(rt): State<Arc<Runtime>>, Path(id): Path<String>) -> Reply<Session> {
    ok(rt.session(&id)?)
}

/// Rename, pin, archive, set the model or the effort.
#[utoipa::path(patch, path = "/api/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = SessionPatch,
    responses((status = 200, body = Session), ById, BadBody, CodexCall, Protected))]
pub async fn patch_session(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(patch): Json<SessionPatch>,
) -> Reply<Session> {
    ok(rt.update_session(&id, patch).await?)
}

/// Fork a session: a new one with the same history, or with the history up
/// to and including one turn (`{"lastTurnId"}`; the body is optional).
#[utoipa::path(post, path = "/api/sessions/{id}/fork", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body(content = Option<ForkFrom>, description = "Optional"),
    responses((status = 201, body = Session), ById, BadBody,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "That turn is still running"),
        CodexCall, Protected))]
pub async fn fork_session(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    schemas: Option<Extension<Arc<BodySchemas>>>,
    body: axum::body::Bytes,
) -> Made<Session> {
    let from: ForkFrom = optional_body(schemas, &body)?;
    created(
        rt.fork_session(&id, blank_is_none(from.last_turn_id))
            .await?,
    )
}

/// Compact a session's context (in the background).
#[utoipa::path(post, path = "/api/sessions/{id}/compact", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 202, body = Compacting), ById, CodexCall,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "A turn is running"),
        Protected))]
pub async fn compact_session(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
) -> Made<Compacting> {
    rt.compact_session(&id).await?;
    accepted(Compacting {})
}

/// The session's turns and their items, oldest first. Opening a session
/// wakes a sleeping Codex: a message is likely to follow.
#[utoipa::path(get, path = "/api/sessions/{id}/history", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, body = List<HistoryTurn>), ById, CodexCall, Protected))]
pub async fn history(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
) -> Reply<List<HistoryTurn>> {
    rt.wake_codex_soon();
    ok(List::of(rt.history(&id).await?))
}

/// Send a message: starts a turn, or steers the running one.
#[utoipa::path(post, path = "/api/sessions/{id}/messages", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = UserText,
    responses((status = 202, body = Sent), ById, BadBody, CodexCall, Protected))]
pub async fn send_message(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<UserText>,
) -> Made<Sent> {
    accepted(
        rt.send_with_images(&id, &body.text, &body.attachments)
            .await?,
    )
}

/// Edit or retry: take back a turn and every later one (they leave the
/// model's context; changed files stay as they are), then send `text` as
/// the next turn.
#[utoipa::path(post, path = "/api/sessions/{id}/resend", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = Resend,
    responses((status = 202, body = Sent), ById, BadBody,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "A turn is running, or the session is archived"),
        CodexCall, Protected))]
pub async fn resend(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<Resend>,
) -> Made<Sent> {
    accepted(
        rt.resend(&id, &body.turn_id, &body.text, &body.attachments)
            .await?,
    )
}

/// Interrupt the running turn.
#[utoipa::path(post, path = "/api/sessions/{id}/interrupt", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 202, body = Interrupting), ById,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "No turn is running"),
        CodexCall, Protected))]
pub async fn interrupt(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
) -> Made<Interrupting> {
    accepted(Interrupting {
        turn_id: rt.interrupt(&id).await?,
    })
}

/// Approvals: the pending ones, or all with `?status=all`.
#[utoipa::path(get, path = "/api/approvals", tag = "approvals", params(ApprovalQuery),
    responses((status = 200, body = List<Approval>),
        (status = 400, body = perch_protocol::errors::ErrorBody, description = "A query parameter is wrong"),
        Protected))]
pub async fn list_approvals(
    State(rt): State<Arc<Runtime>>,
    query: QueryOr<ApprovalQuery>,
) -> Reply<List<Approval>> {
    let Query(query) = query?;
    if let Some(session) = blank_is_none(query.session_id) {
        return ok(List::of(rt.store().approvals_of_session(&session)?));
    }
    let pending_only = query.status.unwrap_or_default() == ApprovalFilter::Pending;
    ok(List::of(rt.approvals(pending_only)?))
}

fn invalid_input(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
}

/// Answer an approval; a decline may say why (`reason`), which reaches the
/// model as the person's next words.
#[utoipa::path(post, path = "/api/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "The approval id")),
    request_body = Answer,
    responses((status = 200, body = Approval), ById, BadBody,
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "Already answered, or no longer waiting"),
        CodexCall, Protected))]
pub async fn answer_approval(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    Json(body): Json<Answer>,
) -> Reply<Approval> {
    let reason = blank_is_none(body.reason);
    if let Some(reason) = &reason {
        if body.decision != Decision::Decline {
            return Err(invalid_input("a reason goes with `decline` only"));
        }
        let chars = reason.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(invalid_input(&format!(
                "the reason is {chars} characters; at most {MAX_REASON_CHARS}"
            )));
        }
    }
    if let Some(reason) = reason {
        // Codex's answer has no reason: the model reads it as the person's
        // words, steered into the turn before the decline, so the request
        // that follows the decline carries both.
        let asked = rt
            .store()
            .approval(&id)?
            .filter(|a| a.status == perch_runtime::model::ApprovalStatus::Pending)
            .ok_or_else(|| {
                perch_runtime::Error::Conflict(
                    "this approval is no longer waiting for an answer".into(),
                )
            })?;
        let words = format!("I deny this: {}\nWhy: {reason}", asked.title);
        rt.send_message(&asked.session_id, &words).await?;
    }
    ok(rt.answer_approval(&id, body.decision).await?)
}

/// Whom Codex is signed in as.
#[utoipa::path(get, path = "/api/account", tag = "account",
    responses((status = 200, body = AccountState), CodexCall, Protected))]
pub async fn account(State(rt): State<Arc<Runtime>>) -> Reply<AccountState> {
    ok(rt.account().await?)
}

/// How much of the plan's rate limits is used, as Codex last reported it
/// (`unavailable` says why there are no figures).
#[utoipa::path(get, path = "/api/account/usage", tag = "account",
    responses((status = 200, body = Usage), CodexCall, Protected))]
pub async fn usage(State(rt): State<Arc<Runtime>>) -> Reply<Usage> {
    ok(rt.usage().await?)
}

/// Start an API-key or ChatGPT device-code login.
#[utoipa::path(post, path = "/api/account/login", tag = NOT_FUZZED,
    request_body = Login,
    responses((status = 200, body = LoginStarted), BadBody, CodexCall, Protected))]
pub async fn login(State(rt): State<Arc<Runtime>>, Json(body): Json<Login>) -> Reply<LoginStarted> {
    if let Login::ApiKey { api_key } = &body {
        if !api_key.trim().is_empty() {
            let config = rt.config();
            crate::model_servers::check_openai_key(config.env.get("OPENAI_BASE_URL"), api_key)
                .await?;
        }
    }
    ok(rt.login(body).await?)
}

/// Sign Codex out. With Perch on the person's own Codex home
/// (`sharedWithCodexCli`), this signs the Codex CLI out too.
#[utoipa::path(post, path = "/api/account/logout", tag = NOT_FUZZED,
    responses((status = 200, body = AccountState), CodexCall, Protected))]
pub async fn logout(State(rt): State<Arc<Runtime>>) -> Reply<AccountState> {
    ok(rt.logout().await?)
}

/// Models and their reasoning efforts.
#[utoipa::path(get, path = "/api/models", tag = "account",
    responses((status = 200, body = List<ModelInfo>), CodexCall, Protected))]
pub async fn models(State(rt): State<Arc<Runtime>>) -> Reply<List<ModelInfo>> {
    ok(List::of(rt.models().await?))
}

/// Settings: Codex, provider, notifications, memory, autostart, secrets, paths.
#[utoipa::path(get, path = "/api/settings", tag = "settings",
    responses((status = 200, body = Settings), Protected))]
pub async fn settings(State(rt): State<Arc<Runtime>>) -> Reply<Settings> {
    ok(rt.settings().await?)
}

/// Change settings (only what is given); saved to config.toml.
#[utoipa::path(patch, path = "/api/settings", tag = "settings",
    request_body = SettingsPatch,
    responses((status = 200, body = Settings), BadBody,
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "Autostart could not be changed"),
        Protected))]
pub async fn patch_settings(
    State(rt): State<Arc<Runtime>>,
    Json(patch): Json<SettingsPatch>,
) -> Reply<Settings> {
    ok(rt.update_settings(patch).await?)
}

/// Store the custom provider's API key in the keyring.
#[utoipa::path(put, path = "/api/settings/provider-key", tag = "settings",
    request_body = ProviderKey,
    responses((status = 200, body = Settings), BadBody,
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "The secret store failed"),
        Protected))]
pub async fn put_provider_key(
    State(rt): State<Arc<Runtime>>,
    Json(body): Json<ProviderKey>,
) -> Reply<Settings> {
    ok(rt.set_provider_key(Some(body.key)).await?)
}

/// Try an OpenAI-compatible server (its model listing) before it becomes
/// the provider; nothing is stored. Not fuzzed: it reaches out to the
/// address it is given.
#[utoipa::path(post, path = "/api/settings/provider-check", tag = NOT_FUZZED,
    request_body = ProviderCheck,
    responses((status = 200, body = ProviderChecked), BadBody,
        (status = 502, body = perch_protocol::errors::ErrorBody, description = "The server could not be reached, or did not answer a model listing"),
        Protected))]
pub async fn provider_check(Json(body): Json<ProviderCheck>) -> Reply<ProviderChecked> {
    let models =
        crate::model_servers::check_server(&body.base_url, body.api_key.as_deref()).await?;
    ok(ProviderChecked { models })
}

/// Remove the stored provider API key.
#[utoipa::path(delete, path = "/api/settings/provider-key", tag = "settings",
    responses((status = 200, body = Settings),
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "The secret store failed"),
        Protected))]
pub async fn delete_provider_key(State(rt): State<Arc<Runtime>>) -> Reply<Settings> {
    ok(rt.set_provider_key(None).await?)
}

/// Store the relay token in the keyring (used from the next start).
#[utoipa::path(put, path = "/api/settings/relay-token", tag = "settings",
    request_body = RelayToken,
    responses((status = 200, body = Settings), BadBody,
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "The secret store failed"),
        Protected))]
pub async fn put_relay_token(
    State(rt): State<Arc<Runtime>>,
    Json(body): Json<RelayToken>,
) -> Reply<Settings> {
    ok(rt.set_relay_token(Some(body.token)).await?)
}

/// Remove the stored relay token.
#[utoipa::path(delete, path = "/api/settings/relay-token", tag = "settings",
    responses((status = 200, body = Settings),
        (status = 503, body = perch_protocol::errors::ErrorBody, description = "The secret store failed"),
        Protected))]
pub async fn delete_relay_token(State(rt): State<Arc<Runtime>>) -> Reply<Settings> {
    ok(rt.set_relay_token(None).await?)
}

/// Restart Codex to apply binary or provider changes.
#[utoipa::path(post, path = "/api/codex/restart", tag = NOT_FUZZED,
    responses((status = 202, body = Settings), CodexCall, Protected))]
pub async fn restart_codex(State(rt): State<Arc<Runtime>>) -> Made<Settings> {
    accepted(rt.restart_codex().await?)
}

/// A plain-text diagnostics report (no secrets).
#[utoipa::path(get, path = "/api/diagnostics", tag = "system",
    responses((status = 200, body = Diagnostics), Protected))]
pub async fn diagnostics(State(rt): State<Arc<Runtime>>) -> Reply<Diagnostics> {
    ok(Diagnostics {
        text: rt.diagnostics().await?,
    })
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", security(()),
    responses((status = 200, content_type = "application/json", body = Object, description = "OpenAPI 3.1")))]
pub async fn openapi(State(doc): State<Arc<crate::document::ApiDocument>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.rendered()).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such API route; see /api/openapi.json",
    )
}
