//! The runtime: sessions and turns over the supervised Codex child, durable
//! approvals, and the stall watchdog. Clients (API, desktop shell) call its
//! methods and subscribe to its event bus; it never knows who they are.
//!
//! This file holds the runtime's state, its start (the Codex child, the
//! watchdog) and its end; `sessions.rs`, `turns.rs` and `account.rs` hold
//! what clients ask of it.

mod account;
mod attachments;
mod projects;
mod review;
mod sessions;
mod sleep;
mod turns;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::host::{secret_names, Autostart, Opener, SecretStore};
use crate::model::*;
use crate::model::{Decision, TurnStatus};
use crate::seams::{TurnContext, TurnObserver};
use crate::store::{Database, Store};
use perch_codex::locate::{self, npm_native_binary};
use perch_codex::protocol::*;
use perch_codex::{RequestId, SpawnOptions, Supervisor, SupervisorConfig, SupervisorEvent};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};
use stdx::{now_ms, random_hex};
use stdx::{MutexExt, RwLockExt};

const MAX_MESSAGE_CHARS: usize = 200_000;
const MAX_NAME_CHARS: usize = 200;
const MAX_HISTORY_TURNS: usize = 2_000;
/// Codex 0.169 answers `turn/start` a few ms before it has registered the
/// turn (and, for a new thread, created its store). Calls in that moment are
/// refused with these messages; they succeed once it settles.
const SETTLING_MESSAGES: [&str; 2] = ["is not supported yet", "no active turn to interrupt"];
const SETTLE_RETRIES: u32 = 20;
const SETTLE_PAUSE: Duration = Duration::from_millis(25);

/// Runs `call`, retrying it for up to 0.5 s while Codex refuses it only
/// because a turn that just started has not settled (see SETTLING_MESSAGES).
async fn while_settling<T, F, Fut>(mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut left = SETTLE_RETRIES;
    loop {
        match call().await {
            Err(Error::Codex(perch_codex::Error::Server { ref message, .. }))
                if left > 0 && SETTLING_MESSAGES.iter().any(|m| message.contains(m)) =>
            {
                left -= 1;
                tokio::time::sleep(SETTLE_PAUSE).await;
            }
            other => return other,
        }
    }
}

pub struct RuntimeOptions {
    pub data_dir: PathBuf,
    pub config: Config,
    /// Where Settings saves the config; `None` keeps changes in memory.
    pub config_path: Option<PathBuf>,
    /// Places to look for a project-local Codex install (`tools/codex`).
    pub project_dirs: Vec<PathBuf>,
    pub secrets: Arc<dyn SecretStore>,
    /// Login autostart, where the host supports it.
    pub autostart: Option<Arc<dyn Autostart>>,
    /// The desktop's "open this file", where the host has one.
    pub opener: Option<Arc<dyn Opener>>,
    /// The rotating log files, if logs go to files.
    pub logs_dir: Option<PathBuf>,
}

/// A streamable-HTTP MCP server Codex attaches to every thread, its tools
/// approved without asking (they are Perch's own). The token reaches Codex
/// only through the child's environment.
#[derive(Clone)]
pub struct McpAttachment {
    pub name: String,
    pub url: String,
    pub token: String,
}

impl McpAttachment {
    const TOKEN_ENV: &'static str = "PERCH_MCP_TOKEN";

    fn codex_overrides(&self) -> Vec<String> {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let key = |field: &str| format!("mcp_servers.{}.{field}", self.name);
        [
            format!("{}={}", key("url"), quote(&self.url)),
            format!("{}={}", key("bearer_token_env_var"), quote(Self::TOKEN_ENV)),
            format!(
                "{}={}",
                key("default_tools_approval_mode"),
                quote("approve")
            ),
        ]
        .into_iter()
        .flat_map(|a| ["-c".to_string(), a])
        .collect()
    }
}

