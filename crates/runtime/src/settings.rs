//! Settings: the editable part of the config, the provider key, autostart,
//! and where things live. Changes are validated, saved to `config.toml`,
//! and announced on the bus (`settings.changed`) so the tray and every
//! window show the same state.

use crate::config::{Config, NotificationsConfig, ProviderConfig};
use crate::error::{Error, Result};
use crate::host::secret_names;
use crate::model::EventKind;
use crate::runtime::{AppliedCodexSettings, Runtime};
pub use perch_protocol::settings::{
    ApprovalPolicy, AutostartState, CodexPatch, CodexSettings, MemorySettings, MemorySettingsPatch,
    NotificationSettings, NotificationsPatch, Paths, ProviderSettings, SecretBackend, SecretsState,
    Settings, SettingsPatch,
};

const MAX_KEY_CHARS: usize = 4096;
const MAX_FIELD_CHARS: usize = 2048;

impl Runtime {
    pub async fn settings(&self) -> Result<Settings> {
        let config = self.config();
        let provider_key_set = self.secret(secret_names::PROVIDER_API_KEY).await?.is_some();
        let applied = AppliedCodexSettings {
            bin: config.codex.bin.clone(),
            provider: config.provider.clone(),
            provider_key: provider_key_set && config.provider.is_some(),
        };
        let restart_required = self.lock_codex().applied != applied;
        let autostart = self.autostart_state().await;
        let n = &config.notifications;
        Ok(Settings {
            codex: CodexSettings {
                bin: config.codex.bin.clone(),
                approval_policy: config.codex.approval_policy,
                model: config.codex.model.clone(),
                effort: config.codex.effort.clone(),
                cwd: config.codex.cwd.clone(),
            },
            provider: config.provider.as_ref().map(|p| ProviderSettings {
                id: p.id.clone(),
                name: p.name.clone(),
                base_url: p.base_url.clone(),
                env_key: p.env_key.clone(),
                wire_api: p.wire_api.clone(),
            }),
            provider_key_set,
            relay_token_set: self.secret(secret_names::RELAY_TOKEN).await?.is_some(),
            notifications: NotificationSettings {
                dnd: n.dnd,
                dnd_allows_approvals: n.dnd_allows_approvals,
                approvals: n.approvals,
                turn_finished: n.turn_finished,
                codex_restarts: n.codex_restarts,
                errors: n.errors,
                peer_messages: n.peer_messages,
                muted_agents: n.muted_agents.clone(),
                muted_channels: n.muted_channels.clone(),
                wakeups: n.wakeups,
            },
            memory: MemorySettings {
                context: config.memory.context,
                context_tokens: config.memory.context_tokens,
                auto_archive: config.memory.auto_archive,
                embeddings_url: config.memory.embeddings_url.clone(),
                embeddings_model: config.memory.embeddings_model.clone(),
            },
            autostart,
            secrets: SecretsState {
                backend: self.secrets.backend(),
                warning: self.secrets.warning(),
            },
            paths: Paths {
                data: self.data_dir.display().to_string(),
                config: self.config_path.as_ref().map(|p| p.display().to_string()),
                logs: self.logs_dir.as_ref().map(|p| p.display().to_string()),
                codex_home: config.codex_home().map(|p| p.display().to_string()),
            },
            restart_required,
        })
    }

    async fn autostart_state(&self) -> AutostartState {
        let Some(autostart) = self.autostart.clone() else {
            return AutostartState {
                supported: false,
                enabled: false,
                error: None,
            };
        };
        match tokio::task::spawn_blocking(move || autostart.is_enabled()).await {
            Ok(Ok(enabled)) => AutostartState {
                supported: true,
                enabled,
                error: None,
            },
            Ok(Err(err)) => AutostartState {
                supported: true,
                enabled: false,
                error: Some(err.to_string()),
            },
            Err(err) => AutostartState {
                supported: true,
                enabled: false,
                error: Some(err.to_string()),
            },
        }
    }

