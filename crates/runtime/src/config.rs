//! Perch's configuration: `<data dir>/config.toml`, every key optional.
//! The keys are documented in docs/config.md; keep the two in step.

use crate::error::{Error, Result};
use perch_codex::protocol::{AskForApproval, SandboxMode};
pub use perch_protocol::approvals::Decision;
pub use perch_protocol::settings::ApprovalPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:4860";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the local API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// Extra `Host` header values the API accepts.
    pub allowed_hosts: Vec<String>,
    /// The built web UI to serve at `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_dir: Option<PathBuf>,
    pub codex: CodexConfig,
    pub notifications: NotificationsConfig,
    /// A custom OpenAI-compatible model provider (Ollama, vLLM, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderConfig>,
    /// The embedded Agent Relay, or the remote one Perch's agent joins.
    pub relay: RelayConfig,
    /// Perch's agent (and the person) on the peer network.
    pub peer: PeerConfig,
    /// Memories: what goes into each turn, auto-archiving, embeddings.
    pub memory: MemoryConfig,
    /// The review pane: how "Open in editor" opens a file.
    pub review: ReviewConfig,
    /// The environment variables Perch reads (docs/config.md), taken once
    /// when the config is read; never written to the file.
    #[serde(skip)]
    pub env: Environment,
}

/// The process environment, taken once ([`Environment::capture`]) into
/// [`Config::env`]. Nothing else in Perch reads the process environment, so
/// a test builds its own instead of changing the process's.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment(BTreeMap<String, String>);

/// Parts of a variable's name that say it holds a secret (in any case).
const SECRET_NAME_PARTS: [&str; 8] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
];

impl Environment {
    pub fn capture() -> Self {
        std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect()
    }

    /// A variable's value, trimmed; `None` when it is unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// This environment with `name` set (tests, and values a host decides).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_string(), value.to_string());
        self
    }

    /// What a child process (Codex, and through it the agent's commands)
    /// may see of it: the person's variables (PATH, HOME, locale, proxies,
    /// TERM, their own), but none of Perch's or the relay's, and none whose
    /// name says it is a secret (`*TOKEN*`, `*SECRET*`, `*_KEY`, …).
    pub fn inherited(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter(|(name, _)| !is_private(name))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

fn is_private(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("PERCH_")
        || upper.starts_with("AGENT_RELAY_")
        || upper.ends_with("_KEY")
        || SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// Names only: the values include tokens.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Add relevant memories and open plan items to each new turn.
    pub context: bool,
    /// The most that context may take, in tokens (four characters each).
    pub context_tokens: usize,
    /// Keep each completed turn (the person's message and the answer) as a memory.
    pub auto_archive: bool,
    /// An OpenAI-compatible API base (`http://localhost:11434/v1`) whose
    /// `/embeddings` ranks memories together with full-text search; off when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings_model: Option<String>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            context: true,
            context_tokens: 800,
            auto_archive: false,
            embeddings_url: None,
            embeddings_model: None,
        }
    }
}

