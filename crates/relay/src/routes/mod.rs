//! The Agent Relay HTTP API over [`Relay`]: routing, auth, CORS, body
//! limits and the JSON extractors. Handlers live in one module per resource.

mod agents;
mod messages;
mod pairs;
mod stream;
mod tasks;

use crate::error::{RelayError, Result};
use crate::relay::Relay;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Requests larger than this are refused (413) before they are read.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    relay: Arc<Relay>,
    /// Bound to loopback: only loopback `Host` names are served, so a page
    /// that rebinds its DNS name to 127.0.0.1 cannot reach the relay.
    loopback_only: bool,
}

pub(crate) fn router(relay: Arc<Relay>, loopback_only: bool) -> Router {
    let cors = cors_layer(&relay.settings().cors_origins);
    let state = AppState {
        relay,
        loopback_only,
    };
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/api/stats", get(stats))
        .route("/api/events", get(stream::events))
        .route("/api/agents", post(agents::register).get(agents::list))
        .route(
            "/api/agents/{id}",
            get(agents::get_one)
                .delete(agents::remove)
                .patch(agents::patch),
        )
        .route("/api/agents/{id}/heartbeat", post(agents::heartbeat))
        .route("/api/agents/{id}/links", post(agents::link))
        .route("/api/agents/{id}/devices", get(agents::devices))
        .route(
            "/api/agents/{id}/devices/{device}",
            axum::routing::delete(agents::remove_device),
        )
        .route(
            "/api/agents/{id}/{field}",
            axum::routing::patch(agents::patch_field),
        )
        .route("/api/messages", post(messages::send).get(messages::list))
        .route("/api/messages/cursor", get(messages::cursor))
        .route(
            "/api/messages/{id}",
            get(messages::get_one)
                .patch(messages::mark_read)
                .delete(messages::remove),
        )
        .route("/api/messages/{id}/thread", get(messages::thread))
        .route("/api/messages/{id}/claim", post(messages::claim))
        .route("/api/messages/{id}/claim/renew", post(messages::renew))
        .route("/api/messages/{id}/claim/release", post(messages::release))
        .route("/api/pairs", post(pairs::invite).get(pairs::list))
        .route("/api/pairs/{id}", get(pairs::get_one))
        .route("/api/pairs/{id}/accept", post(pairs::accept))
        .route("/api/pairs/{id}/reject", post(pairs::reject))
        .route("/api/pairs/{id}/hangup", post(pairs::hangup))
        .route(
            "/api/pairs/{id}/messages",
            post(pairs::send).get(pairs::messages),
        )
        .route("/api/integrations/events", post(tasks::ingest))
        .route("/api/tasks", get(tasks::list))
        .route("/api/tasks/{id}", get(tasks::get_one))
        .route("/api/tasks/{id}/events", get(tasks::events))
        .route("/api/tasks/{id}/callbacks", get(tasks::callbacks))
        .route("/api/tasks/{id}/claim", post(tasks::claim))
        .route(
            "/api/tasks/{id}/status",
            axum::routing::patch(tasks::status),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state);
    match cors {
        Some(cors) => api.layer(cors),
        None => api,
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::HeaderName::from_static("x-agent-relay-token"),
                header::HeaderName::from_static(perch_relay_protocol::AGENT_KEY_HEADER),
            ]),
    )
}

/// Host check, then the relay token on every route but health and the
/// integration ingress (which takes integration tokens).
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Result<Response> {
    if state.loopback_only {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !is_loopback_host(host) {
            return Err(RelayError::Forbidden(format!(
                "Host {host:?} is not a loopback name; this relay only answers 127.0.0.1, localhost and [::1]"
            )));
        }
    }
    foreign_origin_refused(&state, &request)?;
    let path = request.uri().path();
    let open = path == "/api/health" || path == "/api/integrations/events";
    if let (Some(token), false) = (&state.relay.settings().token, open) {
        if !presented_token(request.headers()).is_some_and(|t| stdx::ct_eq(t, token)) {
            return Err(RelayError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// A browser page may change nothing on the relay unless it is the relay's
/// own origin or one `AGENT_RELAY_CORS_ORIGINS` allows: a tokenless
/// loopback relay would otherwise take a cross-site form or `no-cors`
/// fetch (an empty body reads as `{}`). Clients that are not browsers send
/// no `Origin` and are not affected.
fn foreign_origin_refused(state: &AppState, request: &Request) -> Result<()> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let Some(origin) = text(header::ORIGIN) else {
        return Ok(());
    };
    let host = text(header::HOST).unwrap_or_default();
    let own = origin.strip_prefix("http://") == Some(host)
        || origin.strip_prefix("https://") == Some(host);
    let allowed = state
        .relay
        .settings()
        .cors_origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
    if own || allowed {
        return Ok(());
    }
    Err(RelayError::Forbidden(format!(
        "a page at {origin} may not change the relay; set AGENT_RELAY_CORS_ORIGINS to allow a browser origin"
    )))
}

/// `Authorization: Bearer T` or `X-Agent-Relay-Token: T`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer.or_else(|| {
        headers
            .get("x-agent-relay-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "::1"
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(
        serde_json::json!({ "status": "ok", "service": "perch-relay", "version": env!("CARGO_PKG_VERSION") }),
    )
}

async fn stats(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    Ok(Json(state.relay.stats().await?))
}

async fn not_found(method: Method, uri: axum::http::Uri) -> RelayError {
    RelayError::NotFound(format!(
        "no route {method} {}; see docs/relay.md for the API",
        uri.path()
    ))
}

// ----------------------------------------------------------------- extractors

/// A JSON body. An empty body reads as `{}` (agent-relay sends heartbeats
/// without one); a non-empty one must say `Content-Type: application/json`,
/// which a cross-site form cannot send without a CORS preflight.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = RelayError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                RelayError::PayloadTooLarge(format!(
                    "the request body is larger than {MAX_REQUEST_BYTES} bytes"
                ))
            } else {
                RelayError::Invalid(format!("the request body could not be read: {e}"))
            }
        })?;
        let text = if bytes.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else if !is_json {
            return Err(RelayError::UnsupportedMediaType);
        } else {
            &bytes[..]
        };
        serde_json::from_slice(text)
            .map(JsonBody)
            .map_err(|e| RelayError::Invalid(format!("the JSON body is not valid: {e}")))
    }
}

/// Query parameters, with a JSON error a person can act on.
pub(crate) struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = RelayError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| RelayError::Invalid(format!("bad query string: {}", e.body_text())))
    }
}

/// The agent key a call presents (`X-Agent-Key`), if any. Handlers pass it
/// to [`Relay::authorize`] for the id the call acts as.
pub(crate) struct AgentKey(pub Option<String>);

impl AgentKey {
    pub(crate) fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AgentKey {
    type Rejection = RelayError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let Some(value) = parts.headers.get(perch_relay_protocol::AGENT_KEY_HEADER) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .map_err(|_| RelayError::Invalid("the X-Agent-Key header is not plain text".into()))?;
        Ok(Self(Some(key.trim().to_string())))
    }
}

/// A numeric id from the path (`/api/messages/42`).
pub(crate) fn numeric_id(kind: &str, raw: &str) -> Result<i64> {
    raw.parse()
        .map_err(|_| RelayError::Invalid(format!("{kind} id {raw:?} is not a number")))
}