    /// Validates the whole patch first, so a bad field changes nothing.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<Settings> {
        let mut config = self.config();
        if let Some(codex) = patch.codex {
            apply_codex(&mut config, codex)?;
        }
        if let Some(provider) = patch.provider {
            config.provider = provider.map(validate_provider).transpose()?;
        }
        if let Some(n) = patch.notifications {
            apply_notifications(&mut config.notifications, n)?;
        }
        if let Some(m) = patch.memory {
            apply_memory(&mut config.memory, m)?;
        }
        if let Some(enabled) = patch.autostart {
            let autostart = self.autostart.clone().ok_or_else(|| {
                Error::Invalid("login autostart is not available on this system".into())
            })?;
            tokio::task::spawn_blocking(move || autostart.set_enabled(enabled))
                .await
                .map_err(|e| Error::Config(format!("the autostart task failed: {e}")))??;
        }
        if let Some(path) = &self.config_path {
            config.save(path)?;
        }
        self.replace_config(config);
        self.announce_settings().await
    }

    /// Stores (`Some`) or removes (`None`) the custom provider's API key.
    pub async fn set_provider_key(&self, key: Option<String>) -> Result<Settings> {
        self.store_secret(secret_names::PROVIDER_API_KEY, "the API key", key)
            .await
    }

    /// The token of the relay Perch embeds or joins; used from the next start.
    pub async fn set_relay_token(&self, token: Option<String>) -> Result<Settings> {
        self.store_secret(secret_names::RELAY_TOKEN, "the relay token", token)
            .await
    }

    async fn store_secret(
        &self,
        name: &'static str,
        what: &str,
        value: Option<String>,
    ) -> Result<Settings> {
        let secrets = self.secrets.clone();
        match value {
            Some(value) => {
                let value = value.trim().to_string();
                if value.is_empty() || value.chars().count() > MAX_KEY_CHARS || value.chars().any(char::is_control) {
                    return Err(Error::Invalid(format!(
                        "{what} must be 1 to {MAX_KEY_CHARS} characters without spaces at the ends or control characters"
                    )));
                }
                tokio::task::spawn_blocking(move || secrets.set(name, &value))
            }
            None => tokio::task::spawn_blocking(move || secrets.delete(name)),
        }
        .await
        .map_err(|e| Error::Config(format!("the secret store task failed: {e}")))??;
        self.announce_settings().await
    }

    /// Restarts Codex with the saved bin and provider settings.
    pub async fn restart_codex(&self) -> Result<Settings> {
        self.start_codex().await?;
        self.announce_settings().await
    }

    async fn announce_settings(&self) -> Result<Settings> {
        let settings = self.settings().await?;
        self.bus.publish(EventKind::SettingsChanged {
            settings: Box::new(settings.clone()),
        });
        Ok(settings)
    }
}

fn apply_codex(config: &mut Config, patch: CodexPatch) -> Result<()> {
    if let Some(bin) = patch.bin {
        config.codex.bin = match bin {
            Some(bin) if bin.as_os_str().is_empty() => None,
            Some(bin) if !bin.is_absolute() => {
                return Err(Error::Invalid(format!(
                    "the Codex binary must be an absolute path, not {}",
                    bin.display()
                )))
            }
            Some(bin) if !bin.is_file() => {
                return Err(Error::Invalid(format!(
                    "there is no file at {}",
                    bin.display()
                )))
            }
            other => other,
        };
    }
    if let Some(policy) = patch.approval_policy {
        config.codex.approval_policy = policy;
    }
    if let Some(model) = patch.model {
        config.codex.model = optional_word("model", model)?;
    }
    if let Some(effort) = patch.effort {
        config.codex.effort = optional_word("effort", effort)?;
    }
    if let Some(cwd) = patch.cwd {
        config.codex.cwd = match cwd {
            Some(cwd) if cwd.as_os_str().is_empty() => None,
            Some(cwd) if !cwd.is_dir() => {
                return Err(Error::Invalid(format!(
                    "the working directory {} does not exist",
                    cwd.display()
                )))
            }
            other => other,
        };
    }
    Ok(())
}

fn optional_word(what: &str, value: Option<String>) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.len() > 200 || v.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(
            Error::Invalid(format!("{what} must be one word of at most 200 characters")),
        ),
        Some(v) => Ok(Some(v)),
    }
}

fn validate_provider(p: ProviderSettings) -> Result<ProviderConfig> {
    let id_ok = !p.id.is_empty()
        && p.id.len() <= 64
        && p.id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !id_ok {
        return Err(Error::Invalid(
            "the provider id must be 1 to 64 letters, digits, '-' or '_'".into(),
        ));
    }
    let url = p.base_url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > MAX_FIELD_CHARS {
        return Err(Error::Invalid(format!(
            "the provider base URL must start with http:// or https://, not {url:?}"
        )));
    }
    if let Some(key) = &p.env_key {
        let ok = !key.is_empty()
            && key.len() <= 128
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Error::Invalid(format!(
                "{key:?} is not an environment variable name"
            )));
        }
    }
    if !matches!(p.wire_api.as_str(), "responses") {
        return Err(Error::Invalid(format!(
            "wire API {:?} is not supported; Codex speaks \"responses\"",
            p.wire_api
        )));
    }
    let name = p
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(Error::Invalid(
            "the provider name is longer than 200 characters".into(),
        ));
    }
    Ok(ProviderConfig {
        id: p.id,
        name,
        base_url: url,
        env_key: p.env_key.filter(|k| !k.is_empty()),
        wire_api: p.wire_api,
        // Not in Settings: the file's keys (docs/config.md).
        request_max_retries: 1,
        stream_max_retries: 1,
    })
}