pub struct Runtime {
    pub(crate) data_dir: PathBuf,
    /// The configuration; Settings changes it, features watch it.
    config: tokio::sync::watch::Sender<Config>,
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) project_dirs: Vec<PathBuf>,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) autostart: Option<Arc<dyn Autostart>>,
    pub(crate) opener: Option<Arc<dyn Opener>>,
    pub(crate) logs_dir: Option<PathBuf>,
    /// The features that hear a turn end, and the one that adds context
    /// before it starts (`seams.rs`); registered before Codex is launched.
    pub(crate) observers: RwLock<Vec<Arc<dyn TurnObserver>>>,
    pub(crate) context: RwLock<Option<Arc<dyn TurnContext>>>,
    pub(crate) store: Store,
    pub(crate) bus: EventBus,
    pub(crate) codex: Mutex<CodexSlot>,
    /// Kept to start a supervisor later, when the first start found no binary.
    supervisor_events: tokio::sync::mpsc::Sender<SupervisorEvent>,
    /// Becomes true once [`Runtime::launch_codex`] ran: requests made
    /// before (a peer message at startup) wait for it instead of failing.
    codex_launched: tokio::sync::watch::Sender<bool>,
    pub(crate) state: Mutex<State>,
    pub(crate) watchdog: Arc<tokio::sync::Notify>,
    /// Whom Codex is signed in as, as last read (`account.rs`): status and
    /// the turn guard read it without asking Codex.
    pub(crate) account: Mutex<Option<perch_protocol::account::AccountState>>,
    /// The plan's rate-limit usage as Codex last reported it (`account.rs`).
    pub(crate) usage: Mutex<Option<perch_protocol::account::Usage>>,
    /// The model list as last read, answered while Codex sleeps.
    pub(crate) models: Mutex<Option<Vec<ModelInfo>>>,
    /// When Codex was last asked or heard from (`sleep.rs`).
    pub(crate) last_codex_use: Mutex<Instant>,
    /// Held (read) by every request in flight; the sleeper takes it (write)
    /// to stop a child no request is using.
    pub(crate) codex_gate: tokio::sync::RwLock<()>,
    /// Told when a request wakes a sleeping Codex.
    pub(crate) codex_woken: Arc<tokio::sync::Notify>,
    /// For tasks the runtime spawns about itself (timeouts, resumes).
    pub(crate) me: Weak<Runtime>,
}

#[derive(Default)]
pub(crate) struct State {
    pub generation: u64,
    /// Threads loaded in the current child.
    pub loaded: HashSet<String>,
    /// Threads to resume once a restarted child is ready.
    pub to_resume: HashSet<String>,
    /// The running turn of each session.
    pub active: HashMap<String, Active>,
    /// Sessions Codex is compacting: their compaction turn can be neither
    /// steered nor joined by a new one until it ends.
    pub compacting: HashSet<String>,
    /// Approvals waiting for an answer, by approval id.
    pub pending: HashMap<String, PendingRequest>,
    /// Diffs of file-change items in flight, shown with their approval.
    pub file_changes: HashMap<String, String>,
    /// Sessions whose model or effort changed since their last turn; only
    /// those send the override (it persists in the thread afterwards).
    pub settings_changed: HashSet<String>,
    /// What each running turn said so far, by turn id: for wakeup run
    /// summaries and auto-archived memories.
    pub digests: HashMap<String, TurnDigest>,
    /// Turn outcomes the store refused (a full disk), oldest first: kept
    /// and written again until it takes them (`codex_events.rs`).
    pub unrecorded: Vec<UnrecordedTurn>,
    /// A task is retrying `unrecorded`.
    pub recording: bool,
    /// Codex was put to sleep and not woken since (`sleep.rs`): its loaded
    /// threads are resumed when next used, not all at once.
    pub sleeping: bool,
    /// A ChatGPT sign-in Codex runs is under way: Codex must not sleep.
    pub signing_in: bool,
}

/// How a turn ended, not yet in the store.
#[derive(Clone)]
pub(crate) struct UnrecordedTurn {
    pub session_id: String,
    pub turn_id: String,
    pub status: crate::model::TurnStatus,
    pub error: Option<String>,
    pub at: i64,
}

#[derive(Default)]
pub(crate) struct TurnDigest {
    /// The person's (or the sender's) message, without Perch's context.
    pub user: Option<String>,
    /// The agent's last message.
    pub agent: Option<String>,
}