pub const DEFAULT_RELAY_LISTEN: &str = "127.0.0.1:4850";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Where the embedded relay listens, or `off`. Ignored when `url` is set.
    pub listen: String,
    /// A remote relay to join instead of the embedded one (its token is the
    /// `relay-token` secret, or `AGENT_RELAY_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The embedded relay's database; default `<data dir>/relay.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
    /// Serve the embedded relay from this NATS JetStream cluster instead of
    /// `db` (its servers' URLs; docs/relay.md, "A relay for a team").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<String>,
    /// The cluster's credentials (.creds file); default: the ones
    /// `perch relay nats-creds` stored in the keyring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_creds: Option<PathBuf>,
    /// The CA that signed the cluster's certificates; implies TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_ca: Option<PathBuf>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_RELAY_LISTEN.into(),
            url: None,
            db: None,
            nats: Vec::new(),
            nats_creds: None,
            nats_ca: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeerConfig {
    /// Join the relay at all.
    pub enabled: bool,
    /// Perch's agent id on the relay; default `perch-<user>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The person's id on the relay; default `<user>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// A profile name in agent-relay's `profiles.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub capabilities: Vec<String>,
    /// Channels Perch's agent listens to; empty = all.
    pub channels: Vec<String>,
    /// The session peer traffic goes to; default: one Perch creates ("Peers").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The working folder of the Peers session Perch creates; default
    /// `<data dir>/peers`, never one of the person's repositories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    pub heartbeat_secs: u64,
    /// A failed delivery is retried after retry_secs × attempt, `max_retries` times.
    pub retry_secs: u64,
    pub max_retries: u32,
    /// The lease taken on a claimable message while its turn runs.
    pub claim_lease_secs: u64,
    /// Agents whose messages may change Perch's memory, plans and wakeups
    /// and message others without the person accepting each change (only
    /// when every sender of the turn proved its agent key). Empty: none.
    pub trusted_agents: Vec<String>,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            agent_id: None,
            person_id: None,
            profile: None,
            label: None,
            tags: Vec::new(),
            capabilities: Vec::new(),
            channels: Vec::new(),
            trusted_agents: Vec::new(),
            session: None,
            cwd: None,
            heartbeat_secs: 30,
            retry_secs: 5,
            max_retries: 6,
            claim_lease_secs: 120,
        }
    }
}

/// The review pane (`/api/sessions/{id}/review`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// The editor command "Open in editor" runs, as a program and its
    /// arguments (`["code", "--goto", "{path}:{line}"]`): `{path}` becomes
    /// the file's absolute path (added at the end when no argument has it)
    /// and `{line}` the line (1 when none). Unset: the desktop's default
    /// application for the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editor: Option<Vec<String>>,
}

/// Which events the desktop shell turns into OS notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Do not disturb: nothing notifies, except approvals when `dnd_allows_approvals`.
    pub dnd: bool,
    pub dnd_allows_approvals: bool,
    /// An approval is needed.
    pub approvals: bool,
    /// A turn finished while no Perch window was visible.
    pub turn_finished: bool,
    /// Codex crashed, restarted or gave up.
    pub codex_restarts: bool,
    /// Errors a person must act on (a failed turn, a missing Codex).
    pub errors: bool,
    /// A peer wrote to the person or to Perch's agent.
    pub peer_messages: bool,
    /// Peers and channels whose messages never notify.
    pub muted_agents: Vec<String>,
    pub muted_channels: Vec<String>,
    /// A wakeup's turn finished (each wakeup can also opt out), or one was missed.
    pub wakeups: bool,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            dnd: false,
            dnd_allows_approvals: true,
            approvals: true,
            turn_finished: true,
            codex_restarts: true,
            errors: true,
            peer_messages: true,
            muted_agents: Vec::new(),
            muted_channels: Vec::new(),
            wakeups: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodexConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<PathBuf>,
    /// CODEX_HOME for the child; default: inherited (`~/.codex`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<PathBuf>,
    pub approval_policy: ApprovalPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Working directory of new sessions; default: the home directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// A running turn with no progress for this long is marked stalled
    /// (said, not ended).
    pub stall_timeout_secs: u64,
    /// A running turn whose model Codex cannot reach (reconnecting, waiting
    /// for network) for this long, with no progress, is ended with that
    /// reason; 0 never ends it.
    pub unreachable_timeout_secs: u64,
    /// A pending approval is answered with `approval_timeout_decision` after this long.
    pub approval_timeout_secs: u64,
    pub approval_timeout_decision: Decision,
    pub request_timeout_secs: u64,
    /// After this long with no turn running, no approval pending and no
    /// request, Perch stops the Codex child; anything that needs it starts
    /// it again.
    pub sleep_after: SleepAfter,
}

/// How long Codex may idle before it sleeps: a duration (`"15m"`,
/// `"90s"`), or `"off"` (never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepAfter(pub Option<std::time::Duration>);

impl Default for SleepAfter {
    fn default() -> Self {
        Self(Some(std::time::Duration::from_secs(15 * 60)))
    }
}

