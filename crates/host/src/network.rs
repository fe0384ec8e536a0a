//! The peer network inside Perch: the embedded relay (or the remote one Perch
//! joins), Perch's agent on the relay, and the MCP server with Perch's tools.
//! Started once the runtime is open and before Codex starts (Codex needs the
//! MCP URL), in that order: relay, peer link, MCP server over both.

use crate::server::ServerError;
use perch_agent::AgentState;
use perch_mcp::McpServer;
use perch_peer::{Identity, Peer, PeerOptions};
use perch_relay::{NatsOptions, RelayServer, RelaySettings, Storage};
use perch_runtime::config::Config;
use perch_runtime::host::{secret_names, SecretStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The NATS cluster a relay frontend serves from (`[relay] nats`, or
/// `perch relay serve --nats`), with its credentials from `creds_file` or,
/// without one, the `relay-nats-creds` secret. Blocks on the keyring.
pub fn nats_options(
    urls: Vec<String>,
    creds_file: Option<&Path>,
    ca_file: Option<std::path::PathBuf>,
    secrets: &dyn SecretStore,
) -> Result<NatsOptions, String> {
    let credentials = match creds_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| format!("reading the NATS credentials {}: {e}", file.display()))?,
        ),
        None => secrets
            .get(secret_names::RELAY_NATS_CREDS)
            .map_err(|e| format!("reading the NATS credentials from the keyring: {e}"))?,
    };
    let mut options = NatsOptions::new(urls);
    options.credentials = credentials;
    options.ca_file = ca_file;
    Ok(options)
}

/// Which relay Perch's agent joins.
struct RelayChoice {
    url: String,
    token: Option<String>,
    embedded: bool,
}

pub struct Network {
    relay: Option<RelayServer>,
    choice: Option<RelayChoice>,
    pub mcp: McpServer,
    pub peer: Option<Arc<Peer>>,
    /// Why the peer network is off although the person turned it on.
    pub off_reason: Option<String>,
}

impl Network {
    /// Starts the embedded relay (unless `off` or a remote URL is set),
    /// Perch's agent on the relay (unless `[peer] enabled = false`), and the
    /// MCP server. `relay_listen` overrides `[relay] listen`.
    pub async fn start(
        config: &Config,
        relay_listen: Option<String>,
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        agent: Arc<AgentState>,
    ) -> Result<Self, ServerError> {
        let store = secrets.clone();
        let stored_token =
            tokio::task::spawn_blocking(move || store.get(secret_names::RELAY_TOKEN))
                .await
                .map_err(|e| ServerError::Usage(format!("reading the relay token: {e}")))??;
        let listen = relay_listen.unwrap_or_else(|| config.relay.listen.clone());
        // agent-relay's plugins are set up with AGENT_RELAY_URL pointing at
        // this very relay; inherited by Perch, it must not turn the embedded
        // relay off (nothing would serve that address then).
        let env = |name: &str| config.env.get(name).map(String::from);
        let env_url = env("AGENT_RELAY_URL").filter(|url| !is_own_address(url, &listen));
        let remote = config.relay.url.clone().or(env_url);
        let mut relay = None;
        let mut off_reason = None;
        let choice = match remote {
            Some(url) => Some(RelayChoice {
                url,
                token: stored_token.or_else(|| env("AGENT_RELAY_TOKEN")),
                embedded: false,
            }),
            None if listen.trim() == "off" => None,
            None => {
                let addr: SocketAddr = listen.parse().map_err(|_| {
                    ServerError::Usage(format!(
                        "relay listen {listen:?} is not an address like 127.0.0.1:4850 (or `off`)"
                    ))
                })?;
                let mut settings =
                    RelaySettings::from_env(env).map_err(|e| ServerError::Usage(e.to_string()))?;
                if stored_token.is_some() {
                    settings.token = stored_token;
                }
                let token = settings.token.clone();
                let storage = if config.relay.nats.is_empty() {
                    Storage::Sqlite(Some(
                        config
                            .relay
                            .db
                            .clone()
                            .unwrap_or_else(|| data_dir.join("relay.db")),
                    ))
                } else {
                    let store = secrets.clone();
                    let (urls, creds, ca) = (
                        config.relay.nats.clone(),
                        config.relay.nats_creds.clone(),
                        config.relay.nats_ca.clone(),
                    );
                    let options = tokio::task::spawn_blocking(move || {
                        nats_options(urls, creds.as_deref(), ca, store.as_ref())
                    })
                    .await
                    .map_err(|e| ServerError::Usage(format!("reading the NATS credentials: {e}")))?
                    .map_err(ServerError::Usage)?;
                    Storage::Nats(options)
                };
                match RelayServer::start(addr, storage, settings).await {
                    Ok(server) => {
                        let url = server.url();
                        relay = Some(server);
                        Some(RelayChoice {
                            url,
                            token,
                            embedded: true,
                        })
                    }
                    // Something else holds the port. It may be agent-relay or
                    // another Perch, or a program posing as one: joining it
                    // would hand it the relay token and let it speak for
                    // Perch's agent, so Perch joins only a relay the person
                    // names (`[relay] url`).
                    Err(perch_relay::ServerError::Bind { source, .. })
                        if source.kind() == std::io::ErrorKind::AddrInUse =>
                    {
                        let reason = port_taken(addr);
                        tracing::warn!("{reason}");
                        off_reason = Some(reason);
                        None
                    }
                    Err(err) => {
                        return Err(ServerError::Usage(format!("the embedded relay: {err}")))
                    }
                }
            }
        };
        let peer = match &choice {
            Some(choice) if config.peer.enabled => {
                Some(join(agent.clone(), config, choice, secrets).await?)
            }
            _ => None,
        };
        let mcp = McpServer::start(agent, peer.clone())
            .await
            .map_err(|e| ServerError::Usage(e.to_string()))?;
        Ok(Self {
            relay,
            choice,
            mcp,
            peer,
            off_reason,
        })
    }