/// The supervised child and what it was started from.
pub(crate) struct CodexSlot {
    pub supervisor: Option<Supervisor>,
    pub bin: String,
    /// Why there is no supervisor (no binary found).
    pub startup_error: Option<String>,
    /// Perch's MCP server, attached to every thread of every child.
    pub mcp: Option<McpAttachment>,
    /// The bin/provider settings the child runs with; Settings compares
    /// against them to say a restart is needed.
    pub applied: AppliedCodexSettings,
}

#[derive(Clone, PartialEq)]
pub(crate) struct AppliedCodexSettings {
    pub bin: Option<PathBuf>,
    pub provider: Option<crate::config::ProviderConfig>,
    pub provider_key: bool,
}

pub(crate) struct Active {
    pub turn_id: String,
    pub started_at: i64,
    /// The last sign of progress (an item, a delta, usage): Codex's
    /// retries and warnings are not progress.
    pub last_event: Instant,
    pub stalled: bool,
    /// Since when Codex says it cannot reach the model (reconnecting,
    /// waiting for network), and what it said last; cleared by progress.
    pub unreachable: Option<(Instant, String)>,
    /// Why Perch itself ended the turn: recorded as the turn's error.
    pub end_reason: Option<String>,
    /// The agent's text streamed so far for messages not yet completed,
    /// by item: kept in the transcript when the turn ends without them
    /// (an interruption, a Codex crash), so history shows what was said.
    pub streamed: std::collections::BTreeMap<String, String>,
}

/// How much streamed text of unfinished messages a turn keeps.
pub(crate) const MAX_STREAMED_BYTES: usize = 1 << 20;

pub(crate) struct PendingRequest {
    pub generation: u64,
    pub rpc_id: RequestId,
    pub request: ServerRequest,
}

impl Runtime {
    /// Opens the store and the bus and starts the engine's own tasks, with
    /// no Codex child yet: the API can answer (Codex `starting`) and the MCP
    /// server and the peer link can hold the runtime before
    /// [`Runtime::launch_codex`] starts the child with the MCP attachment.
    pub async fn open(options: RuntimeOptions) -> Result<Arc<Self>> {
        let RuntimeOptions {
            data_dir,
            config,
            config_path,
            project_dirs,
            secrets,
            autostart,
            opener,
            logs_dir,
        } = options;
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
        let store = Store::new(Database::open(&data_dir.join("perch.db"))?)?;
        recover_from_previous_run(&store)?;

        let (events_tx, events_rx) = tokio::sync::mpsc::channel(1024);
        let slot = CodexSlot {
            supervisor: None,
            bin: String::new(),
            startup_error: None,
            mcp: None,
            applied: AppliedCodexSettings {
                bin: None,
                provider: None,
                provider_key: false,
            },
        };
        let runtime = Arc::new_cyclic(|me| Self {
            data_dir,
            config: tokio::sync::watch::channel(config).0,
            config_path,
            project_dirs,
            secrets,
            autostart,
            opener,
            logs_dir,
            usage: Mutex::new(None),
            models: Mutex::new(None),
            last_codex_use: Mutex::new(Instant::now()),
            codex_gate: tokio::sync::RwLock::new(()),
            codex_woken: Arc::new(tokio::sync::Notify::new()),
            observers: RwLock::new(Vec::new()),
            context: RwLock::new(None),
            store,
            bus: EventBus::default(),
            codex: Mutex::new(slot),
            supervisor_events: events_tx,
            codex_launched: tokio::sync::watch::channel(false).0,
            state: Mutex::new(State::default()),
            watchdog: Arc::new(tokio::sync::Notify::new()),
            account: Mutex::new(None),
            me: me.clone(),
        });
        crate::codex_events::spawn_event_loop(Arc::downgrade(&runtime), events_rx);
        spawn_watchdog(Arc::downgrade(&runtime));
        sleep::spawn_sleeper(Arc::downgrade(&runtime));
        Ok(runtime)
    }

