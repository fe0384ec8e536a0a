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

/// `perch relay forget-key`: the id's next registration may claim it
/// again. Only someone who can write the relay's database can do this.
pub fn forget_key(db: &std::path::Path, id: &str) -> Result<(), CliError> {
    if !db.exists() {
        return Err(CliError::Usage(format!(
            "no relay database at {}; pass --db with the relay's database",
            db.display()
        )));
    }
    let relay = perch_relay::Relay::open(Some(db), RelaySettings::default())
        .map_err(|e| CliError::Usage(format!("opening {}: {e}", db.display())))?;
    relay
        .forget_key(id)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{id} holds no key now; its next registration gets a new one");
    Ok(())
}

/// `perch relay env`: the lines that point agent-relay's plugins (Claude
/// Code, Codex) at the relay this Perch runs or joins, with its token when
/// it has one. The token is read from Perch's secret store, so it prints
/// only for the person who can read that.
pub async fn env_lines(
    client: &crate::client::Client,
    data_dir: &std::path::Path,
    env: &perch_runtime::config::Environment,
) -> Result<(), CliError> {
    use perch_protocol::peer::PeerStatus;
    let link = match client.get::<PeerStatus>("/api/peer").await? {
        PeerStatus::On(link) => link,
        PeerStatus::Off(_) => {
            return Err(CliError::Usage(
                "the peer network is off, so there is no relay to point plugins at (docs/config.md, [peer] and [relay])".into(),
            ))
        }
    };
    let token = {
        let (data_dir, env) = (data_dir.to_path_buf(), env.clone());
        tokio::task::spawn_blocking(move || {
            perch_host::secrets::open_secret_store(&data_dir, &env)
                .get(perch_runtime::host::secret_names::RELAY_TOKEN)
        })
        .await
        .map_err(|e| CliError::Usage(format!("reading the relay token: {e}")))?
        .map_err(|e| CliError::Usage(format!("reading the relay token: {e}")))?
    }
    .or_else(|| env.get("AGENT_RELAY_TOKEN").map(String::from));
    println!(
        "# agent-relay plugins: Perch's relay ({}).",
        if link.embedded { "embedded" } else { "joined" }
    );
    println!("export AGENT_RELAY_URL={}", shell_word(&link.relay_url));
    match token {
        Some(token) => println!("export AGENT_RELAY_TOKEN={}", shell_word(&token)),
        None => println!(
            "# No token: on loopback any process of this machine can use this relay (docs/relay.md, Trust)."
        ),
    }
    Ok(())
}

/// `text` quoted for a POSIX shell.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
