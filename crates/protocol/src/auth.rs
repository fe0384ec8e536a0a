//! `/api/health` and `/api/auth/*`: what answers without a token, and
//! signing a browser in.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// `GET /api/health`: Perch answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// Perch's version.
    pub version: String,
}

/// `POST /api/auth/session`: the API token, or a one-time login code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code: Option<String>,
}

/// `POST /api/auth/login-codes`: a code that signs one browser in, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginCode {
    pub code: String,
    /// Milliseconds since the epoch.
    #[ts(type = "number")]
    pub expires_at: i64,
}