impl Serialize for SleepAfter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = match self.0.map(|d| d.as_secs()) {
            None => "off".to_string(),
            Some(s) if s % 3600 == 0 => format!("{}h", s / 3600),
            Some(s) if s % 60 == 0 => format!("{}m", s / 60),
            Some(s) => format!("{s}s"),
        };
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SleepAfter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if matches!(text.trim(), "off" | "never") {
            return Ok(Self(None));
        }
        stdx::parse_duration_ms(&text)
            .filter(|ms| *ms >= 1000)
            .map(|ms| Self(Some(std::time::Duration::from_millis(ms as u64))))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "sleep_after {text:?} is not a duration like \"15m\" or \"90s\" (at least 1s), or \"off\""
                ))
            })
    }
}

impl Default for CodexConfig {
    fn default() -> Self {
        Self {
            bin: None,
            home: None,
            approval_policy: ApprovalPolicy::Guarded,
            model: None,
            effort: None,
            cwd: None,
            stall_timeout_secs: 120,
            unreachable_timeout_secs: 90,
            approval_timeout_secs: 900,
            approval_timeout_decision: Decision::Decline,
            request_timeout_secs: 60,
            sleep_after: SleepAfter::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider id Codex knows it by.
    #[serde(default = "default_provider_id")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// e.g. `http://127.0.0.1:11434/v1`; Codex posts to `{base_url}/responses`.
    pub base_url: String,
    /// Name of the environment variable holding the API key, if any. A key
    /// stored in the keyring (Settings) is passed to Codex under this name,
    /// or under `PERCH_PROVIDER_API_KEY` when it is unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_key: Option<String>,
    #[serde(default = "default_wire_api")]
    pub wire_api: String,
    /// How often Codex retries a request, and a stream cut short, before the
    /// turn fails (default 1: fail fast rather than retry for minutes).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub request_max_retries: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stream_max_retries: u32,
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl ProviderConfig {
    /// The environment variable Codex reads the provider's API key from.
    pub fn key_env(&self) -> &str {
        self.env_key.as_deref().unwrap_or("PERCH_PROVIDER_API_KEY")
    }
}

fn default_provider_id() -> String {
    "custom".into()
}
fn default_wire_api() -> String {
    "responses".into()
}

/// Codex's approval policy and sandbox for Perch's approval mode.
pub fn codex_policy(policy: ApprovalPolicy) -> (AskForApproval, SandboxMode) {
    match policy {
        ApprovalPolicy::Open => (AskForApproval::Never, SandboxMode::WorkspaceWrite),
        ApprovalPolicy::Guarded => (AskForApproval::Untrusted, SandboxMode::WorkspaceWrite),
        ApprovalPolicy::ReadOnly => (AskForApproval::OnRequest, SandboxMode::ReadOnly),
    }
}

/// The text of a `config.toml`.
impl std::str::FromStr for Config {
    type Err = toml::de::Error;

    /// The config in `text`, with the process environment taken now.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let config: Self = toml::from_str(text)?;
        Ok(Self {
            env: Environment::capture(),
            ..config
        })
    }
}

impl Config {
    /// The Codex home the child uses: `[codex] home`, else `CODEX_HOME`,
    /// else `~/.codex`.
    pub fn codex_home(&self) -> Option<PathBuf> {
        self.codex
            .home
            .clone()
            .or_else(|| self.env.get("CODEX_HOME").map(PathBuf::from))
            .or_else(|| dirs::home_dir().map(|h| h.join(".codex")))
    }

    /// Writes the config (comments in the file are not kept), replacing the
    /// file atomically so a crash never leaves half a config.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::Config(format!("serializing the config: {e}")))?;
        let header = "# Perch's configuration; the keys are in docs/config.md. Settings in the UI rewrite this file.\n";
        let tmp = path.with_extension("toml.tmp");
        let _ = std::fs::remove_file(&tmp);
        // The person's alone: it can name a provider and its endpoints.
        stdx::create_private_file(&tmp)
            .and_then(|()| std::fs::write(&tmp, format!("{header}{text}")))
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| Error::io(format!("replacing {}", path.display()), e))
    }

    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => text
                .parse::<Self>()
                .map_err(|e| Error::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                env: Environment::capture(),
                ..Self::default()
            }),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// `-c key=value` overrides for `codex app-server` that select the
    /// custom provider and default model.
    /// `stored_key`: a provider API key from the secret store will be in the
    /// child's environment under [`ProviderConfig::key_env`].
    pub fn codex_overrides(&self, stored_key: bool) -> Vec<String> {
        let mut args = Vec::new();
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        if let Some(p) = &self.provider {
            let mut table = format!(
                "name={}, base_url={}, wire_api={}",
                quote(p.name.as_deref().unwrap_or(&p.id)),
                quote(&p.base_url),
                quote(&p.wire_api)
            );
            if p.env_key.is_some() || stored_key {
                table.push_str(&format!(", env_key={}", quote(p.key_env())));
            }
            table.push_str(&format!(
                ", request_max_retries={}, stream_max_retries={}",
                p.request_max_retries, p.stream_max_retries
            ));
            args.push(format!("model_providers.{}={{{table}}}", p.id));
            args.push(format!("model_provider={}", quote(&p.id)));
        }
        if let Some(model) = &self.codex.model {
            args.push(format!("model={}", quote(model)));
        }
        args.into_iter()
            .flat_map(|a| ["-c".to_string(), a])
            .collect()
    }
}