const MAX_MUTED: usize = 500;

/// Mute lists: distinct, trimmed names of at most 200 characters.
fn validate_muted(what: &str, names: Vec<String>) -> Result<Vec<String>> {
    if names.len() > MAX_MUTED {
        return Err(Error::Invalid(format!(
            "{what}: at most {MAX_MUTED} entries"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim().to_string();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(Error::Invalid(format!(
                "{what}: {name:?} is not an agent id or channel name"
            )));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn apply_notifications(n: &mut NotificationsConfig, patch: NotificationsPatch) -> Result<()> {
    if let Some(agents) = patch.muted_agents {
        n.muted_agents = validate_muted("mutedAgents", agents)?;
    }
    if let Some(channels) = patch.muted_channels {
        n.muted_channels = validate_muted("mutedChannels", channels)?;
    }
    let fields = [
        (&mut n.dnd, patch.dnd),
        (&mut n.dnd_allows_approvals, patch.dnd_allows_approvals),
        (&mut n.approvals, patch.approvals),
        (&mut n.turn_finished, patch.turn_finished),
        (&mut n.codex_restarts, patch.codex_restarts),
        (&mut n.errors, patch.errors),
        (&mut n.peer_messages, patch.peer_messages),
        (&mut n.wakeups, patch.wakeups),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            *field = value;
        }
    }
    Ok(())
}

/// The most context a turn may carry, in tokens.
const MAX_CONTEXT_TOKENS: usize = 32_000;

fn apply_memory(m: &mut crate::config::MemoryConfig, patch: MemorySettingsPatch) -> Result<()> {
    if let Some(tokens) = patch.context_tokens {
        if tokens > MAX_CONTEXT_TOKENS {
            return Err(Error::Invalid(format!(
                "memory.contextTokens is at most {MAX_CONTEXT_TOKENS}"
            )));
        }
        m.context_tokens = tokens;
    }
    if let Some(url) = patch.embeddings_url {
        let url = optional_word("memory.embeddingsUrl", url)?;
        if let Some(url) = &url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::Invalid(format!(
                    "memory.embeddingsUrl {url:?} is not an http(s) URL"
                )));
            }
        }
        m.embeddings_url = url;
    }
    if let Some(model) = patch.embeddings_model {
        m.embeddings_model = optional_word("memory.embeddingsModel", model)?;
    }
    if m.embeddings_url.is_some() != m.embeddings_model.is_some() {
        return Err(Error::Invalid(
            "memory.embeddingsUrl and memory.embeddingsModel go together: set both (an endpoint and its model) or clear both".into(),
        ));
    }
    m.context = patch.context.unwrap_or(m.context);
    m.auto_archive = patch.auto_archive.unwrap_or(m.auto_archive);
    Ok(())
}

impl Runtime {
    /// A plain-text report for bug reports: versions, state, settings (no
    /// secrets: only whether they are set) and the end of the newest log.
    pub async fn diagnostics(&self) -> Result<String> {
        let status = self.status()?;
        let settings = self.settings().await?;
        let mut text = format!(
            "Perch {} diagnostics\nos: {} {}\n\n## status\n{}\n\n## settings\n{}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            pretty(&status),
            pretty(&settings),
        );
        if let Some(dir) = &self.logs_dir {
            text.push_str(&format!("\n## log ({})\n", dir.display()));
            text.push_str(&newest_log_tail(dir, 200));
        }
        Ok(text)
    }
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(not serializable: {e})"))
}

/// The last `lines` lines of the most recently modified file in `dir`.
fn newest_log_tail(dir: &std::path::Path, lines: usize) -> String {
    let newest = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.path().is_file())
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    });
    let Some(path) = newest else {
        return "(no log file yet)\n".into();
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n") + "\n"
        }
        Err(e) => format!("(could not read {}: {e})\n", path.display()),
    }
}