    /// Adds a feature that hears every turn end (`seams.rs`).
    pub fn observe_turns(&self, observer: Arc<dyn TurnObserver>) {
        self.observers.write_unpoisoned().push(observer);
    }

    /// Sets the feature that adds context before each new turn (`seams.rs`).
    pub fn provide_context(&self, context: Arc<dyn TurnContext>) {
        *self.context.write_unpoisoned() = Some(context);
    }

    /// Starts the Codex child, with `mcp` attached to every thread (Perch's
    /// own tools). Once: later starts ([`Runtime::start_codex`]) keep it.
    pub async fn launch_codex(&self, mcp: Option<McpAttachment>) -> Result<()> {
        self.lock_codex().mcp = mcp;
        let started = self.start_codex().await;
        self.codex_launched.send_replace(true);
        started
    }

    /// Locates Codex and starts (or, when one runs, replaces) the child with
    /// the current bin and provider settings.
    pub async fn start_codex(&self) -> Result<()> {
        let config = self.config();
        let candidates: Vec<PathBuf> = self
            .project_dirs
            .iter()
            .flat_map(|d| {
                [
                    npm_native_binary(&d.join("tools/codex")),
                    locate::packaged_binary(d),
                ]
            })
            .collect();
        let located = locate::locate(locate::BinarySearch {
            env_bin: config.env.get("PERCH_CODEX_BIN").map(PathBuf::from),
            config_bin: config.codex.bin.clone(),
            project_local: &candidates,
            path: config.env.get("PATH"),
        });
        let provider_key = match &config.provider {
            Some(_) => self.secret(secret_names::PROVIDER_API_KEY).await?,
            None => None,
        };
        let applied = AppliedCodexSettings {
            bin: config.codex.bin.clone(),
            provider: config.provider.clone(),
            provider_key: provider_key.is_some(),
        };
        let (bin, source) = match located {
            Ok(found) => found,
            Err(err) => {
                tracing::error!("{err}");
                let mut slot = self.lock_codex();
                slot.startup_error = Some(err.to_string());
                slot.applied = applied;
                return Ok(());
            }
        };
        tracing::info!("using Codex at {} ({source:?})", bin.display());
        let mcp = self.lock_codex().mcp.clone();
        let spawn = spawn_options(
            &self.data_dir,
            &config,
            bin.clone(),
            provider_key,
            mcp.as_ref(),
        )?;
        let running = self.lock_codex().supervisor.clone();
        match running {
            Some(supervisor) => supervisor.restart_with(spawn).await,
            None => {
                let supervisor =
                    Supervisor::start(SupervisorConfig::new(spawn), self.supervisor_events.clone());
                self.lock_codex().supervisor = Some(supervisor);
            }
        }
        let mut slot = self.lock_codex();
        slot.bin = bin.display().to_string();
        slot.startup_error = None;
        slot.applied = applied;
        Ok(())
    }

    /// A secret from the store, read on a blocking thread (keyrings block).
    pub async fn secret(&self, name: &'static str) -> Result<Option<String>> {
        let secrets = self.secrets.clone();
        tokio::task::spawn_blocking(move || secrets.get(name))
            .await
            .map_err(|e| Error::Config(format!("the secret store task failed: {e}")))?
            .map_err(Error::from)
    }

    pub(crate) fn lock_codex(&self) -> std::sync::MutexGuard<'_, CodexSlot> {
        self.codex.lock_unpoisoned()
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The core's records; features keep theirs in the same [`Database`].
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A snapshot of the current configuration (Settings can change it).
    pub fn config(&self) -> Config {
        self.config.borrow().clone()
    }

    /// Sees every configuration change (Settings).
    pub fn watch_config(&self) -> tokio::sync::watch::Receiver<Config> {
        self.config.subscribe()
    }

    pub(crate) fn replace_config(&self, config: Config) {
        self.config.send_replace(config);
    }

    /// The sessions with a running turn.
    pub fn busy_sessions(&self) -> Vec<String> {
        self.lock().active.keys().cloned().collect()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock_unpoisoned()
    }

