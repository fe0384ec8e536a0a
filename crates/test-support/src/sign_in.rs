//! A stand-in for ChatGPT's sign-in, served by the scripted model's server:
//! the device-code issuer Codex talks to when `CODEX_APP_SERVER_LOGIN_ISSUER`
//! points at it (`/api/accounts/deviceauth/*`, `/oauth/token`), and the
//! one backend route Codex checks right after (`/backend-api/wham/accounts/check`,
//! through Codex's `chatgpt_base_url`). A test decides what the person does
//! in the browser: approve the code, let it expire, or nothing yet.
//! Shapes as observed with the pinned Codex (0.169.0).

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stdx::MutexExt;

/// The code the stand-in hands out, and the account it signs in.
pub const USER_CODE: &str = "PRCH-4821";
pub const EMAIL: &str = "ada@example.com";
const ACCOUNT_ID: &str = "acct-standin";

/// What the person did with the code in the browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    #[default]
    Pending,
    Approved,
    /// The code expired (or was refused): the next poll fails.
    Expired,
}

pub(crate) async fn user_code() -> Json<serde_json::Value> {
    Json(json!({ "device_auth_id": "device-standin", "user_code": USER_CODE, "interval": "1" }))
}

pub(crate) async fn poll(State(state): State<AppState>) -> Response {
    match *state.shared.sign_in.lock_unpoisoned() {
        // 403 is Codex's "not yet": it polls again after the interval.
        Decision::Pending => StatusCode::FORBIDDEN.into_response(),
        Decision::Expired => {
            (StatusCode::GONE, Json(json!({"error": "the code expired"}))).into_response()
        }
        Decision::Approved => Json(json!({
            "authorization_code": "code-standin",
            "code_challenge": "challenge-standin",
            "code_verifier": "verifier-standin",
        }))
        .into_response(),
    }
}

pub(crate) async fn token() -> Json<serde_json::Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let part = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let claims = json!({
        "email": EMAIL,
        "exp": now + 3600,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": "plus",
            "chatgpt_account_id": ACCOUNT_ID,
            "chatgpt_user_id": "user-standin",
        },
    });
    // Codex reads the claims; nothing checks the signature of a stand-in.
    let jwt = format!(
        "{}.{}.standin",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(claims)
    );
    Json(json!({ "id_token": jwt, "access_token": jwt, "refresh_token": "refresh-standin" }))
}

pub(crate) async fn accounts_check() -> Json<serde_json::Value> {
    Json(json!({
        "accounts": [{
            "id": ACCOUNT_ID,
            "workspace_backend_origin": "https://chatgpt.com",
            "account_routing_override": "NO_CONSTRAINT",
        }],
        "account_ordering": [ACCOUNT_ID],
    }))
}

/// The plan's usage as the ChatGPT backend reports it (`GET
/// /backend-api/wham/usage`, what Codex's `account/rateLimits/read` asks):
/// 42 % of the five-hour window and 10 % of the week used.
pub(crate) async fn usage() -> Json<serde_json::Value> {
    let in_hours = |h: i64| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            + h * 3600
    };
    Json(json!({
        "plan_type": "plus",
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": {"used_percent": 42, "limit_window_seconds": 18000, "reset_after_seconds": 7200, "reset_at": in_hours(2)},
            "secondary_window": {"used_percent": 10, "limit_window_seconds": 604800, "reset_after_seconds": 345600, "reset_at": in_hours(96)},
        },
        "credits": null,
    }))
}

#[derive(Deserialize)]
pub(crate) struct SetDecision {
    decision: Decision,
}

pub(crate) async fn control(
    State(state): State<AppState>,
    Json(body): Json<SetDecision>,
) -> StatusCode {
    *state.shared.sign_in.lock_unpoisoned() = body.decision;
    StatusCode::NO_CONTENT
}
