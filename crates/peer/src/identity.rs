//! Who Perch's agent (and the person) are on the relay: Perch's config, an
//! agent-relay `profiles.json` profile, and the `AGENT_RELAY_*` variables the
//! agent-relay plugins share. Precedence: env, then config, then profile.

use crate::error::{PeerError, Result};
use perch_runtime::config::PeerConfig;
use serde_json::{Map, Value};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub agent_id: String,
    pub person_id: String,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub capabilities: Vec<String>,
    /// Channels the agent listens to; empty = all.
    pub channels: Vec<String>,
    pub profile: Option<String>,
    pub meta: Map<String, Value>,
}

fn csv(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The first list that is not empty.
fn first_set(lists: [Vec<String>; 3]) -> Vec<String> {
    lists
        .into_iter()
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

/// A relay id from a user name: lowercase letters, digits, `-`, `_`, `.`.
fn id_from(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if id.trim_matches('-').is_empty() {
        "me".into()
    } else {
        id
    }
}

impl Identity {
    /// `env` reads a variable (tests pass their own); `home` locates the
    /// default profiles file `~/.config/agent-relay/profiles.json`.
    pub fn resolve(
        config: &PeerConfig,
        env: impl Fn(&str) -> Option<String>,
        home: Option<PathBuf>,
    ) -> Result<Self> {
        let env = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let profile_name = env("AGENT_RELAY_PROFILE").or_else(|| config.profile.clone());
        let profile = match &profile_name {
            Some(name) => {
                let file = env("AGENT_RELAY_PROFILES_FILE")
                    .map(PathBuf::from)
                    .or_else(|| home.map(|h| h.join(".config/agent-relay/profiles.json")));
                load_profile(file, name)?
            }
            None => Map::new(),
        };
        let user = env("USER")
            .or_else(|| env("USERNAME"))
            .unwrap_or_else(|| "me".into());
        let person_id = config.person_id.clone().unwrap_or_else(|| id_from(&user));
        let agent_id = config
            .agent_id
            .clone()
            .unwrap_or_else(|| format!("perch-{}", id_from(&user)));
        if agent_id == person_id {
            return Err(PeerError::Invalid(format!(
                "[peer] agent_id and person_id are both {agent_id:?}; the agent and the person need different ids"
            )));
        }
        let label = env("AGENT_RELAY_LABEL")
            .or_else(|| config.label.clone())
            .or_else(|| {
                profile
                    .get("label")
                    .and_then(Value::as_str)
                    .map(String::from)
            });
        let mut tags = vec!["perch".to_string(), "codex".to_string()];
        for tag in first_set([
            csv(env("AGENT_RELAY_TAGS")),
            config.tags.clone(),
            strings(profile.get("tags")),
        ]) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let mut capabilities = first_set([
            csv(env("AGENT_RELAY_CAPS")),
            config.capabilities.clone(),
            strings(profile.get("capabilities")),
        ]);
        if capabilities.is_empty() {
            capabilities.push("chat".into());
        }
        let channels = first_set([
            csv(env("AGENT_RELAY_CHANNELS")),
            config.channels.clone(),
            strings(profile.get("channels")),
        ]);
        let mut meta = profile
            .get("meta")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(name) = &profile_name {
            meta.insert("profile".into(), Value::String(name.clone()));
        }
        meta.insert("client".into(), Value::String("perch".into()));
        Ok(Self {
            agent_id,
            person_id,
            label,
            tags,
            capabilities,
            channels,
            profile: profile_name,
            meta,
        })
    }

    /// Whether the agent listens to `channel` (direct and pair messages always).
    pub fn listens_to(&self, channel: Option<&str>) -> bool {
        match channel {
            None => true,
            Some(c) if c.starts_with("pair:") => true,
            Some(c) => self.channels.is_empty() || self.channels.iter().any(|x| x == c),
        }
    }
}

fn load_profile(file: Option<PathBuf>, name: &str) -> Result<Map<String, Value>> {
    let Some(file) = file else {
        return Err(PeerError::Invalid(format!(
            "profile {name:?}: no profiles file to read"
        )));
    };
    let text = std::fs::read_to_string(&file).map_err(|source| PeerError::Io {
        context: format!("reading the agent-relay profiles {}", file.display()),
        source,
    })?;
    let all: Value = serde_json::from_str(&text)
        .map_err(|e| PeerError::Invalid(format!("{} is not valid JSON: {e}", file.display())))?;
    all.get(name)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| PeerError::Invalid(format!("{} has no profile {name:?}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        config: &PeerConfig,
        vars: &[(&str, &str)],
        home: Option<PathBuf>,
    ) -> Result<Identity> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Identity::resolve(config, |name| vars.get(name).cloned(), home)
    }

    #[test]
    fn env_wins_over_config_which_wins_over_the_profile() -> Result<()> {
        let home = tempfile::tempdir().map_err(|source| PeerError::Io {
            context: "tempdir".into(),
            source,
        })?;
        let dir = home.path().join(".config/agent-relay");
        std::fs::create_dir_all(&dir).map_err(|source| PeerError::Io {
            context: "mkdir".into(),
            source,
        })?;
        let profiles = r#"{"frontend-developer":{"label":"frontend dev","tags":["frontend","ui"],
            "capabilities":["chat","review"],"channels":["frontend"],"meta":{"team":"web"}}}"#;
        std::fs::write(dir.join("profiles.json"), profiles).map_err(|source| PeerError::Io {
            context: "write".into(),
            source,
        })?;

        let config = PeerConfig {
            profile: Some("frontend-developer".into()),
            ..PeerConfig::default()
        };
        let id = resolve(&config, &[("USER", "Ada L")], Some(home.path().into()))?;
        assert_eq!(id.agent_id, "perch-ada-l");
        assert_eq!(id.person_id, "ada-l");
        assert_eq!(id.label.as_deref(), Some("frontend dev"));
        assert_eq!(id.tags, ["perch", "codex", "frontend", "ui"]);
        assert_eq!(id.capabilities, ["chat", "review"]);
        assert_eq!(id.channels, ["frontend"]);
        assert_eq!(id.meta["team"], "web");
        assert_eq!(id.meta["profile"], "frontend-developer");

        let config = PeerConfig {
            label: Some("from config".into()),
            tags: vec!["cfg".into()],
            ..config
        };
        let id = resolve(
            &config,
            &[
                ("AGENT_RELAY_TAGS", "ops, infra"),
                ("AGENT_RELAY_CAPS", "deploy"),
                ("AGENT_RELAY_CHANNELS", "ops"),
            ],
            Some(home.path().into()),
        )?;
        assert_eq!(id.label.as_deref(), Some("from config"));
        assert_eq!(id.tags, ["perch", "codex", "ops", "infra"]);
        assert_eq!(id.capabilities, ["deploy"]);
        assert_eq!(id.channels, ["ops"]);
        assert!(
            id.listens_to(Some("ops")) && id.listens_to(None) && id.listens_to(Some("pair:p1"))
        );
        assert!(!id.listens_to(Some("frontend")));
        Ok(())
    }

    #[test]
    fn a_missing_profile_and_clashing_ids_are_refused_with_a_reason() {
        let config = PeerConfig {
            profile: Some("nope".into()),
            ..PeerConfig::default()
        };
        let err = resolve(
            &config,
            &[("AGENT_RELAY_PROFILES_FILE", "/nonexistent/profiles.json")],
            None,
        );
        assert!(err.is_err_and(|e| e.to_string().contains("/nonexistent/profiles.json")));
        let config = PeerConfig {
            agent_id: Some("x".into()),
            person_id: Some("x".into()),
            ..PeerConfig::default()
        };
        assert!(resolve(&config, &[], None).is_err_and(|e| e.to_string().contains("different ids")));
    }
}