/// The data directory when `--data-dir` is not given: `PERCH_HOME`, else
/// `~/.local/share/perch` (read before there is a config, so it takes the
/// environment it should look at).
pub fn default_data_dir(env: &Environment) -> PathBuf {
    if let Some(dir) = env.get("PERCH_HOME") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("perch")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_builds_overrides() -> Result<()> {
        let config: Config = toml::from_str(
            r#"
            listen = "127.0.0.1:5000"
            [codex]
            approval_policy = "read-only"
            model = "qwen3"
            stall_timeout_secs = 5
            approval_timeout_decision = "cancel"
            [provider]
            id = "ollama"
            base_url = "http://127.0.0.1:11434/v1"
            env_key = "OLLAMA_KEY"
            "#,
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        assert_eq!(
            codex_policy(config.codex.approval_policy),
            (AskForApproval::OnRequest, SandboxMode::ReadOnly)
        );
        assert_eq!(config.codex.approval_timeout_decision, Decision::Cancel);
        assert_eq!(
            config.codex_overrides(false),
            vec![
                "-c",
                "model_providers.ollama={name=\"ollama\", base_url=\"http://127.0.0.1:11434/v1\", wire_api=\"responses\", env_key=\"OLLAMA_KEY\", request_max_retries=1, stream_max_retries=1}",
                "-c",
                "model_provider=\"ollama\"",
                "-c",
                "model=\"qwen3\"",
            ]
        );
        Ok(())
    }

    #[test]
    fn a_saved_config_loads_back_the_same() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("config.toml");
        let mut config = Config::default();
        config.codex.model = Some("m".into());
        config.notifications.dnd = true;
        config.provider = Some(ProviderConfig {
            id: "local".into(),
            name: None,
            base_url: "http://127.0.0.1:1/v1".into(),
            env_key: None,
            wire_api: "responses".into(),
            request_max_retries: 1,
            stream_max_retries: 4,
        });
        config.save(&path)?;
        let loaded = Config::load(&path)?;
        assert_eq!(loaded.codex.model.as_deref(), Some("m"));
        assert_eq!(loaded.notifications, config.notifications);
        assert_eq!(loaded.provider, config.provider);
        assert!(loaded
            .codex_overrides(true)
            .iter()
            .any(|a| a.contains("env_key=\"PERCH_PROVIDER_API_KEY\"")));
        assert!(!loaded
            .codex_overrides(false)
            .iter()
            .any(|a| a.contains("env_key")));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = toml::from_str::<Config>("[codex]\nmodle = \"x\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("modle")));
    }
}
