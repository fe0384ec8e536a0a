//! The API's error: a status, a stable code and a message a person can act
//! on, serialized as `{"error":{"code","message"}}` only here, at the edge.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use perch_runtime::{CodexError, Error as RuntimeError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token: send `Authorization: Bearer <token>` (see `perch token`) or sign in again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<RuntimeError> for ApiError {
    fn from(err: RuntimeError) -> Self {
        let message = err.to_string();
        let (status, code) = match &err {
            RuntimeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            RuntimeError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            RuntimeError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            RuntimeError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            RuntimeError::Unsupported(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            RuntimeError::CodexUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "codex_unavailable")
            }
            RuntimeError::Codex(CodexError::Timeout { .. }) => {
                (StatusCode::GATEWAY_TIMEOUT, "codex_timeout")
            }
            // JSON-RPC "invalid request": Codex refuses it in the thread's
            // present state (archived, nothing to fork yet): the caller's to fix.
            RuntimeError::Codex(CodexError::Server { code: -32600, .. }) => {
                (StatusCode::CONFLICT, "codex_refused")
            }
            RuntimeError::Codex(CodexError::Server { .. }) => {
                (StatusCode::BAD_GATEWAY, "codex_refused")
            }
            RuntimeError::Codex(_) => (StatusCode::BAD_GATEWAY, "codex_error"),
            RuntimeError::Host(_) => (StatusCode::SERVICE_UNAVAILABLE, "host_unavailable"),
            RuntimeError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_error"),
            RuntimeError::NotSignedIn => (StatusCode::CONFLICT, "not_signed_in"),
            _ => {
                tracing::error!("internal error: {message}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        Self::new(status, code, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let (status, code, hint) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                (status, "payload_too_large", "the body is larger than 1 MiB")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                status,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body is not valid JSON",
            ),
        };
        Self::new(status, code, format!("{hint}: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("bad query string: {}", rejection.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("bad path: {} (ids here are numbers)", rejection.body_text()),
        )
    }
}

impl From<perch_peer::PeerError> for ApiError {
    fn from(err: perch_peer::PeerError) -> Self {
        use perch_peer::PeerError;
        let message = err.to_string();
        match err {
            PeerError::Runtime(err) => err.into(),
            // The body fitted our schema; the relay refused a value in it.
            PeerError::Relay { status: 400, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "relay_refused", message)
            }
            PeerError::Relay { status, .. } if (400..500).contains(&status) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                Self::new(status, "relay_refused", message)
            }
            PeerError::Relay { .. }
            | PeerError::Unreachable { .. }
            | PeerError::UnreadableEvent { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "relay_unreachable", message)
            }
            PeerError::Invalid(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
            }
            PeerError::Off(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "peer_off", message),
            PeerError::KeyChanged(_) => Self::new(StatusCode::CONFLICT, "key_changed", message),
            PeerError::Ledger(_) | PeerError::Io { .. } => {
                tracing::error!("internal error: {message}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

/// Every error under `/api` is JSON. Handlers answer with [`ApiError`];
/// what axum answers itself (a method the route does not take, a body over
/// a limit read as bytes) comes as plain text and is rewritten here, keeping
/// its status and headers (`Allow`).
pub async fn errors_as_json(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(e) => format!("(the error's text could not be read: {e})"),
    };
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{method} is not allowed on {path}; the Allow header and /api/openapi.json list the methods it takes"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            format!("the request body is larger than {path} accepts ({said})"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`".to_string(),
        ),
        _ if status.is_server_error() => ("internal", format!("Perch failed to answer {method} {path}: {said}")),
        _ => ("bad_request", format!("{method} {path} was refused: {said}")),
    };
    let mut json = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}
