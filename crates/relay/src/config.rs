//! The relay's settings, from agent-relay's environment variables (so an
//! existing agent-relay setup carries over) or from the embedding program.

use crate::error::{RelayError, Result};
use serde::Deserialize;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 4850;

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// `AGENT_RELAY_TOKEN`: required on every route when set.
    pub token: Option<String>,
    /// `AGENT_RELAY_ALLOW_UNAUTH=1`: allow a non-loopback bind without a token.
    pub allow_unauthenticated: bool,
    /// `AGENT_RELAY_CORS_ORIGINS`: browser origins allowed besides the
    /// relay's own (`*` for any); empty means same-origin only.
    pub cors_origins: Vec<String>,
    /// `AGENT_RELAY_INTEGRATIONS`: scoped tokens for scripts and monitors.
    pub integrations: Vec<Integration>,
    /// `AGENT_RELAY_INTEGRATION_RATE_LIMIT_PER_MINUTE` (120).
    pub integration_rate_limit_per_minute: u32,
    /// `STALE_MS` (120 000): an agent silent this long is marked offline.
    pub stale_after: Duration,
    /// `OFFLINE_PRUNE_MS` (86 400 000): an offline agent this old is deleted.
    pub offline_prune_after: Duration,
    /// `REAP_INTERVAL_MS` (60 000): how often the reaper runs.
    pub reap_interval: Duration,
    /// `RETENTION_DAYS` (30): messages older than this are pruned.
    pub retention: Duration,
    /// `CLAIM_LEASE_MS` (300 000): the default claim lease.
    pub claim_lease: Duration,
}

/// An integration: a name, its token, what it may do and where it may post.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub name: String,
    pub token: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Targets it may address (`cap:ops`); empty means any.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Channels it may post in; empty means any.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub callback_url: Option<String>,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            token: None,
            allow_unauthenticated: false,
            cors_origins: Vec::new(),
            integrations: Vec::new(),
            integration_rate_limit_per_minute: 120,
            stale_after: Duration::from_millis(120_000),
            offline_prune_after: Duration::from_millis(86_400_000),
            reap_interval: Duration::from_millis(60_000),
            retention: Duration::from_secs(30 * 86_400),
            claim_lease: Duration::from_millis(300_000),
        }
    }
}

impl RelaySettings {
    /// Reads agent-relay's variables through `var` (the process environment,
    /// or a map in tests); a malformed value is an error, not a default.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut settings = Self {
            token: var("AGENT_RELAY_TOKEN")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            allow_unauthenticated: var("AGENT_RELAY_ALLOW_UNAUTH")
                .is_some_and(|v| v == "1" || v == "true"),
            cors_origins: var("AGENT_RELAY_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ..Self::default()
        };
        if let Some(json) = var("AGENT_RELAY_INTEGRATIONS") {
            settings.integrations = serde_json::from_str(&json).map_err(|e| {
                RelayError::Invalid(format!(
                    "AGENT_RELAY_INTEGRATIONS is not a JSON list of integrations: {e}"
                ))
            })?;
        }
        let number = |name: &str| -> Result<Option<u64>> {
            var(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        RelayError::Invalid(format!("{name}={v:?} is not a whole number"))
                    })
                })
                .transpose()
        };
        if let Some(n) = number("AGENT_RELAY_INTEGRATION_RATE_LIMIT_PER_MINUTE")? {
            settings.integration_rate_limit_per_minute = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(ms) = number("STALE_MS")? {
            settings.stale_after = Duration::from_millis(ms);
        }
        if let Some(ms) = number("OFFLINE_PRUNE_MS")? {
            settings.offline_prune_after = Duration::from_millis(ms);
        }
        if let Some(ms) = number("REAP_INTERVAL_MS")? {
            settings.reap_interval = Duration::from_millis(ms.max(100));
        }
        if let Some(days) = number("RETENTION_DAYS")? {
            settings.retention = Duration::from_secs(days.saturating_mul(86_400));
        }
        if let Some(ms) = number("CLAIM_LEASE_MS")? {
            settings.claim_lease = Duration::from_millis(ms.max(1));
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<()> {
        for integration in &self.integrations {
            if integration.name.trim().is_empty() || integration.token.trim().len() < 8 {
                return Err(RelayError::Invalid(format!(
                    "integration {:?} needs a name and a token of at least 8 characters",
                    integration.name
                )));
            }
            if self.token.as_deref() == Some(integration.token.as_str()) {
                return Err(RelayError::Invalid(format!(
                    "integration {:?} reuses AGENT_RELAY_TOKEN; give it its own token",
                    integration.name
                )));
            }
        }
        Ok(())
    }
}
