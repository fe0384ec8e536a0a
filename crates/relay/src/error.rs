//! The relay's one error type. It becomes `{"error": message, "code": code}`
//! with a status only at the HTTP edge.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// A call from an agent instance that a newer registration replaced.
    #[error("{0}")]
    StaleInstance(String),
    #[error("missing or wrong relay token: send `Authorization: Bearer <token>` or `X-Agent-Relay-Token: <token>`")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("integration {integration:?} sent more than {limit} events in a minute; retry in {retry_after_secs} s")]
    RateLimited {
        integration: String,
        limit: u32,
        retry_after_secs: u64,
    },
    #[error("the relay database failed: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("{0}")]
    Internal(String),
    /// The store did not answer (a NATS cluster without a quorum, a
    /// frontend that lost its connection): worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

impl From<perch_relay_protocol::Invalid> for RelayError {
    fn from(invalid: perch_relay_protocol::Invalid) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl RelayError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::StaleInstance(_) => (StatusCode::CONFLICT, "stale_instance"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Storage(_) | Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("relay: {self}");
        }
        let body = axum::Json(serde_json::json!({ "error": self.to_string(), "code": code }));
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            } => (
                status,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                body,
            )
                .into_response(),
            _ => (status, body).into_response(),
        }
    }
}

pub type Result<T, E = RelayError> = std::result::Result<T, E>;
