//! The one error shape every `/api` route answers with.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// What went wrong, as `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorDetail {
    /// A stable word a program can branch on (`not_found`, `invalid_input`, …).
    pub code: String,
    /// What failed and what to do about it, for a person.
    pub message: String,
}