    pub(crate) fn supervisor(&self) -> Result<Supervisor> {
        let slot = self.lock_codex();
        slot.supervisor.clone().ok_or_else(|| {
            Error::CodexUnavailable(
                slot.startup_error.clone().unwrap_or_else(|| {
                    "Perch has not started it yet; try again in a moment".into()
                }),
            )
        })
    }

    /// A request to Codex. One that arrives while Codex is starting,
    /// restarting or asleep (it is woken) waits for it (up to the request
    /// timeout) instead of failing.
    pub(crate) async fn codex<M: Method>(&self, params: &M::Params) -> Result<M::Result> {
        let limit = Duration::from_secs(self.config().codex.request_timeout_secs.max(1));
        let mut launched = self.codex_launched.subscribe();
        let _ = tokio::time::timeout(limit, launched.wait_for(|launched| *launched)).await;
        let supervisor = self.supervisor()?;
        let _in_flight = self.codex_gate.read().await;
        self.codex_used();
        self.wake_codex(&supervisor, M::NAME);
        if supervisor.connection().is_err() {
            let _ = tokio::time::timeout(limit, connected(&supervisor)).await;
        }
        let answer = supervisor
            .request::<M>(params)
            .await
            .map_err(Error::from_codex);
        self.codex_used();
        answer
    }

    /// Waits until Codex is ready (or failed), for at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> CodexStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut launched = self.codex_launched.subscribe();
        let _ = tokio::time::timeout_at(deadline, launched.wait_for(|launched| *launched)).await;
        let supervisor = self.lock_codex().supervisor.clone();
        if let Some(supervisor) = supervisor {
            let mut health = supervisor.watch_health();
            let _ = tokio::time::timeout_at(
                deadline,
                health.wait_for(|h| {
                    use perch_codex::HealthState::*;
                    matches!(h.state, Ready | Degraded | Failed | Stopped | Asleep)
                }),
            )
            .await;
        }
        self.codex_status()
    }

    pub fn codex_status(&self) -> CodexStatus {
        let slot = self.lock_codex();
        match &slot.supervisor {
            Some(s) => crate::model::codex_status(&s.health(), slot.bin.clone()),
            None => CodexStatus {
                // Not launched yet (Perch is starting), or no binary was found.
                state: match (&slot.startup_error, *self.codex_launched.borrow()) {
                    (None, false) => CodexState::Starting,
                    _ => CodexState::Failed,
                },
                detail: slot.startup_error.clone(),
                version: None,
                pinned_version: perch_codex::PINNED_CODEX_VERSION.to_string(),
                restarts: 0,
                pid: None,
                bin: String::new(),
            },
        }
    }

    /// The Codex child's pid and generation, for tests and the benchmark.
    pub fn codex_connection(&self) -> Option<(u64, Arc<perch_codex::Connection>)> {
        self.lock_codex()
            .supervisor
            .as_ref()
            .and_then(|s| s.connection().ok())
    }

    pub fn status(&self) -> Result<Status> {
        let active_turns = {
            let state = self.lock();
            state
                .active
                .iter()
                .map(|(session_id, a)| ActiveTurn {
                    session_id: session_id.clone(),
                    turn_id: a.turn_id.clone(),
                    stalled: a.stalled,
                    started_at: a.started_at,
                })
                .collect()
        };
        let config = self.config();
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            codex: self.codex_status(),
            active_turns,
            pending_approvals: self.store.approvals(true)?.len(),
            approval_policy: config.codex.approval_policy,
            model: config.codex.model,
            data_dir: self.data_dir.display().to_string(),
            warnings: self.secrets.warning().into_iter().collect(),
            account: self.known_account(),
        })
    }

    // -------------------------------------------------------------- shutdown

    /// Cancels every pending approval (Codex gets an answer), stops the
    /// child's process group and records running turns as interrupted.
    pub async fn shutdown(&self) {
        let pending: Vec<String> = self.lock().pending.keys().cloned().collect();
        for id in pending {
            if let Err(err) = self
                .resolve_approval(&id, Decision::Cancel, "shutdown")
                .await
            {
                tracing::warn!("could not cancel approval {id} on shutdown: {err}");
            }
        }
        let supervisor = self.lock_codex().supervisor.clone();
        if let Some(supervisor) = supervisor {
            supervisor.shutdown(Duration::from_secs(3)).await;
        }
        crate::codex_events::interrupt_running_turns(self, "Perch stopped while this turn ran");
        // A last try for outcomes the disk refused; what still fails is
        // said (the next start records those turns as interrupted).
        let left = self.record_unrecorded();
        if left > 0 {
            tracing::error!(
                "{left} turn outcomes could not be written before Perch stopped (is the disk full?); the next start records those turns as interrupted"
            );
        }
    }
}

