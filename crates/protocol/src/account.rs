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
    /// Perch runs Codex on the person's own Codex home (`~/.codex`, or
    /// `CODEX_HOME`): signing in or out here does so for the Codex CLI too.
    #[serde(default)]
    pub shared_with_codex_cli: bool,
}

impl AccountState {
    /// Codex needs an OpenAI sign-in and has none: no turn can run.
    pub fn needs_sign_in(&self) -> bool {
        self.requires_openai_auth && self.account.is_none()
    }

    /// Who the account is, for a person ("signed in with ChatGPT as …").
    pub fn describe(&self) -> String {
        match &self.account {
            Some(Account::Chatgpt { email, plan_type }) => {
                let who = email.as_deref().unwrap_or("a ChatGPT account");
                match plan_type {
                    Some(plan) => format!("signed in with ChatGPT as {who} ({plan})"),
                    None => format!("signed in with ChatGPT as {who}"),
                }
            }
            Some(Account::ApiKey) => "signed in with an OpenAI API key".into(),
            Some(Account::AmazonBedrock) => "signed in with Amazon Bedrock".into(),
            Some(Account::Gcp) => "signed in with Google Cloud".into(),
            Some(Account::Other) => "signed in".into(),
            None if self.requires_openai_auth => "not signed in".into(),
            None => "the configured model provider needs no sign-in".into(),
        }
    }
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

/// `GET /api/account/usage`: how much of the plan's rate limits is used,
/// where Codex reports it (a ChatGPT plan; an API key has none to report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The shorter window (five hours on ChatGPT plans), when reported.
    pub primary: Option<UsageWindow>,
    /// The longer window (a week), when reported.
    pub secondary: Option<UsageWindow>,
    /// `plus`, `pro`, … as Codex names it.
    pub plan_type: Option<String>,
    /// Bought credits, when the plan has them.
    pub credits: Option<Credits>,
    /// The limit is reached: turns fail until a window resets.
    #[serde(default)]
    pub limit_reached: bool,
    /// Why there are no figures (an API key has no plan limits to report;
    /// Codex could not reach its backend), in words; `null` when there are.
    pub unavailable: Option<String>,
    /// When Perch last heard it from Codex (milliseconds since 1970).
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// One rate-limit window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageWindow {
    /// 0–100.
    pub used_percent: i32,
    /// How long the window is, in minutes.
    #[ts(type = "number | null")]
    pub window_minutes: Option<i64>,
    /// When it resets (milliseconds since 1970).
    #[ts(type = "number | null")]
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credits {
    pub has_credits: bool,
    pub unlimited: bool,
    /// As the backend writes it (a decimal number).
    pub balance: Option<String>,
}
