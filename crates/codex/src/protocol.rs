//! Typed app-server protocol, for the subset Perch uses, of Codex 0.169.0.
//!
//! Wire names live here and nowhere else. The types are checked against the
//! JSON schema that `codex app-server generate-json-schema` prints for the
//! pinned version (`schema/0.169.0/`, test `tests/schema.rs`). Results keep
//! only the fields Perch reads and ignore the rest; notifications and server
//! requests Perch does not know (or whose shape changed in a newer Codex)
//! fall back to `Other` with the raw params instead of failing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Codex version Perch is built and tested against, and ships
/// (`tools/codex-version`).
pub const PINNED_CODEX_VERSION: &str = "0.169.0";

/// The newer Codex the README's test command also runs the integration
/// tests against (`tools/codex-next-version`, moved deliberately): Perch
/// treats it as tested, not as an unknown version.
pub const NEXT_CODEX_VERSION: &str = "0.171.0";

/// A client→server request: its wire name and its param and result types.
pub trait Method {
    const NAME: &'static str;
    type Params: Serialize + Send + Sync;
    type Result: DeserializeOwned + Send;
}

macro_rules! methods {
    ($($ty:ident = $name:literal ($params:ty) -> $result:ty;)*) => {
        $(
            pub enum $ty {}
            impl Method for $ty {
                const NAME: &'static str = $name;
                type Params = $params;
                type Result = $result;
            }
        )*
        /// Every request method Perch sends.
        pub const CLIENT_METHODS: &[&str] = &[$($name),*];
    };
}

