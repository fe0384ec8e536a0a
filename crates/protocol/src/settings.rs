//! `/api/settings*`: the editable part of the config, the stored secrets,
//! autostart, and where things live.

use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;
use ts_rs::TS;
use utoipa::ToSchema;

/// The three approval modes, mapped onto Codex's approval policy and sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// Never asks; writes inside the workspace.
    Open,
    /// Asks before any command that is not known to be safe; writes inside the workspace.
    Guarded,
    /// Reads only; anything else must be asked for.
    ReadOnly,
}

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretBackend {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// 0600 files in `<data dir>/secrets`.
    File,
}

/// `GET /api/settings`, and what every change answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub codex: CodexSettings,
    /// A custom OpenAI-compatible model provider.
    pub provider: Option<ProviderSettings>,
    /// An API key for the provider is stored (never sent to clients).
    pub provider_key_set: bool,
    /// The relay token is in the secret store (used from the next start).
    pub relay_token_set: bool,
    pub notifications: NotificationSettings,
    pub memory: MemorySettings,
    pub autostart: AutostartState,
    pub secrets: SecretsState,
    pub paths: Paths,
    /// Codex runs with other bin/provider settings than these; restarting
    /// it (`POST /api/codex/restart`) applies them.
    pub restart_required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodexSettings {
    #[schema(value_type = Option<String>)]
    pub bin: Option<PathBuf>,
    pub approval_policy: ApprovalPolicy,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// The working directory of new sessions.
    #[schema(value_type = Option<String>)]
    pub cwd: Option<PathBuf>,
}

/// A custom OpenAI-compatible model provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSettings {
    /// The provider id Codex knows it by (default `custom`).
    #[serde(default = "default_provider_id")]
    #[schema(default = "custom")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. `http://127.0.0.1:11434/v1`; Codex posts to `{baseUrl}/responses`.
    pub base_url: String,
    /// The environment variable Codex reads the key from.
    #[serde(default)]
    pub env_key: Option<String>,
    /// `responses` (the default).
    #[serde(default = "default_wire_api")]
    #[schema(default = "responses")]
    pub wire_api: String,
}

fn default_provider_id() -> String {
    "custom".into()
}

fn default_wire_api() -> String {
    "responses".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSettings {
    /// Do not disturb: no notification but approvals (when allowed).
    pub dnd: bool,
    pub dnd_allows_approvals: bool,
    pub approvals: bool,
    pub turn_finished: bool,
    pub codex_restarts: bool,
    pub errors: bool,
    pub peer_messages: bool,
    /// Peer agents whose messages raise no notification.
    pub muted_agents: Vec<String>,
    /// Peer channels whose messages raise no notification.
    pub muted_channels: Vec<String>,
    /// A notification when a wakeup's turn finishes.
    pub wakeups: bool,
}

/// The agent's long-term memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemorySettings {
    /// Relevant memories and open plan items go into each turn.
    pub context: bool,
    /// The most that context may take, in tokens.
    #[ts(type = "number")]
    pub context_tokens: usize,
    /// Completed turns are archived into memory by themselves.
    pub auto_archive: bool,
    pub embeddings_url: Option<String>,
    pub embeddings_model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutostartState {
    pub supported: bool,
    pub enabled: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsState {
    pub backend: SecretBackend,
    /// Why secrets are not in the OS keyring.
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paths {
    pub data: String,
    pub config: Option<String>,
    pub logs: Option<String>,
    pub codex_home: Option<String>,
}

/// `PATCH /api/settings`: only what is given changes; `null` clears a value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub codex: Option<CodexPatch>,
    /// `null` removes the custom provider.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional)]
    #[schema(value_type = Option<ProviderSettings>)]
    pub provider: Option<Option<ProviderSettings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notifications: Option<NotificationsPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub memory: Option<MemorySettingsPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub autostart: Option<bool>,
}

/// `Some(None)` for an explicit `null`, `None` when the key is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodexPatch {
    /// The Codex binary; `null` finds it again.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub bin: Option<Option<PathBuf>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub approval_policy: Option<ApprovalPolicy>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub effort: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub cwd: Option<Option<PathBuf>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub dnd: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub dnd_allows_approvals: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub approvals: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub turn_finished: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub codex_restarts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub errors: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub peer_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub muted_agents: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub muted_channels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub wakeups: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemorySettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub context: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub context_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub auto_archive: Option<bool>,
    /// `null` turns embeddings off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub embeddings_url: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[ts(optional, type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub embeddings_model: Option<Option<String>>,
}

/// `PUT /api/settings/provider-key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKey {
    pub key: String,
}

/// `POST /api/settings/provider-check`: an OpenAI-compatible server to try
/// before it becomes the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderCheck {
    /// Its API base, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// A key, when the server asks for one.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// The server answered its model listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderChecked {
    /// The models it lists (at most 200).
    pub models: Vec<String>,
}

/// `PUT /api/settings/relay-token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayToken {
    pub token: String,
}