/// After Perch itself stopped mid-turn, or with approvals pending: nothing of
/// that run can still be answered, so say so in the records.
fn recover_from_previous_run(store: &Store) -> Result<()> {
    let now = now_ms();
    for (session_id, turn_id) in store.running_turns()? {
        store.finish_turn(
            &session_id,
            &turn_id,
            TurnStatus::Interrupted,
            Some("Perch stopped while this turn ran"),
            now,
        )?;
    }
    for approval in store.approvals(true)? {
        store.answer_approval(&approval.id, ApprovalStatus::Expired, "perch-restart", now)?;
    }
    Ok(())
}

fn spawn_options(
    data_dir: &Path,
    config: &Config,
    bin: PathBuf,
    provider_key: Option<String>,
    mcp: Option<&McpAttachment>,
) -> Result<SpawnOptions> {
    // The child's whole environment: the person's variables without
    // Perch's, the relay's or anything named like a secret; then what Codex
    // itself needs. Those secrets are kept from the agent's shell commands
    // by Codex's shell environment policy (below).
    let mut env: Vec<(String, String)> = config
        .env
        .inherited()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let mut args = config.codex_overrides(provider_key.is_some());
    let mut hidden_from_shells = vec![McpAttachment::TOKEN_ENV.to_string()];
    if let Some(mcp) = mcp {
        args.extend(mcp.codex_overrides());
        env.push((McpAttachment::TOKEN_ENV.to_string(), mcp.token.clone()));
    }
    if let Some(provider) = &config.provider {
        let name = provider.key_env().to_string();
        // The stored key (Settings), else the variable the person named.
        let key = provider_key.or_else(|| config.env.get(&name).map(String::from));
        if let Some(key) = key {
            env.push((name.clone(), key));
        }
        hidden_from_shells.push(name);
    }
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let hidden: Vec<String> = hidden_from_shells.iter().map(|n| quote(n)).collect();
    args.extend([
        "-c".to_string(),
        format!("shell_environment_policy.exclude=[{}]", hidden.join(", ")),
        "-c".to_string(),
        "shell_environment_policy.ignore_default_excludes=false".to_string(),
    ]);
    let codex_home = match &config.codex.home {
        Some(home) => {
            // One Perch makes is the person's alone (an existing one, maybe
            // their own, is left as it is).
            stdx::private::create_dir(home)
                .map_err(|e| Error::io(format!("creating {}", home.display()), e))?;
            env.push(("CODEX_HOME".to_string(), home.display().to_string()));
            home.clone()
        }
        None => config.codex_home().ok_or_else(|| {
            Error::Config(
                "no home directory to find ~/.codex in; set `[codex] home` or CODEX_HOME".into(),
            )
        })?,
    };
    // Codex will not set up its sandbox helpers under the temp dir; give the
    // child its own TMPDIR when CODEX_HOME sits below the inherited one.
    let inherited_tmp = std::env::temp_dir();
    if codex_home.starts_with(&inherited_tmp) {
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        if codex_home.starts_with(&tmp) {
            return Err(Error::Config(format!(
                "CODEX_HOME {} is inside Perch's temp dir {}; move one of them",
                codex_home.display(),
                tmp.display()
            )));
        }
        env.push(("TMPDIR".to_string(), tmp.display().to_string()));
    }
    Ok(SpawnOptions {
        bin,
        args,
        env,
        cwd: dirs::home_dir(),
        request_timeout: Duration::from_secs(config.codex.request_timeout_secs.max(1)),
    })
}

