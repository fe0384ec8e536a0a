//! The runtime: sessions and turns over the supervised Codex child, durable
//! approvals, and the stall watchdog. Clients (API, desktop shell) call its
//! methods and subscribe to its event bus; it never knows who they are.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::host::{secret_names, Autostart, EmbeddingsClient, SecretStore};
use crate::model::*;
use crate::store::Store;
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
    /// The rotating log files, if logs go to files.
    pub logs_dir: Option<PathBuf>,
    /// An MCP server attached to every thread (Perch's own tools).
    pub mcp: Option<McpAttachment>,
    /// The embeddings endpoint's client; `None` keeps memory search full text.
    pub embeddings: Option<Arc<dyn EmbeddingsClient>>,
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
    config: RwLock<Config>,
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) project_dirs: Vec<PathBuf>,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) autostart: Option<Arc<dyn Autostart>>,
    pub(crate) logs_dir: Option<PathBuf>,
    mcp: Option<McpAttachment>,
    pub(crate) embeddings: Option<Arc<dyn EmbeddingsClient>>,
    pub(crate) store: Store,
    pub(crate) bus: EventBus,
    pub(crate) codex: Mutex<CodexSlot>,
    /// Kept to start a supervisor later, when the first start found no binary.
    supervisor_events: tokio::sync::mpsc::Sender<SupervisorEvent>,
    pub(crate) state: Mutex<State>,
    pub(crate) watchdog: Arc<tokio::sync::Notify>,
    /// For tasks the runtime spawns about itself (timeouts, resumes).
    pub(crate) me: Weak<Runtime>,
    /// Wakes the wakeup scheduler when wakeups change.
    pub(crate) scheduler_wake: Arc<tokio::sync::Notify>,
    /// Wakes the embeddings backfill (`embeddings.rs`).
    pub(crate) embed_wake: Arc<tokio::sync::Notify>,
    pub(crate) scheduler_stop: tokio::sync::watch::Sender<bool>,
    /// The session peer messages go to, once the peer network chose it.
    peer_session: Mutex<Option<String>>,
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
    pub last_event: Instant,
    pub stalled: bool,
}

pub(crate) struct PendingRequest {
    pub generation: u64,
    pub rpc_id: RequestId,
    pub request: ServerRequest,
}

