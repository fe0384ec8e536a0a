//! Perch's configuration: `<data dir>/config.toml`, every key optional.
//! The keys are documented in docs/config.md; keep the two in step.

use crate::error::{Error, Result};
use perch_codex::protocol::{AskForApproval, Decision, SandboxMode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:4860";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the local API.
    pub listen: Option<String>,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// Extra `Host` header values the API accepts.
    pub allowed_hosts: Vec<String>,
    /// The built web UI to serve at `/`.
    pub ui_dir: Option<PathBuf>,
    pub codex: CodexConfig,
    /// A custom OpenAI-compatible model provider (Ollama, vLLM, ...).
    pub provider: Option<ProviderConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodexConfig {
    pub bin: Option<PathBuf>,
    /// CODEX_HOME for the child; default: inherited (`~/.codex`).
    pub home: Option<PathBuf>,
    pub approval_policy: ApprovalPolicy,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// Working directory of new sessions; default: the home directory.
    pub cwd: Option<PathBuf>,
    /// A running turn with no event for this long is marked stalled.
    pub stall_timeout_secs: u64,
    /// A pending approval is answered with `approval_timeout_decision` after this long.
    pub approval_timeout_secs: u64,
    pub approval_timeout_decision: Decision,
    pub request_timeout_secs: u64,
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
            approval_timeout_secs: 900,
            approval_timeout_decision: Decision::Decline,
            request_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider id Codex knows it by.
    #[serde(default = "default_provider_id")]
    pub id: String,
    pub name: Option<String>,
    /// e.g. `http://127.0.0.1:11434/v1`; Codex posts to `{base_url}/responses`.
    pub base_url: String,
    /// Name of the environment variable holding the API key, if any.
    pub env_key: Option<String>,
    #[serde(default = "default_wire_api")]
    pub wire_api: String,
}

fn default_provider_id() -> String {
    "custom".into()
}
fn default_wire_api() -> String {
    "responses".into()
}

/// The three approval modes of agent-relay-codex, mapped onto Codex's
/// approval policy and sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// Never asks; writes inside the workspace.
    Open,
    /// Asks before any command that is not known to be safe; writes inside the workspace.
    Guarded,
    /// Reads only; anything else must be asked for.
    ReadOnly,
}

impl ApprovalPolicy {
    pub fn codex(self) -> (AskForApproval, SandboxMode) {
        match self {
            Self::Open => (AskForApproval::Never, SandboxMode::WorkspaceWrite),
            Self::Guarded => (AskForApproval::Untrusted, SandboxMode::WorkspaceWrite),
            Self::ReadOnly => (AskForApproval::OnRequest, SandboxMode::ReadOnly),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// `-c key=value` overrides for `codex app-server` that select the
    /// custom provider and default model.
    pub fn codex_overrides(&self) -> Vec<String> {
        let mut args = Vec::new();
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        if let Some(p) = &self.provider {
            let mut table = format!(
                "name={}, base_url={}, wire_api={}",
                quote(p.name.as_deref().unwrap_or(&p.id)),
                quote(&p.base_url),
                quote(&p.wire_api)
            );
            if let Some(key) = &p.env_key {
                table.push_str(&format!(", env_key={}", quote(key)));
            }
            // Fail fast rather than retry for minutes against a local server.
            table.push_str(", request_max_retries=1, stream_max_retries=1");
            args.push(format!("model_providers.{}={{{table}}}", p.id));
            args.push(format!("model_provider={}", quote(&p.id)));
        }
        if let Some(model) = &self.codex.model {
            args.push(format!("model={}", quote(model)));
        }
        args.into_iter().flat_map(|a| ["-c".to_string(), a]).collect()
    }
}

/// The data directory: `--data-dir`, `PERCH_HOME`, else `~/.local/share/perch`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERCH_HOME") {
        return PathBuf::from(dir);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("perch")
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
        assert_eq!(config.codex.approval_policy.codex(), (AskForApproval::OnRequest, SandboxMode::ReadOnly));
        assert_eq!(config.codex.approval_timeout_decision, Decision::Cancel);
        assert_eq!(
            config.codex_overrides(),
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
    fn unknown_keys_are_refused_with_their_name() {
        let err = toml::from_str::<Config>("[codex]\nmodle = \"x\"\n").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("modle")));
    }
}
