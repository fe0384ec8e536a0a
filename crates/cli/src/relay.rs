//! `perch relay serve`: the relay alone, configured the way agent-relay is
//! (`HOST`, `PORT`, `AGENT_RELAY_TOKEN`, retention variables), so existing
//! agent-relay setups and plugins point at it unchanged.

use crate::CliError;
use perch_relay::{RelayServer, RelaySettings, Storage};
use perch_runtime::host::secret_names;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub struct RelayServeArgs {
    pub listen: Option<String>,
    pub storage: Storage,
    pub env: perch_runtime::config::Environment,
}

/// Where a relay frontend keeps its state: a NATS JetStream cluster instead
/// of the SQLite file (docs/relay.md, "A relay for a team").
#[derive(clap::Args, Debug)]
pub struct NatsArgs {
    /// Serve from a NATS JetStream cluster: its servers, comma-separated
    /// (nats://host:4222 or tls://host:4222).
    #[arg(
        long,
        env = "PERCH_RELAY_NATS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    nats: Vec<String>,
    /// The NATS credentials (.creds file); default: the ones `perch relay nats-creds` stored.
    #[arg(long, value_name = "FILE", requires = "nats")]
    nats_creds: Option<PathBuf>,
    /// A CA certificate (PEM) to verify the NATS servers with; implies TLS.
    #[arg(long, value_name = "FILE", requires = "nats")]
    nats_ca: Option<PathBuf>,
    /// A client certificate (PEM), for servers that verify clients (with --nats-key).
    #[arg(long, value_name = "FILE", requires_all = ["nats", "nats_key"])]
    nats_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    nats_key: Option<PathBuf>,
    /// Replicas of the relay's streams and buckets when this frontend creates
    /// them: 3 for a 3-node cluster, 1 for a single server.
    #[arg(long, default_value_t = 3, value_name = "N", requires = "nats")]
    nats_replicas: usize,
    /// The names of the relay's streams, buckets and subjects start with
    /// this, so several relays can share one cluster.
    #[arg(
        long,
        default_value = "perch-relay",
        value_name = "NAME",
        requires = "nats"
    )]
    nats_namespace: String,
}

/// The storage `db` and the NATS flags choose; without `--nats`, the
/// config's `[relay] nats` (and `nats_creds`, `nats_ca`), else SQLite.
pub async fn storage(
    db: Option<PathBuf>,
    nats: &NatsArgs,
    data_dir: &Path,
    env: &perch_runtime::config::Environment,
) -> Result<Storage, CliError> {
    let config = perch_runtime::config::Config::load(&data_dir.join("config.toml"))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let (urls, creds, ca) = if nats.nats.is_empty() {
        let relay = config.relay;
        (relay.nats, relay.nats_creds, relay.nats_ca)
    } else {
        (
            nats.nats.clone(),
            nats.nats_creds.clone(),
            nats.nats_ca.clone(),
        )
    };
    if urls.is_empty() {
        return Ok(Storage::Sqlite(Some(
            db.unwrap_or_else(|| data_dir.join("relay.db")),
        )));
    }
    if db.is_some() {
        return Err(CliError::Usage(
            "--db and --nats (or [relay] nats) exclude each other: a relay keeps its state in one SQLite file or in a NATS cluster".into(),
        ));
    }
    let (data_dir, env) = (data_dir.to_path_buf(), env.clone());
    let mut options = tokio::task::spawn_blocking(move || {
        let secrets = perch_host::secrets::open_secret_store(&data_dir, &env);
        perch_host::network::nats_options(urls, creds.as_deref(), ca, secrets.as_ref())
    })
    .await
    .map_err(|e| CliError::Usage(format!("reading the NATS credentials: {e}")))?
    .map_err(CliError::Usage)?;
    options.client_cert = nats.nats_cert.clone().zip(nats.nats_key.clone());
    options.replicas = nats.nats_replicas;
    options.namespace = nats.nats_namespace.clone();
    Ok(Storage::Nats(options))
}

/// `perch relay nats-creds FILE`: keeps the credentials in the keyring (or
/// Perch's 0600 secret file), where `relay serve --nats` finds them.
pub async fn store_nats_creds(
    file: &Path,
    data_dir: &Path,
    env: &perch_runtime::config::Environment,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("reading {}: {e}", file.display())))?;
    if !text.contains("BEGIN NATS USER JWT") || !text.contains("BEGIN USER NKEY SEED") {
        return Err(CliError::Usage(format!(
            "{} is not a NATS .creds file (it needs a user JWT and an NKey seed; `nsc generate creds` makes one)",
            file.display()
        )));
    }
    let (data_dir, env) = (data_dir.to_path_buf(), env.clone());
    tokio::task::spawn_blocking(move || {
        perch_host::secrets::open_secret_store(&data_dir, &env)
            .set(secret_names::RELAY_NATS_CREDS, &text)
    })
    .await
    .map_err(|e| CliError::Usage(format!("storing the credentials: {e}")))?
    .map_err(|e| CliError::Usage(format!("storing the credentials: {e}")))?;
    println!(
        "stored; `perch relay serve --nats …` uses them (you may delete {} now)",
        file.display()
    );
    Ok(())
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
    let store = match &args.storage {
        Storage::Sqlite(db) => format!(
            "database {}",
            db.as_deref()
                .map_or("in memory".into(), |db| db.display().to_string())
        ),
        Storage::Nats(nats) => format!("NATS {} ({})", nats.urls.join(","), nats.namespace),
    };
    let server = RelayServer::start(listen, args.storage, settings)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // One line on stdout that scripts (and the benchmark) read for the URL.
    println!("listening {}", server.url());
    eprintln!("Perch relay on {} ({access}; {store})", server.url());
    perch_host::server::wait_for_signal().await;
    eprintln!("relay stopping");
    server.stop().await;
    Ok(())
}

/// `perch relay forget-key`: the id's next registration may claim it
/// again. Only someone who can write the relay's database (or the cluster)
/// can do this.
pub async fn forget_key(storage: Storage, id: &str) -> Result<(), CliError> {
    let relay = match storage {
        Storage::Sqlite(Some(db)) if !db.exists() => {
            return Err(CliError::Usage(format!(
                "no relay database at {}; pass --db with the relay's database",
                db.display()
            )))
        }
        Storage::Sqlite(db) => perch_relay::Relay::open(db.as_deref(), RelaySettings::default()),
        Storage::Nats(nats) => perch_relay::Relay::connect(&nats, RelaySettings::default()).await,
    }
    .map_err(|e| CliError::Usage(format!("opening the relay: {e}")))?;
    relay
        .forget_key(id)
        .await
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