impl Runtime {
    pub async fn start(options: RuntimeOptions) -> Result<Arc<Self>> {
        let RuntimeOptions {
            data_dir,
            config,
            config_path,
            project_dirs,
            secrets,
            autostart,
            logs_dir,
            mcp,
            embeddings,
        } = options;
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
        let store = Store::open(&data_dir.join("perch.db"))?;
        recover_from_previous_run(&store)?;

        let (events_tx, events_rx) = tokio::sync::mpsc::channel(1024);
        let slot = CodexSlot {
            supervisor: None,
            bin: String::new(),
            startup_error: None,
            applied: AppliedCodexSettings {
                bin: None,
                provider: None,
                provider_key: false,
            },
        };
        let runtime = Arc::new_cyclic(|me| Self {
            data_dir,
            config: RwLock::new(config),
            config_path,
            project_dirs,
            secrets,
            autostart,
            logs_dir,
            mcp,
            embeddings,
            store,
            bus: EventBus::default(),
            codex: Mutex::new(slot),
            supervisor_events: events_tx,
            state: Mutex::new(State::default()),
            watchdog: Arc::new(tokio::sync::Notify::new()),
            me: me.clone(),
            scheduler_wake: Arc::new(tokio::sync::Notify::new()),
            embed_wake: Arc::new(tokio::sync::Notify::new()),
            scheduler_stop: tokio::sync::watch::channel(false).0,
            peer_session: Mutex::new(None),
        });
        crate::codex_events::spawn_event_loop(Arc::downgrade(&runtime), events_rx);
        runtime.start_codex().await?;
        spawn_watchdog(Arc::downgrade(&runtime));
        crate::embeddings::spawn_backfill(Arc::downgrade(&runtime), runtime.embed_wake.clone());
        runtime.embed_wake.notify_one();
        Ok(runtime)
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
        let located = locate::locate(
            std::env::var_os("PERCH_CODEX_BIN").map(PathBuf::from),
            config.codex.bin.clone(),
            &candidates,
        );
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
        let spawn = spawn_options(
            &self.data_dir,
            &config,
            bin.clone(),
            provider_key,
            self.mcp.as_ref(),
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
    pub(crate) async fn secret(&self, name: &'static str) -> Result<Option<String>> {
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

    /// A snapshot of the current configuration (Settings can change it).
    pub fn config(&self) -> Config {
        self.config.read_unpoisoned().clone()
    }

    pub(crate) fn replace_config(&self, config: Config) {
        *self.config.write_unpoisoned() = config;
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock_unpoisoned()
    }

    pub(crate) fn supervisor(&self) -> Result<Supervisor> {
        let slot = self.lock_codex();
        slot.supervisor
            .clone()
            .ok_or_else(|| Error::CodexUnavailable(slot.startup_error.clone().unwrap_or_default()))
    }

    /// A request to Codex. One that arrives while Codex is starting or
    /// restarting waits for it (up to the request timeout) instead of failing.
    pub(crate) async fn codex<M: Method>(&self, params: &M::Params) -> Result<M::Result> {
        let supervisor = self.supervisor()?;
        if supervisor.connection().is_err() {
            use perch_codex::HealthState::*;
            let mut health = supervisor.watch_health();
            let limit = Duration::from_secs(self.config().codex.request_timeout_secs.max(1));
            let _ = tokio::time::timeout(
                limit,
                health.wait_for(|h| !matches!(h.state, Starting | Restarting)),
            )
            .await;
        }
        supervisor
            .request::<M>(params)
            .await
            .map_err(Error::from_codex)
    }

    /// Waits until Codex is ready (or failed), for at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> CodexStatus {
        let supervisor = self.lock_codex().supervisor.clone();
        if let Some(supervisor) = supervisor {
            let mut health = supervisor.watch_health();
            let _ = tokio::time::timeout(
                timeout,
                health.wait_for(|h| {
                    use perch_codex::HealthState::*;
                    matches!(h.state, Ready | Degraded | Failed | Stopped)
                }),
            )
            .await;
        }
        self.codex_status()
    }

    pub fn codex_status(&self) -> CodexStatus {
        let slot = self.lock_codex();
        match &slot.supervisor {
            Some(s) => CodexStatus::from_health(&s.health(), slot.bin.clone()),
            None => CodexStatus {
                state: perch_codex::HealthState::Failed,
                detail: slot.startup_error.clone(),
                version: None,
                pinned_version: perch_codex::PINNED_CODEX_VERSION,
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
            version: env!("CARGO_PKG_VERSION"),
            codex: self.codex_status(),
            active_turns,
            pending_approvals: self.store.approvals(true)?.len(),
            approval_policy: config.codex.approval_policy,
            model: config.codex.model,
            data_dir: self.data_dir.display().to_string(),
            warnings: self.secrets.warning().into_iter().collect(),
        })
    }

    // -------------------------------------------------------------- sessions

    fn with_active(&self, mut session: Session) -> Session {
        session.active_turn_id = self
            .lock()
            .active
            .get(&session.id)
            .map(|a| a.turn_id.clone());
        session
    }

    pub fn sessions(&self, archived: bool, query: Option<&str>) -> Result<Vec<Session>> {
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        Ok(self
            .store
            .sessions(archived, query)?
            .into_iter()
            .map(|s| self.with_active(s))
            .collect())
    }

    pub fn session(&self, id: &str) -> Result<Session> {
        let session = self
            .store
            .session(id)?
            .ok_or_else(|| Error::NotFound(format!("no session {id:?}")))?;
        Ok(self.with_active(session))
    }

    pub fn latest_session(&self) -> Result<Option<Session>> {
        Ok(self.store.latest_session()?.map(|s| self.with_active(s)))
    }

    fn thread_overrides(&self, cwd: Option<String>, model: Option<String>) -> ThreadOverrides {
        let (approval_policy, sandbox) = self.config().codex.approval_policy.codex();
        ThreadOverrides {
            cwd: cwd.or_else(|| self.default_cwd()),
            model,
            approval_policy: Some(approval_policy),
            sandbox: Some(sandbox),
            ..ThreadOverrides::default()
        }
    }

    fn default_cwd(&self) -> Option<String> {
        self.config()
            .codex
            .cwd
            .or_else(dirs::home_dir)
            .map(|p| p.display().to_string())
    }

    pub async fn create_session(&self, new: NewSession) -> Result<Session> {
        let name = validate_name(new.name)?;
        let model = validate_word("model", new.model)?;
        let effort = validate_word("effort", new.effort.or_else(|| self.config().codex.effort))?;
        if let Some(cwd) = &new.cwd {
            if !Path::new(cwd).is_dir() {
                return Err(Error::Invalid(format!("cwd {cwd:?} is not a directory")));
            }
        }
        let params = ThreadStartParams {
            overrides: self.thread_overrides(new.cwd.clone(), model.clone()),
        };
        let result = self.codex::<ThreadStart>(&params).await?;
        let now = now_ms();
        let session = Session {
            id: result.thread.id.clone(),
            name,
            preview: String::new(),
            pinned: false,
            archived: false,
            created_at: now,
            last_activity_at: now,
            model: result.model.or(model),
            effort: effort.clone().or(result.reasoning_effort),
            cwd: result.thread.cwd.or(new.cwd),
            active_turn_id: None,
            token_usage: None,
        };
        self.store.insert_session(&session)?;
        {
            let mut state = self.lock();
            state.loaded.insert(session.id.clone());
            // thread/start takes no effort: the first turn carries it.
            if effort.is_some() {
                state.settings_changed.insert(session.id.clone());
            }
        }
        if let Some(name) = &session.name {
            self.set_codex_name(&session.id, name).await;
        }
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    async fn set_codex_name(&self, thread_id: &str, name: &str) {
        let params = ThreadNameSetParams {
            thread_id: thread_id.into(),
            name: name.into(),
        };
        if let Err(err) = self.codex::<ThreadNameSet>(&params).await {
            tracing::warn!("could not name thread {thread_id} in Codex: {err}");
        }
    }

    /// Loads the thread into the current child if it is not loaded yet.
    pub(crate) async fn ensure_loaded(&self, session: &Session) -> Result<()> {
        if self.lock().loaded.contains(&session.id) {
            return Ok(());
        }
        let params = ThreadResumeParams {
            thread_id: session.id.clone(),
            overrides: self.thread_overrides(session.cwd.clone(), session.model.clone()),
        };
        self.codex::<ThreadResume>(&params).await?;
        self.lock().loaded.insert(session.id.clone());
        Ok(())
    }

    pub async fn update_session(&self, id: &str, patch: SessionPatch) -> Result<Session> {
        let mut session = self.session(id)?;
        if let Some(name) = patch.name {
            let name = validate_name(Some(name))?;
            if let Some(name) = &name {
                self.set_codex_name(id, name).await;
            }
            session.name = name;
        }
        if let Some(pinned) = patch.pinned {
            session.pinned = pinned;
        }
        if let Some(model) = patch.model {
            session.model = validate_word("model", Some(model))?;
            self.lock().settings_changed.insert(id.to_string());
        }
        if let Some(effort) = patch.effort {
            session.effort = validate_word("effort", Some(effort))?;
            self.lock().settings_changed.insert(id.to_string());
        }
        if let Some(archived) = patch.archived.filter(|a| *a != session.archived) {
            if archived && session.active_turn_id.is_some() {
                return Err(Error::Conflict(
                    "a turn is running in this session; interrupt it before archiving".into(),
                ));
            }
            let params = ThreadIdParams {
                thread_id: id.into(),
            };
            let result = if archived {
                self.codex::<ThreadArchive>(&params).await
            } else {
                self.codex::<ThreadUnarchive>(&params).await
            };
            if let Err(err) = result {
                tracing::warn!(
                    "Codex could not (un)archive thread {id}: {err}; keeping Perch's flag"
                );
            }
            self.lock().loaded.remove(id);
            session.archived = archived;
        }
        self.store.update_session(&session)?;
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    pub async fn fork_session(&self, id: &str) -> Result<Session> {
        let source = self.session(id)?;
        let params = ThreadResumeParams {
            thread_id: id.into(),
            overrides: self.thread_overrides(source.cwd.clone(), source.model.clone()),
        };
        let result = self.codex::<ThreadFork>(&params).await?;
        let now = now_ms();
        let label = source
            .name
            .clone()
            .unwrap_or_else(|| first_line(&source.preview, 60));
        let session = Session {
            id: result.thread.id,
            name: Some(format!("{label} (fork)")),
            preview: source.preview.clone(),
            pinned: false,
            archived: false,
            created_at: now,
            last_activity_at: now,
            model: result.model.or(source.model),
            effort: source.effort,
            cwd: result.thread.cwd.or(source.cwd),
            active_turn_id: None,
            token_usage: None,
        };
        self.store.insert_session(&session)?;
        self.lock().loaded.insert(session.id.clone());
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    pub async fn compact_session(&self, id: &str) -> Result<()> {
        let session = self.session(id)?;
        if session.active_turn_id.is_some() {
            return Err(Error::Conflict(
                "a turn is running; compact when it is done".into(),
            ));
        }
        self.ensure_loaded(&session).await?;
        self.codex::<ThreadCompactStart>(&ThreadIdParams {
            thread_id: id.into(),
        })
        .await?;
        Ok(())
    }

    pub async fn history(&self, id: &str) -> Result<Vec<HistoryTurn>> {
        self.session(id)?;
        let mut turns = Vec::new();
        let mut cursor = None;
        loop {
            let params = ThreadTurnsListParams {
                thread_id: id.into(),
                cursor: cursor.clone(),
                limit: Some(100),
                items_view: "full",
                sort_direction: "asc",
            };
            let page = match while_settling(|| self.codex::<ThreadTurnsList>(&params)).await {
                Ok(page) => page,
                // A thread with no message yet has no rollout to list.
                Err(Error::Codex(perch_codex::Error::Server { message, .. }))
                    if message.contains("not materialized") =>
                {
                    break;
                }
                Err(other) => return Err(other),
            };
            turns.extend(page.data);
            cursor = page.next_cursor;
            if cursor.is_none() || turns.len() >= MAX_HISTORY_TURNS {
                break;
            }
        }
        Ok(turns
            .into_iter()
            .map(|t| HistoryTurn {
                id: t.id,
                status: serde_json::to_value(t.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                error: t.error.map(|e| e.message),
                items: t
                    .items
                    .into_iter()
                    .map(|mut item| {
                        crate::context::strip_context(&mut item);
                        item
                    })
                    .collect(),
            })
            .collect())
    }

    // ----------------------------------------------------------------- turns

    /// The memories relevant to `text` and the open plan items, as the
    /// `<perch_context>` block (see `context.rs`); marks those memories used.
    async fn turn_context(&self, text: &str) -> Option<String> {
        let config = self.config().memory;
        if !config.context || config.context_tokens == 0 {
            return None;
        }
        let vector = self.query_vector(text).await;
        let memories = self
            .store
            .search_memories(&crate::memory::MemorySearch {
                text,
                limit: 20,
                vector: vector.as_ref().map(|(m, v)| (m.as_str(), v.as_slice())),
                ..Default::default()
            })
            .map(|page| page.memories)
            .unwrap_or_else(|err| {
                tracing::warn!("searching memories for the turn's context: {err}");
                Vec::new()
            });
        let plans = self.store.plans().unwrap_or_default();
        let (block, used) =
            crate::context::context_block(&memories, &plans, config.context_tokens)?;
        if let Err(err) = self.store.touch_memories(&used, now_ms()) {
            tracing::warn!("marking memories used: {err}");
        }
        Some(block)
    }

    /// The session peer messages go to (set by the peer network).
    pub fn peer_session(&self) -> Option<String> {
        self.peer_session.lock_unpoisoned().clone()
    }

    pub fn set_peer_session(&self, id: Option<String>) {
        *self.peer_session.lock_unpoisoned() = id;
    }

    /// Sends a message: `turn/steer` while a turn runs, else `turn/start`.
    pub async fn send_message(&self, id: &str, text: &str) -> Result<Sent> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::Invalid(format!(
                "the message is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let session = self.session(id)?;
        if session.archived {
            return Err(Error::Conflict(
                "this session is archived; unarchive it to continue it".into(),
            ));
        }
        self.ensure_loaded(&session).await?;
        let input = vec![UserInput::Text {
            text: text.to_string(),
        }];
        if let Some(active) = session.active_turn_id.clone() {
            let params = TurnSteerParams {
                thread_id: id.into(),
                expected_turn_id: active,
                input: input.clone(),
            };
            match self.codex::<TurnSteer>(&params).await {
                Ok(result) => {
                    self.touch_session(id, Some(text));
                    return Ok(Sent {
                        turn_id: result.turn_id,
                        mode: SendMode::Steer,
                    });
                }
                // The turn ended between our look and the steer: start a new one.
                Err(Error::Codex(perch_codex::Error::Server { .. })) => {}
                Err(other) => return Err(other),
            }
        }
        let changed = self.lock().settings_changed.remove(id);
        let (model, effort) = if changed {
            (session.model.clone(), session.effort.clone())
        } else {
            (None, None)
        };
        let mut input = input;
        if let Some(context) = self.turn_context(text).await {
            input.insert(0, UserInput::Text { text: context });
        }
        let params = TurnStartParams {
            thread_id: id.into(),
            input,
            model,
            effort,
        };
        let result = self.codex::<TurnStart>(&params).await?;
        let turn_id = result.turn.id;
        self.register_turn(id, &turn_id)?;
        self.touch_session(id, Some(text));
        Ok(Sent {
            turn_id,
            mode: SendMode::Start,
        })
    }

    /// Marks a turn as running, unless its completion was already processed.
    pub(crate) fn register_turn(&self, session_id: &str, turn_id: &str) -> Result<bool> {
        let mut state = self.lock();
        if state
            .active
            .get(session_id)
            .is_some_and(|a| a.turn_id == turn_id)
        {
            return Ok(false);
        }
        let now = now_ms();
        if self.store.begin_turn(session_id, turn_id, now)? != "inProgress" {
            return Ok(false);
        }
        state.active.insert(
            session_id.to_string(),
            Active {
                turn_id: turn_id.to_string(),
                started_at: now,
                last_event: Instant::now(),
                stalled: false,
            },
        );
        drop(state);
        self.watchdog.notify_one();
        self.bus.publish(EventKind::TurnStarted {
            session_id: session_id.into(),
            turn_id: turn_id.into(),
        });
        Ok(true)
    }

    /// Records activity (and the first message as preview) on a session.
    pub(crate) fn touch_session(&self, id: &str, first_text: Option<&str>) {
        let Ok(Some(mut session)) = self.store.session(id) else {
            return;
        };
        session.last_activity_at = now_ms();
        if session.preview.is_empty() {
            if let Some(text) = first_text {
                session.preview = first_line(text, 140);
            }
        }
        if self.store.update_session(&session).is_ok() {
            let session = self.with_active(session);
            self.bus.publish(EventKind::SessionUpdated { session });
        }
    }

    pub async fn interrupt(&self, id: &str) -> Result<String> {
        let session = self.session(id)?;
        let turn_id = session
            .active_turn_id
            .ok_or_else(|| Error::Conflict("no turn is running in this session".into()))?;
        let params = TurnInterruptParams {
            thread_id: id.into(),
            turn_id: turn_id.clone(),
        };
        while_settling(|| self.codex::<TurnInterrupt>(&params)).await?;
        Ok(turn_id)
    }

    // --------------------------------------------------------------- account

    pub async fn account(&self) -> Result<serde_json::Value> {
        self.codex::<AccountRead>(&AccountReadParams {
            refresh_token: false,
        })
        .await
    }

    pub async fn login(&self, params: LoginParams) -> Result<serde_json::Value> {
        if let LoginParams::ApiKey { api_key } = &params {
            if api_key.trim().is_empty() {
                return Err(Error::Invalid("the API key is empty".into()));
            }
        }
        self.codex::<AccountLoginStart>(&params).await
    }

    pub async fn models(&self) -> Result<Vec<ModelInfo>> {
        let page = self.codex::<ModelList>(&ModelListParams::default()).await?;
        Ok(page
            .data
            .into_iter()
            .filter(|m| !m.hidden)
            .map(|m| ModelInfo {
                id: m.id,
                display_name: m.display_name,
                efforts: m
                    .supported_reasoning_efforts
                    .into_iter()
                    .map(|e| e.reasoning_effort)
                    .collect(),
                default_effort: m.default_reasoning_effort,
                is_default: m.is_default,
            })
            .collect())
    }

    // -------------------------------------------------------------- shutdown

    /// Cancels every pending approval (Codex gets an answer), stops the
    /// child's process group and records running turns as interrupted.
    pub async fn shutdown(&self) {
        self.scheduler_stop.send_replace(true);
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
            "interrupted",
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
    let mut env = Vec::new();
    let mut args = config.codex_overrides(provider_key.is_some());
    if let Some(mcp) = mcp {
        args.extend(mcp.codex_overrides());
        env.push((McpAttachment::TOKEN_ENV.to_string(), mcp.token.clone()));
    }
    if let (Some(provider), Some(key)) = (&config.provider, &provider_key) {
        env.push((provider.key_env().to_string(), key.clone()));
    }
    let codex_home = match &config.codex.home {
        Some(home) => {
            std::fs::create_dir_all(home)
                .map_err(|e| Error::io(format!("creating {}", home.display()), e))?;
            env.push(("CODEX_HOME".to_string(), home.display().to_string()));
            home.clone()
        }
        None => std::env::var_os("CODEX_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".codex")))
            .unwrap_or_default(),
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

/// Marks turns stalled when no event arrived for `stall_timeout_secs`. It
/// sleeps until the earliest deadline and is woken when a turn starts: no
/// polling.
fn spawn_watchdog(runtime: Weak<Runtime>) {
    tokio::spawn(async move {
        loop {
            let Some(rt) = runtime.upgrade() else { return };
            let limit = Duration::from_secs(rt.config().codex.stall_timeout_secs.max(1));
            let mut stalled = Vec::new();
            let next_deadline = {
                let mut state = rt.lock();
                let now = Instant::now();
                let mut next: Option<Instant> = None;
                for (session_id, active) in state.active.iter_mut().filter(|(_, a)| !a.stalled) {
                    let deadline = active.last_event + limit;
                    if deadline <= now {
                        active.stalled = true;
                        stalled.push((
                            session_id.clone(),
                            active.turn_id.clone(),
                            now - active.last_event,
                        ));
                    } else {
                        next = Some(next.map_or(deadline, |n| n.min(deadline)));
                    }
                }
                next
            };
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

fn validate_name(name: Option<String>) -> Result<Option<String>> {
    let Some(name) = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "the name contains control characters".into(),
        ));
    }
    Ok(Some(name))
}

fn validate_word(what: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.len() > 100 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(format!(
            "{what} {value:?} is not a valid {what} name"
        )));
    }
    Ok(Some(value))
}

/// An id for Perch's own records.
pub(crate) fn new_id(prefix: &str) -> Result<String> {
    random_hex(12)
        .map(|hex| format!("{prefix}_{hex}"))
        .map_err(|e| Error::io("making an id", e))
}