/// Resolves once the supervisor has a live child, or has given up.
async fn connected(supervisor: &Supervisor) {
    use perch_codex::HealthState::*;
    let mut health = supervisor.watch_health();
    loop {
        if supervisor.connection().is_ok()
            || matches!(health.borrow_and_update().state, Failed | Stopped)
        {
            return;
        }
        if health.changed().await.is_err() {
            return;
        }
    }
}

/// Marks turns stalled when no event arrived for `stall_timeout_secs`. It
/// sleeps until the earliest deadline and is woken when a turn starts: no
/// polling.
fn spawn_watchdog(runtime: Weak<Runtime>) {
    tokio::spawn(async move {
        loop {
            let Some(rt) = runtime.upgrade() else { return };
            let codex = rt.config().codex;
            let limit = Duration::from_secs(codex.stall_timeout_secs.max(1));
            // 0: never end a turn for an unreachable model.
            let unreachable_limit = (codex.unreachable_timeout_secs > 0)
                .then(|| Duration::from_secs(codex.unreachable_timeout_secs));
            let mut stalled = Vec::new();
            let mut to_end = Vec::new();
            let next_deadline = {
                let mut state = rt.lock();
                let now = Instant::now();
                let mut next: Option<Instant> = None;
                let mut wake_at = |deadline: Instant| {
                    next = Some(next.map_or(deadline, |n: Instant| n.min(deadline)));
                };
                for (session_id, active) in state.active.iter_mut() {
                    if let (Some((since, said)), Some(bound), None) =
                        (&active.unreachable, unreachable_limit, &active.end_reason)
                    {
                        if *since + bound <= now {
                            let reason = format!(
                                "the model endpoint could not be reached for {} s ({said}); Perch ended the turn (`unreachable_timeout_secs` in [codex])",
                                bound.as_secs()
                            );
                            active.end_reason = Some(reason.clone());
                            to_end.push((session_id.clone(), active.turn_id.clone(), reason));
                        } else {
                            wake_at(*since + bound);
                        }
                    }
                    if active.stalled {
                        continue;
                    }
                    let deadline = active.last_event + limit;
                    if deadline <= now {
                        active.stalled = true;
                        stalled.push((
                            session_id.clone(),
                            active.turn_id.clone(),
                            now - active.last_event,
                        ));
                    } else {
                        wake_at(deadline);
                    }
                }
                next
            };
            for (session_id, turn_id, reason) in to_end {
                tracing::warn!("ending turn {turn_id} in session {session_id}: {reason}");
                let me = rt.me.clone();
                tokio::spawn(async move {
                    let Some(rt) = me.upgrade() else { return };
                    if let Err(err) = rt.interrupt(&session_id).await {
                        tracing::warn!("ending turn {turn_id}: {err}");
                    }
                });
            }
            if !stalled.is_empty() {
                // Silence may be a hung child: ask it something cheap.
                if let Ok(supervisor) = rt.supervisor() {
                    if let Ok((generation, _)) = supervisor.connection() {
                        supervisor.check_alive(generation);
                    }
                }
            }
            for (session_id, turn_id, silent) in stalled {
                tracing::warn!(
                    "turn {turn_id} in session {session_id} stalled: no event for {silent:?}"
                );
                rt.bus.publish(EventKind::TurnStalled {
                    session_id,
                    turn_id,
                    silent_for_ms: silent.as_millis() as u64,
                });
            }
            let watchdog = rt.watchdog.clone();
            drop(rt);
            let woken = watchdog.notified();
            match next_deadline {
                Some(deadline) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline.into()) => {}
                        _ = woken => {}
                    }
                }
                None => woken.await,
            }
        }
    });
}

/// The first line of `text`, cut to `max` characters: a title or preview.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    stdx::ellipsize(text.lines().next().unwrap_or_default(), max)
}

/// An id for Perch's own records.
pub(crate) fn new_id(prefix: &str) -> Result<String> {
    random_hex(12)
        .map(|hex| format!("{prefix}_{hex}"))
        .map_err(|e| Error::io("making an id", e))
}
