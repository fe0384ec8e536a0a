//! `/api/account*`: signing Codex in.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// `POST /api/account/login`: an API key, or ChatGPT's device-code flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Login {
    #[serde(rename_all = "camelCase")]
    ApiKey {
        api_key: String,
    },
    ChatgptDeviceCode,
}
