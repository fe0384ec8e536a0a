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

/// `GET /api/account`: whom Codex is signed in as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountState {
    /// `null`: not signed in.
    pub account: Option<Account>,
    /// Whether the provider Codex uses needs an OpenAI sign-in (a
    /// configured provider of its own needs none).
    pub requires_openai_auth: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Account {
    /// An OpenAI API key.
    ApiKey,
    /// A ChatGPT account.
    #[serde(rename_all = "camelCase")]
    Chatgpt {
        email: Option<String>,
        /// `plus`, `pro`, `team`, … as Codex names it.
        plan_type: Option<String>,
    },
    AmazonBedrock,
    Gcp,
    /// A kind of account a newer Codex has.
    Other,
}

/// What `POST /api/account/login` started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LoginStarted {
    /// The key is saved; Codex is signed in.
    ApiKey,
    /// Open `verificationUrl` and enter `userCode`; `account/updated`
    /// follows once it is done.
    #[serde(rename_all = "camelCase")]
    ChatgptDeviceCode {
        login_id: String,
        verification_url: String,
        user_code: String,
    },
    /// Open `authUrl` in a browser to sign in.
    #[serde(rename_all = "camelCase")]
    Chatgpt { login_id: String, auth_url: String },
    /// A kind of login a newer Codex answers.
    Other,
}