methods! {
    Initialize = "initialize" (InitializeParams) -> InitializeResult;
    ThreadStart = "thread/start" (ThreadStartParams) -> ThreadResult;
    ThreadResume = "thread/resume" (ThreadResumeParams) -> ThreadResult;
    ThreadFork = "thread/fork" (ThreadForkParams) -> ThreadResult;
    ThreadRevert = "thread/revert" (ThreadRevertParams) -> Value;
    ThreadArchive = "thread/archive" (ThreadIdParams) -> Value;
    ThreadUnarchive = "thread/unarchive" (ThreadIdParams) -> Value;
    ThreadNameSet = "thread/name/set" (ThreadNameSetParams) -> Value;
    ThreadCompactStart = "thread/compact/start" (ThreadIdParams) -> Value;
    ThreadTurnsList = "thread/turns/list" (ThreadTurnsListParams) -> Page<Turn>;
    ThreadLoadedList = "thread/loaded/list" (EmptyParams) -> Page<String>;
    TurnStart = "turn/start" (TurnStartParams) -> TurnStartResult;
    TurnSteer = "turn/steer" (TurnSteerParams) -> TurnSteerResult;
    TurnInterrupt = "turn/interrupt" (TurnInterruptParams) -> Value;
    ModelList = "model/list" (ModelListParams) -> Page<Model>;
    AccountRead = "account/read" (AccountReadParams) -> AccountReadResult;
    AccountLoginStart = "account/login/start" (LoginParams) -> LoginStartResult;
    // Its schema takes `params: null`.
    AccountRateLimitsRead = "account/rateLimits/read" (()) -> RateLimitsReadResult;
    FuzzyFileSearch = "fuzzyFileSearch" (FuzzyFileSearchParams) -> FuzzyFileSearchResult;
    // Its schema takes `params: null`.
    AccountLogout = "account/logout" (()) -> Value;
}

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Default, Serialize)]
pub struct EmptyParams {}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub client_info: ClientInfo,
    pub capabilities: InitializeCapabilities,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientInfo {
    pub name: String,
    pub title: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeCapabilities {
    pub experimental_api: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub codex_home: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AskForApproval {
    #[serde(rename = "untrusted")]
    Untrusted,
    #[serde(rename = "on-request")]
    OnRequest,
    #[serde(rename = "never")]
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

/// Overrides shared by `thread/start`, `thread/resume` and `thread/fork`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<AskForApproval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
    /// config.toml overrides (nested tables), e.g. `mcp_servers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_instructions: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStartParams {
    #[serde(flatten)]
    pub overrides: ThreadOverrides,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResumeParams {
    pub thread_id: String,
    #[serde(flatten)]
    pub overrides: ThreadOverrides,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadForkParams {
    pub thread_id: String,
    /// The last turn the fork keeps (inclusive); all of them when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_turn_id: Option<String>,
    #[serde(flatten)]
    pub overrides: ThreadOverrides,
}

/// `thread/revert`: the thread's history becomes what came before
/// `before_turn_id` (files the later turns changed stay as they are).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadRevertParams {
    pub thread_id: String,
    pub before_turn_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadIdParams {
    pub thread_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadNameSetParams {
    pub thread_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadTurnsListParams {
    pub thread_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `full` returns every item of each turn, not a summary.
    pub items_view: &'static str,
    /// `asc` (oldest first) or `desc`, Codex's default.
    pub sort_direction: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text {
        text: String,
    },
    /// An image file Codex reads and sends to the model.
    LocalImage {
        path: String,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// For this turn and the thread's later ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<AskForApproval>,
    /// For this turn and the thread's later ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// A turn's sandbox (`turn/start`'s `sandboxPolicy`); Perch sets only the
/// read-only one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SandboxPolicy {
    #[serde(rename_all = "camelCase")]
    ReadOnly { network_access: bool },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteerParams {
    pub thread_id: String,
    pub expected_turn_id: String,
    pub input: Vec<UserInput>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnInterruptParams {
    pub thread_id: String,
    pub turn_id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReadParams {
    pub refresh_token: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FuzzyFileSearchParams {
    pub query: String,
    pub roots: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FuzzyFileSearchResult {
    pub files: Vec<FileMatch>,
}

/// One match of `fuzzyFileSearch` (its fields are snake_case on the wire).
#[derive(Debug, Clone, Deserialize)]
pub struct FileMatch {
    /// Relative to `root`.
    pub path: String,
    pub file_name: String,
    #[serde(default)]
    pub match_type: Option<String>,
    #[serde(default)]
    pub indices: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitsReadResult {
    pub rate_limits: RateLimitSnapshot,
}

/// `account/rateLimits/updated`'s and `account/rateLimits/read`'s snapshot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSnapshot {
    #[serde(default)]
    pub primary: Option<RateLimitWindow>,
    #[serde(default)]
    pub secondary: Option<RateLimitWindow>,
    #[serde(default)]
    pub plan_type: Option<String>,
    #[serde(default)]
    pub credits: Option<CreditsSnapshot>,
    #[serde(default)]
    pub rate_limit_reached_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitWindow {
    pub used_percent: i32,
    #[serde(default)]
    pub window_duration_mins: Option<i64>,
    /// Seconds since 1970.
    #[serde(default)]
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditsSnapshot {
    pub has_credits: bool,
    pub unlimited: bool,
    #[serde(default)]
    pub balance: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitsNotification {
    pub rate_limits: RateLimitSnapshot,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LoginParams {
    #[serde(rename_all = "camelCase")]
    ApiKey {
        api_key: String,
    },
    ChatgptDeviceCode,
}

// ----------------------------------------------------------------- results

/// `account/read`: the account Codex is signed in with.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReadResult {
    #[serde(default)]
    pub account: Option<CodexAccount>,
    pub requires_openai_auth: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CodexAccount {
    ApiKey,
    #[serde(rename_all = "camelCase")]
    Chatgpt {
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        plan_type: Option<String>,
    },
    AmazonBedrock,
    Gcp,
    #[serde(other)]
    Other,
}

/// `account/login/start`: what the login needs next.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LoginStartResult {
    ApiKey,
    #[serde(rename_all = "camelCase")]
    ChatgptDeviceCode {
        login_id: String,
        verification_url: String,
        user_code: String,
    },
    #[serde(rename_all = "camelCase")]
    Chatgpt {
        login_id: String,
        auth_url: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    #[serde(default)]
    pub preview: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResult {
    pub thread: Thread,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    InProgress,
    Completed,
    Interrupted,
    Failed,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnError {
    pub message: String,
    /// Codex's classification: a word (`internalServerError`, `other`) or
    /// an object (`{"responseTooManyFailedAttempts":{"httpStatusCode":429}}`).
    #[serde(default)]
    pub codex_error_info: Option<Value>,
    /// What Codex adds for a person (for a 5xx: "We're currently
    /// experiencing high demand…").
    #[serde(default)]
    pub additional_details: Option<String>,
}

/// What kind of trouble a turn error is, read from Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The model endpoint cannot be reached (connection refused, stream
    /// cut, waiting for network).
    Unreachable,
    /// Too many requests, or a usage limit.
    RateLimited,
    /// The endpoint answered with this HTTP status.
    Http(u16),
    Other,
}

impl TurnError {
    /// The HTTP status Codex names anywhere in `codexErrorInfo`.
    pub fn http_status(&self) -> Option<u16> {
        fn find(value: &Value) -> Option<u16> {
            match value {
                Value::Object(map) => map
                    .get("httpStatusCode")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .or_else(|| map.values().find_map(find)),
                _ => None,
            }
        }
        self.codex_error_info.as_ref().and_then(find)
    }

    pub fn class(&self) -> ErrorClass {
        let info = match &self.codex_error_info {
            Some(Value::String(word)) => word.clone(),
            Some(Value::Object(map)) => map.keys().cloned().collect::<Vec<_>>().join(" "),
            _ => String::new(),
        };
        let message = self.message.to_ascii_lowercase();
        let status = self.http_status();
        if status == Some(429) || info.contains("usageLimit") || info.contains("RateLimit") {
            return ErrorClass::RateLimited;
        }
        let unreachable = info.contains("Connection")
            || info.contains("Disconnected")
            || [
                "reconnecting",
                "waiting for network",
                "stream disconnected",
                "error sending request",
                "connection refused",
            ]
            .iter()
            .any(|words| message.contains(words));
        match (status, info.as_str()) {
            (Some(status), _) if status >= 400 && !unreachable => ErrorClass::Http(status),
            _ if unreachable => ErrorClass::Unreachable,
            (_, "internalServerError") => ErrorClass::Http(500),
            (_, "badRequest") => ErrorClass::Http(400),
            (_, "unauthorized") => ErrorClass::Http(401),
            _ => ErrorClass::Other,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub id: String,
    pub status: TurnStatus,
    #[serde(default)]
    pub error: Option<TurnError>,
    /// Codex `ThreadItem`s, passed through to Perch's clients as they are.
    #[serde(default)]
    pub items: Vec<Value>,
}

/// What Perch itself reads of a Codex `ThreadItem`. Items still reach
/// Perch's clients whole, as JSON; this is only for the runtime's own
/// decisions (previews, digests, approval details). Kinds Perch does not
/// read, and items whose shape changed, are `Other`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ThreadItem {
    UserMessage {
        content: Vec<UserContent>,
    },
    AgentMessage {
        text: String,
    },
    FileChange {
        id: String,
        changes: Vec<FileUpdateChange>,
    },
    /// A shell command the agent ran (read field by field: its output can
    /// be megabytes, and Perch does not need it here).
    #[serde(skip)]
    CommandExecution {
        command: String,
        exit_code: Option<i64>,
    },
    /// A tool of an MCP server the agent called.
    #[serde(skip)]
    McpToolCall {
        server: String,
        tool: String,
    },
    #[serde(other)]
    Other,
}

impl ThreadItem {
    /// Reads an item; a known kind whose shape changed is logged and read
    /// as `Other`. Other kinds are not deserialized at all (a command's
    /// item can carry megabytes of output).
    pub fn read(item: &Value) -> Self {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(String::from);
        match item.get("type").and_then(Value::as_str) {
            Some("commandExecution") => match text("command") {
                Some(command) => Self::CommandExecution {
                    command,
                    exit_code: item.get("exitCode").and_then(Value::as_i64),
                },
                None => Self::Other,
            },
            Some("mcpToolCall") => match (text("server"), text("tool")) {
                (Some(server), Some(tool)) => Self::McpToolCall { server, tool },
                _ => Self::Other,
            },
            Some(kind @ ("userMessage" | "agentMessage" | "fileChange")) => Self::deserialize(item)
                .unwrap_or_else(|e| {
                    tracing::warn!("a Codex {kind} item has a shape Perch does not know: {e}");
                    Self::Other
                }),
            _ => Self::Other,
        }
    }

    /// The id every item carries.
    pub fn id(item: &Value) -> Option<&str> {
        item.get("id").and_then(Value::as_str)
    }

    /// Removes the text parts of a `userMessage` item that `unwanted` picks
    /// (Perch's own context input), so clients see what the person wrote.
    pub fn drop_user_text(item: &mut Value, unwanted: impl Fn(&str) -> bool) {
        if item.get("type").and_then(Value::as_str) != Some("userMessage") {
            return;
        }
        if let Some(content) = item.get_mut("content").and_then(Value::as_array_mut) {
            content.retain(|part| {
                !part
                    .get("text")
                    .and_then(Value::as_str)
                    .is_some_and(&unwanted)
            });
        }
    }
}

/// An item as its kind, its id and its other fields, for showing a kind
/// Perch does not read as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct RawItem {
    pub kind: String,
    pub id: String,
    pub fields: serde_json::Map<String, Value>,
}

impl RawItem {
    pub fn split(item: Value) -> Self {
        let Value::Object(mut fields) = item else {
            return Self {
                kind: "unknown".into(),
                id: String::new(),
                fields: serde_json::Map::new(),
            };
        };
        let mut take = |key: &str| match fields.remove(key) {
            Some(Value::String(text)) => text,
            _ => String::new(),
        };
        let kind = take("type");
        let id = take("id");
        Self { kind, id, fields }
    }
}

/// One part of a `userMessage` item: text, or something Perch does not read
/// (images, mentions, skills).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserContent {
    Text {
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FileUpdateChange {
    pub path: String,
    pub kind: PatchChangeKind,
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PatchChangeKind {
    Add,
    Delete,
    Update {
        #[serde(default)]
        move_path: Option<String>,
    },
}

impl PatchChangeKind {
    /// The wire word (`add`, `delete`, `update`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Delete => "delete",
            Self::Update { .. } => "update",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartResult {
    pub turn: Turn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteerResult {
    pub turn_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningEffortOption {
    pub reasoning_effort: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub supported_reasoning_efforts: Vec<ReasoningEffortOption>,
    #[serde(default)]
    pub default_reasoning_effort: Option<String>,
}

// ----------------------------------------------------------- notifications

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnNotification {
    pub thread_id: String,
    pub turn: Turn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemNotification {
    pub thread_id: String,
    pub turn_id: String,
    pub item: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaNotification {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    pub delta: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffNotification {
    pub thread_id: String,
    pub turn_id: String,
    pub diff: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCounts {
    #[serde(default)]
    pub total_tokens: i64,
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadTokenUsage {
    pub total: TokenCounts,
    pub last: TokenCounts,
    #[serde(default)]
    pub model_context_window: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsageNotification {
    pub thread_id: String,
    pub token_usage: ThreadTokenUsage,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorNotification {
    pub error: TurnError,
    #[serde(default)]
    pub will_retry: bool,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub turn_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarningNotification {
    #[serde(default)]
    pub thread_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadNameNotification {
    pub thread_id: String,
    #[serde(default)]
    pub thread_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedNotification {
    pub thread_id: String,
    pub request_id: crate::RequestId,
}

/// A server→client notification. Unknown methods, and known ones whose params
/// no longer match, arrive as `Other` so a newer Codex does not break Perch.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum ServerNotification {
    #[serde(rename = "turn/started")]
    TurnStarted(TurnNotification),
    #[serde(rename = "turn/completed")]
    TurnCompleted(TurnNotification),
    #[serde(rename = "item/started")]
    ItemStarted(ItemNotification),
    #[serde(rename = "item/completed")]
    ItemCompleted(ItemNotification),
    #[serde(rename = "item/agentMessage/delta")]
    AgentMessageDelta(DeltaNotification),
    #[serde(rename = "item/reasoning/summaryTextDelta")]
    ReasoningSummaryDelta(DeltaNotification),
    #[serde(rename = "item/reasoning/textDelta")]
    ReasoningTextDelta(DeltaNotification),
    #[serde(rename = "item/commandExecution/outputDelta")]
    CommandOutputDelta(DeltaNotification),
    #[serde(rename = "item/fileChange/outputDelta")]
    FileChangeOutputDelta(DeltaNotification),
    #[serde(rename = "turn/diff/updated")]
    TurnDiffUpdated(DiffNotification),
    #[serde(rename = "thread/tokenUsage/updated")]
    TokenUsageUpdated(TokenUsageNotification),
    #[serde(rename = "thread/name/updated")]
    ThreadNameUpdated(ThreadNameNotification),
    #[serde(rename = "serverRequest/resolved")]
    ServerRequestResolved(ResolvedNotification),
    #[serde(rename = "error")]
    Error(ErrorNotification),
    #[serde(rename = "warning")]
    Warning(WarningNotification),
    #[serde(rename = "account/rateLimits/updated")]
    RateLimitsUpdated(RateLimitsNotification),
    #[serde(skip)]
    Other { method: String, params: Value },
}

impl ServerNotification {
    pub fn parse(method: &str, params: Value) -> Self {
        let envelope = serde_json::json!({ "method": method, "params": params });
        serde_json::from_value(envelope).unwrap_or(ServerNotification::Other {
            method: method.to_string(),
            params,
        })
    }

    /// The thread this notification is about, when it names one.
    pub fn thread_id(&self) -> Option<&str> {
        match self {
            Self::TurnStarted(n) | Self::TurnCompleted(n) => Some(&n.thread_id),
            Self::ItemStarted(n) | Self::ItemCompleted(n) => Some(&n.thread_id),
            Self::AgentMessageDelta(n)
            | Self::ReasoningSummaryDelta(n)
            | Self::ReasoningTextDelta(n)
            | Self::CommandOutputDelta(n)
            | Self::FileChangeOutputDelta(n) => Some(&n.thread_id),
            Self::TurnDiffUpdated(n) => Some(&n.thread_id),
            Self::TokenUsageUpdated(n) => Some(&n.thread_id),
            Self::ThreadNameUpdated(n) => Some(&n.thread_id),
            Self::ServerRequestResolved(n) => Some(&n.thread_id),
            Self::Error(n) => n.thread_id.as_deref(),
            Self::Warning(n) => n.thread_id.as_deref(),
            Self::RateLimitsUpdated(_) => None,
            Self::Other { params, .. } => params.get("threadId").and_then(Value::as_str),
        }
    }
}

// --------------------------------------------------------- server requests

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandApprovalRequest {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChangeApprovalRequest {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitationRequest {
    pub thread_id: String,
    #[serde(default)]
    pub turn_id: Option<String>,
    pub server_name: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "_meta")]
    pub meta: Value,
}

/// A server→client request. Each one must be answered with the same id.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum ServerRequest {
    #[serde(rename = "item/commandExecution/requestApproval")]
    CommandApproval(CommandApprovalRequest),
    #[serde(rename = "item/fileChange/requestApproval")]
    FileChangeApproval(FileChangeApprovalRequest),
    #[serde(rename = "mcpServer/elicitation/request")]
    Elicitation(ElicitationRequest),
    #[serde(skip)]
    Other { method: String, params: Value },
}

impl ServerRequest {
    pub fn parse(method: &str, params: Value) -> Self {
        let envelope = serde_json::json!({ "method": method, "params": params });
        serde_json::from_value(envelope).unwrap_or(ServerRequest::Other {
            method: method.to_string(),
            params,
        })
    }
}

/// A person's answer to an approval, as Perch's API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    Accept,
    AcceptForSession,
    Decline,
    Cancel,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::AcceptForSession => "acceptForSession",
            Decision::Decline => "decline",
            Decision::Cancel => "cancel",
        }
    }

    /// The JSON-RPC result that answers `request` with this decision.
    pub fn response_for(self, request: &ServerRequest) -> Value {
        match request {
            ServerRequest::CommandApproval(_) | ServerRequest::FileChangeApproval(_) => {
                serde_json::json!({ "decision": self.as_str() })
            }
            ServerRequest::Elicitation(_) => {
                // MCP elicitations know accept/decline/cancel; "for the session"
                // is expressed through the `persist` meta Codex offers.
                let (action, content, meta) = match self {
                    Decision::Accept => ("accept", serde_json::json!({}), Value::Null),
                    Decision::AcceptForSession => (
                        "accept",
                        serde_json::json!({}),
                        serde_json::json!({"persist": "session"}),
                    ),
                    Decision::Decline => ("decline", Value::Null, Value::Null),
                    Decision::Cancel => ("cancel", Value::Null, Value::Null),
                };
                serde_json::json!({ "action": action, "content": content, "_meta": meta })
            }
            ServerRequest::Other { .. } => serde_json::json!({ "decision": self.as_str() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_notifications_are_typed_and_unknown_ones_kept_raw() {
        let delta = ServerNotification::parse(
            "item/agentMessage/delta",
            json!({"threadId":"t","turnId":"u","itemId":"i","delta":"Hi"}),
        );
        assert!(matches!(&delta, ServerNotification::AgentMessageDelta(d) if d.delta == "Hi"));
        assert_eq!(delta.thread_id(), Some("t"));

        let unknown = ServerNotification::parse("thread/goal/cleared", json!({"threadId":"t"}));
        assert!(
            matches!(&unknown, ServerNotification::Other { method, .. } if method == "thread/goal/cleared")
        );
        assert_eq!(unknown.thread_id(), Some("t"));

        // A known method whose shape changed degrades to Other instead of failing.
        let changed = ServerNotification::parse("turn/completed", json!({"threadId":"t"}));
        assert!(matches!(changed, ServerNotification::Other { .. }));
    }

    #[test]
    fn decisions_answer_each_request_kind_in_its_own_shape() {
        let command = ServerRequest::parse(
            "item/commandExecution/requestApproval",
            json!({"threadId":"t","turnId":"u","itemId":"i","command":"ls","startedAtMs":1}),
        );
        assert_eq!(
            Decision::Decline.response_for(&command),
            json!({"decision":"decline"})
        );
        let elicitation = ServerRequest::parse(
            "mcpServer/elicitation/request",
            json!({"threadId":"t","serverName":"s","message":"m","mode":"form","requestedSchema":{}}),
        );
        assert_eq!(
            Decision::Accept.response_for(&elicitation),
            json!({"action":"accept","content":{},"_meta":null})
        );
        assert_eq!(
            Decision::Cancel.response_for(&elicitation),
            json!({"action":"cancel","content":null,"_meta":null})
        );
    }
}