    pub fn relay_url(&self) -> Option<&str> {
        self.choice.as_ref().map(|c| c.url.as_str())
    }

    pub async fn stop(self) {
        if let Some(peer) = &self.peer {
            peer.stop();
        }
        self.mcp.stop();
        if let Some(relay) = self.relay {
            relay.stop().await;
        }
    }
}

/// What Perch says when the embedded relay's port is taken.
fn port_taken(addr: SocketAddr) -> String {
    format!(
        "{addr}, where Perch's relay listens, is taken by another program. Perch did not join whatever is there: it would get your relay token and speak for your agent. \
         Find the program with `ss -ltnp 'sport = :{port}'` and stop it, or move Perch's relay (`[relay] listen = \"127.0.0.1:<free port>\"` in config.toml), \
         or, if it is a relay you trust (agent-relay, another Perch), join it with `[relay] url = \"http://{addr}\"`. Then restart Perch.",
        port = addr.port()
    )
}

/// Perch's agent (and the person) join the relay.
async fn join(
    agent: Arc<AgentState>,
    config: &Config,
    choice: &RelayChoice,
    secrets: Arc<dyn SecretStore>,
) -> Result<Arc<Peer>, ServerError> {
    let env = |name: &str| config.env.get(name).map(String::from);
    let identity = Identity::resolve(&config.peer, env, dirs::home_dir())
        .map_err(|e| ServerError::Usage(e.to_string()))?;
    let options = PeerOptions {
        relay_url: choice.url.clone(),
        token: choice.token.clone(),
        embedded: choice.embedded,
        identity,
        config: config.peer.clone(),
        secrets,
    };
    Peer::start(agent, options)
        .await
        .map_err(|e| ServerError::Usage(e.to_string()))
}

/// Whether `url` names the loopback address the embedded relay listens on.
fn is_own_address(url: &str, listen: &str) -> bool {
    let Ok(listen) = listen.trim().parse::<SocketAddr>() else {
        return false;
    };
    let authority = url
        .trim()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let Some((host, port)) = authority.rsplit_once(':') else {
        return false;
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    loopback && listen.ip().is_loopback() && port.parse::<u16>().is_ok_and(|p| p == listen.port())
}

#[cfg(test)]
mod tests {
    use super::is_own_address;

    #[test]
    fn the_plugins_url_for_the_embedded_relay_is_recognized() {
        assert!(is_own_address("http://127.0.0.1:4850", "127.0.0.1:4850"));
        assert!(is_own_address("http://localhost:4850/", "127.0.0.1:4850"));
        assert!(!is_own_address("http://127.0.0.1:4851", "127.0.0.1:4850"));
        assert!(!is_own_address(
            "https://relay.example.com:4850",
            "127.0.0.1:4850"
        ));
        assert!(!is_own_address("http://127.0.0.1:4850", "off"));
    }
}
