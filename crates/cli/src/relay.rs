//! `perch relay serve`: the relay alone, configured the way agent-relay is
//! (`HOST`, `PORT`, `AGENT_RELAY_TOKEN`, retention variables), so existing
//! agent-relay setups and plugins point at it unchanged.

use crate::CliError;
use perch_relay::{RelayServer, RelaySettings};
use std::net::SocketAddr;
use std::path::PathBuf;

pub struct RelayServeArgs {
    pub listen: Option<String>,
    pub db: PathBuf,
    pub env: perch_runtime::config::Environment,
}

/// `--listen`, else `HOST`:`PORT` (agent-relay's variables), else
/// 127.0.0.1:4850.
pub fn listen_address(
    listen: Option<String>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<SocketAddr, CliError> {
    let text = match listen {
        Some(listen) => listen,
        None => {
            let host = var("HOST").unwrap_or_else(|| "127.0.0.1".into());
            let port = var("PORT").unwrap_or_else(|| perch_relay::config::DEFAULT_PORT.to_string());
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
    };
    text.parse().map_err(|_| {
        CliError::Usage(format!(
            "relay address {text:?} is not an address like 127.0.0.1:4850"
        ))
    })
}

pub async fn serve(args: RelayServeArgs) -> Result<(), CliError> {
    let env = |name: &str| args.env.get(name).map(String::from);
    let listen = listen_address(args.listen, env)?;
    let settings = RelaySettings::from_env(env).map_err(|e| CliError::Usage(e.to_string()))?;
    let access = match (&settings.token, listen.ip().is_loopback()) {
        (Some(_), _) => "token required",
        (None, true) => "no token; loopback only",
        (None, false) => "no token (AGENT_RELAY_ALLOW_UNAUTH)",
    };
    let server = RelayServer::start(listen, Some(args.db.clone()), settings)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // One line on stdout that scripts (and the benchmark) read for the URL.
    println!("listening {}", server.url());
    eprintln!(
        "Perch relay on {} ({}; database {})",
        server.url(),
        access,
        args.db.display()
    );
    perch_host::server::wait_for_signal().await;
    eprintln!("relay stopping");
    server.stop().await;
    Ok(())
}
