//! `perch`: the headless server and the commands that talk to it.
//! Every command is documented in docs/cli.md.

mod account;
mod agent;
mod changes;
mod client;
mod commands;
mod doctor;
mod peer;
mod relay;
mod search;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use perch_protocol::approvals::Decision;
use perch_protocol::peer::SendMessage;
use perch_protocol::sessions::SessionPatch;
use perch_runtime::config::Environment;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("no Perch server is running for data dir {0}; start one with `perch serve` (or set PERCH_URL and PERCH_API_TOKEN)")]
    NotRunning(String),
    #[error("could not reach Perch at {0}; is `perch serve` still running?")]
    Unreachable(String),
    #[error("the API token was refused; check PERCH_API_TOKEN, or compare with `perch token`")]
    Unauthorized,
    #[error("Perch answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error(transparent)]
    Runtime(#[from] perch_runtime::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Server(#[from] perch_host::server::ServerError),
    #[error(transparent)]
    Host(#[from] perch_runtime::host::HostError),
    #[error("{0}")]
    Other(String),
    /// `perch doctor` found a damaged database (it printed which).
    #[error("{0}")]
    Damaged(String),
    /// An accepted change ran and failed.
    #[error("{0}")]
    ChangeFailed(String),
    /// The turn ended without completing; the message was already printed.
    #[error("the turn ended {0}")]
    TurnNotCompleted(String),
}

impl CliError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

#[derive(Parser)]
#[command(
    name = "perch",
    version,
    about = "Keeps a Codex agent alive on your desktop"
)]
struct Cli {
    /// Perch's data directory (database, token, config.toml).
    #[arg(long, global = true, env = "PERCH_HOME")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the runtime, the local API and the web UI (headless).
    Serve {
        /// Address of the API, default 127.0.0.1:4860.
        #[arg(long)]
        listen: Option<String>,
        /// The built web UI to serve (default: found next to the binary or in the checkout).
        #[arg(long)]
        ui_dir: Option<PathBuf>,
        /// The config file (default: <data dir>/config.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the embedded Agent Relay listens (default: the config's
        /// `[relay] listen`, else 127.0.0.1:4850), or `off`.
        #[arg(long, env = "PERCH_RELAY_LISTEN")]
        relay_listen: Option<String>,
    },
    /// Send a prompt and stream the answer; exits 0 when the turn completes.
    Run {
        /// `new`, `latest`, or a session id.
        #[arg(long, default_value = "latest")]
        session: String,
        /// The project folder: `new` starts the session there, `latest` is
        /// the latest session in it (or a new one there).
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The prompt; `-` reads it from stdin.
        prompt: String,
    },
    /// Codex state, running turns, pending approvals.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List, show, rename or archive sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Interrupt the running turn (of one session, or all).
    Interrupt {
        #[arg(long)]
        session: Option<String>,
    },
    /// List or answer approvals.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Send a message on the peer network as you: TARGET is an agent id,
    /// tag:NAME, cap:NAME, label:NAME or broadcast.
    Send {
        target: String,
        /// The message; `-` reads it from stdin.
        text: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// The id of the message this answers.
        #[arg(long)]
        reply_to: Option<i64>,
        /// Interrupt the receiving agent's current turn.
        #[arg(long)]
        urgent: bool,
        /// Send to an agent id the relay does not know (yet).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Messages on the peer network (`*` marks unread ones to you).
    Inbox {
        #[arg(long)]
        channel: Option<String>,
        /// Only messages from or to this agent.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Search everything: session names, every message (archived sessions'
    /// too), memories, plans and the Inbox. Every word must occur.
    Search {
        #[arg(required = true)]
        words: Vec<String>,
        /// At most this many results (1–100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Memories: add, search, list, edit, rm, export, import.
    Memory {
        #[command(subcommand)]
        command: agent::MemoryCommand,
    },
    /// Todo lists shared with the agent.
    Plan {
        #[command(subcommand)]
        command: agent::PlanCommand,
    },
    /// Wakeups: prompts on a schedule, with their run log.
    Wakeup {
        #[command(subcommand)]
        command: agent::WakeupCommand,
    },
    /// What the agent changed with Perch's tools; `accept`/`discard` the
    /// changes a turn answering peers asked for (they wait for you).
    Changes {
        #[command(subcommand)]
        command: Option<changes::ChangesCommand>,
    },
    /// Sign Codex in: a ChatGPT device code (default), or an API key read
    /// from stdin or a prompt (never from the command line).
    Login {
        #[arg(long)]
        api_key: bool,
    },
    /// How much of the ChatGPT plan's rate limits is used (as Codex
    /// reports it; an API key has none).
    Usage {
        #[arg(long)]
        json: bool,
    },
    /// Sign Codex out (asks first when Perch shares ~/.codex with the Codex CLI).
    Logout {
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// The agents on the relay, and Perch's own connection; `keys`, `pin`,
    /// `unpin`, `rotate-key` for end-to-end keys; `devices`, `link`, `join`,
    /// `unlink` for the person's computers.
    Peers {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        keys: Option<KeysCommand>,
    },
    /// Print the API token.
    Token,
    /// Open the web UI in the browser, signed in with a one-time code.
    Open,
    /// Check Perch's databases; `--repair` replaces a damaged one with what can still be read.
    Doctor {
        /// Keep a copy of each damaged database and write a repaired one in its place (Perch must be stopped).
        #[arg(long)]
        repair: bool,
    },
    /// The relay of the peer network (Agent Relay API).
    Relay {
        #[command(subcommand)]
        command: RelayCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every device key on the relay's cards (fingerprints), with your pins.
    Keys {
        #[arg(long)]
        json: bool,
    },
    /// Pin the device keys ID's card lists now, after comparing the
    /// fingerprints with its owner another way.
    Pin { id: String },
    /// Forget ID's pins: its card is believed again.
    Unpin { id: String },
    /// Give this Perch's ids new device keys, announced by the old ones.
    RotateKey,
    /// The computers that hold your person id on the relay.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Print a one-time code (ten minutes) that joins another computer of
    /// yours to your person id.
    Link,
    /// Join this computer to your person id with the code another one printed.
    Join { code: String },
    /// Take another computer's key of your person id away.
    Unlink { device: String },
}

#[derive(Subcommand)]
enum RelayCommand {
    /// Run the relay alone (env: HOST, PORT, AGENT_RELAY_TOKEN, retention; see docs/relay.md).
    Serve {
        /// Address, default HOST:PORT or 127.0.0.1:4850.
        #[arg(long)]
        listen: Option<String>,
        /// The SQLite database (default: <data dir>/relay.db, or AGENT_RELAY_DB).
        #[arg(long, env = "AGENT_RELAY_DB")]
        db: Option<PathBuf>,
        #[command(flatten)]
        nats: relay::NatsArgs,
    },
    /// Store the NATS credentials (a .creds file) a relay frontend connects with, in the keyring.
    NatsCreds {
        /// The .creds file (from `nsc generate creds`); its text is stored, the file can go.
        file: PathBuf,
    },
    /// Print the AGENT_RELAY_URL (and AGENT_RELAY_TOKEN) lines for agent-relay's plugins.
    Env,
    /// Take an agent's key away, so that its next registration gets a new
    /// one (for an id whose key was lost). Works on the relay's database.
    ForgetKey {
        /// The agent id.
        id: String,
        /// The SQLite database (default: <data dir>/relay.db, or AGENT_RELAY_DB).
        #[arg(long, env = "AGENT_RELAY_DB")]
        db: Option<PathBuf>,
        #[command(flatten)]
        nats: relay::NatsArgs,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    List {
        #[arg(long)]
        archived: bool,
        /// Only sessions whose working folder is DIR or a folder in it.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
    },
    Rename {
        id: String,
        name: String,
    },
    Archive {
        id: String,
        /// Unarchive instead.
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    List {
        /// Answered ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    Answer {
        id: String,
        #[arg(value_enum)]
        decision: DecisionArg,
        /// With `decline`: why; the model reads it as your next words.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DecisionArg {
    Accept,
    AcceptForSession,
    Decline,
    Cancel,
}

impl From<DecisionArg> for Decision {
    fn from(arg: DecisionArg) -> Self {
        match arg {
            DecisionArg::Accept => Self::Accept,
            DecisionArg::AcceptForSession => Self::AcceptForSession,
            DecisionArg::Decline => Self::Decline,
            DecisionArg::Cancel => Self::Cancel,
        }
    }
}

fn main() -> ExitCode {
    // Two workers and a few blocking threads need no arena each.
    stdx::memory::limit_arenas(2);
    let cli = Cli::parse();
    // The only read of the process environment (`perch serve` takes it again
    // with its config).
    let env = Environment::capture();
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| perch_runtime::config::default_data_dir(&env));
    // The server logs to rotating files too; client commands only to stderr.
    let log_guard = match cli.command {
        Command::Serve { .. } => Some(perch_host::logs::init_with_files(&data_dir, &env)),
        Command::Relay {
            command: RelayCommand::Serve { .. },
        } => {
            perch_host::logs::init_stderr("info", &env);
            None
        }
        _ => {
            perch_host::logs::init_stderr("warn", &env);
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("perch: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logs_dir = log_guard.as_ref().and_then(|g| g.dir.clone());
    match runtime.block_on(run(cli, data_dir, logs_dir, env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::TurnNotCompleted(_)) => ExitCode::from(1),
        Err(err @ (CliError::Damaged(_) | CliError::ChangeFailed(_))) => {
            eprintln!("perch: {err}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("perch: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(
    cli: Cli,
    data_dir: PathBuf,
    logs_dir: Option<PathBuf>,
    env: Environment,
) -> Result<(), CliError> {
    match cli.command {
        Command::Serve {
            listen,
            ui_dir,
            config,
            relay_listen,
        } => {
            serve::serve(serve::ServeArgs {
                data_dir,
                listen,
                ui_dir,
                config,
                logs_dir,
                relay_listen,
            })
            .await
        }
        Command::Doctor { repair } => doctor::doctor(&data_dir, repair),
        Command::Relay {
            command: RelayCommand::Serve { listen, db, nats },
        } => {
            let storage = relay::storage(db, &nats, &data_dir, &env).await?;
            relay::serve(relay::RelayServeArgs {
                listen,
                storage,
                env,
            })
            .await
        }
        Command::Relay {
            command: RelayCommand::NatsCreds { file },
        } => relay::store_nats_creds(&file, &data_dir, &env).await,
        Command::Relay {
            command: RelayCommand::ForgetKey { id, db, nats },
        } => {
            let storage = relay::storage(db, &nats, &data_dir, &env).await?;
            relay::forget_key(storage, &id).await
        }
        command => {
            let client = client::Client::discover(&data_dir, &env).await?;
            match command {
                Command::Relay {
                    command: RelayCommand::Env,
                } => relay::env_lines(&client, &data_dir, &env).await,
                Command::Run {
                    session,
                    cwd,
                    format,
                    prompt,
                } => commands::run(&client, &session, cwd.as_deref(), format, &prompt).await,
                Command::Status { json } => commands::status(&client, json).await,
                Command::Sessions { command } => match command {
                    SessionsCommand::List {
                        archived,
                        project,
                        json,
                    } => commands::sessions_list(&client, archived, project.as_deref(), json).await,
                    SessionsCommand::Show { id } => commands::sessions_show(&client, &id).await,
                    SessionsCommand::Rename { id, name } => {
                        let patch = SessionPatch {
                            name: Some(name),
                            ..SessionPatch::default()
                        };
                        commands::sessions_patch(&client, &id, patch).await
                    }
                    SessionsCommand::Archive { id, undo } => {
                        let patch = SessionPatch {
                            archived: Some(!undo),
                            ..SessionPatch::default()
                        };
                        commands::sessions_patch(&client, &id, patch).await
                    }
                },
                Command::Interrupt { session } => {
                    commands::interrupt(&client, session.as_deref()).await
                }
                Command::Approvals { command } => match command {
                    ApprovalsCommand::List { all, json } => {
                        commands::approvals_list(&client, all, json).await
                    }
                    ApprovalsCommand::Answer {
                        id,
                        decision,
                        reason,
                    } => commands::approvals_answer(&client, &id, decision.into(), reason).await,
                },
                Command::Token => {
                    println!("{}", client::stored_token(&data_dir, &env).await?);
                    Ok(())
                }
                Command::Open => commands::open(&client).await,
                Command::Send {
                    target,
                    text,
                    subject,
                    channel,
                    reply_to,
                    urgent,
                    force,
                    json,
                } => {
                    let body = if text == "-" {
                        let mut body = String::new();
                        std::io::Read::read_to_string(&mut std::io::stdin(), &mut body)
                            .map_err(|e| CliError::io("reading the message from stdin", e))?;
                        body
                    } else {
                        text
                    };
                    let out = SendMessage {
                        to: target,
                        body,
                        subject,
                        channel,
                        reply_to,
                        urgent,
                        claimable: false,
                    };
                    peer::send(&client, out, force, json).await
                }
                Command::Inbox {
                    channel,
                    agent,
                    limit,
                    json,
                } => peer::inbox(&client, channel, agent, limit, json).await,
                Command::Peers { json, keys: None } => peer::peers(&client, json).await,
                Command::Peers {
                    keys: Some(command),
                    ..
                } => peer::keys(&client, command).await,
                Command::Search { words, limit, json } => {
                    search::search(&client, words, limit, json).await
                }
                Command::Memory { command } => agent::memory(&client, command).await,
                Command::Plan { command } => agent::plan(&client, command).await,
                Command::Wakeup { command } => agent::wakeup(&client, command).await,
                Command::Changes { command } => changes::changes(&client, command).await,
                Command::Login { api_key } => account::login(&client, api_key).await,
                Command::Logout { yes } => account::logout(&client, yes).await,
                Command::Usage { json } => account::usage(&client, json).await,
                Command::Serve { .. } | Command::Relay { .. } | Command::Doctor { .. } => Ok(()),
            }
        }
    }
}
