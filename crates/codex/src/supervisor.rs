//! Keeps one `codex app-server` child alive: version preflight, handshake,
//! health states, restart with exponential backoff, and a bounded shutdown.
//!
//! Invariants:
//! - At most one child runs at a time; each gets a new `generation`, and every
//!   message is tagged with the generation of the child that sent it, so the
//!   runtime can tell answers for a dead child from answers for the live one.
//! - Events go out on one bounded channel in the order they happened
//!   (`Health`, `Ready`, the child's messages, its `Closed`, the next `Health`).
//! - After `max_consecutive_failures` starts that fail or die before
//!   `stable_after`, the state is `Failed` and no further restart is tried.

use crate::locate;
use crate::protocol::{
    ClientInfo, EmptyParams, Initialize, InitializeCapabilities, InitializeParams, Method,
    ThreadLoadedList, NEXT_CODEX_VERSION, PINNED_CODEX_VERSION,
};
use crate::transport::{Connection, Error, ServerMessage, SpawnOptions};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stdx::MutexExt;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub spawn: SpawnOptions,
    pub client_name: String,
    pub client_version: String,
    pub handshake_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub max_consecutive_failures: u32,
    /// A child that lived this long resets the failure count.
    pub stable_after: Duration,
    /// After a request timed out, a cheap request must be answered within
    /// this long, or the child is taken as hung, killed and restarted.
    pub health_timeout: Duration,
}

impl SupervisorConfig {
    pub fn new(spawn: SpawnOptions) -> Self {
        Self {
            spawn,
            client_name: "perch".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            handshake_timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_consecutive_failures: 6,
            stable_after: Duration::from_secs(60),
            health_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthState {
    Starting,
    Ready,
    /// Running, with something a person should know (an untested version).
    Degraded,
    Restarting,
    Failed,
    Stopped,
    /// Stopped on purpose while idle ([`Supervisor::sleep`]); the next
    /// [`Supervisor::wake`] starts a child again.
    Asleep,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub state: HealthState,
    pub detail: Option<String>,
    pub version: Option<String>,
    pub restarts: u32,
    pub pid: Option<u32>,
}

#[derive(Debug)]
pub enum SupervisorEvent {
    Health(Health),
    /// A child finished its handshake; `restarted` when it replaces a dead one.
    Ready {
        generation: u64,
        restarted: bool,
    },
    Message {
        generation: u64,
        message: ServerMessage,
    },
}

#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    config: SupervisorConfig,
    /// What the next child is started with; [`Supervisor::restart_with`] replaces it.
    spawn: Mutex<SpawnOptions>,
    /// The running child is being replaced on purpose: not a failure.
    replacing: std::sync::atomic::AtomicBool,
    /// The running child is being stopped to sleep: not a failure.
    falling_asleep: std::sync::atomic::AtomicBool,
    /// Stay without a child until woken.
    asleep: watch::Sender<bool>,
    /// Children started so far; kept across a revived run loop so
    /// generations never repeat.
    generation: std::sync::atomic::AtomicU64,
    current: Mutex<Option<(u64, Arc<Connection>)>>,
    health: watch::Sender<Health>,
    shutdown: watch::Sender<bool>,
    events: mpsc::Sender<SupervisorEvent>,
    finished: tokio::sync::Notify,
    /// A health check is running.
    probing: std::sync::atomic::AtomicBool,
    /// The child of this generation did not answer a health check: why it
    /// was killed, said as its exit.
    hung: Mutex<Option<(u64, String)>>,
}

impl Supervisor {
    /// Starts supervising in the background. Events go to `events`.
    pub fn start(config: SupervisorConfig, events: mpsc::Sender<SupervisorEvent>) -> Self {
        let initial = Health {
            state: HealthState::Starting,
            detail: None,
            version: None,
            restarts: 0,
            pid: None,
        };
        let inner = Arc::new(Inner {
            spawn: Mutex::new(config.spawn.clone()),
            replacing: std::sync::atomic::AtomicBool::new(false),
            falling_asleep: std::sync::atomic::AtomicBool::new(false),
            asleep: watch::channel(false).0,
            generation: std::sync::atomic::AtomicU64::new(0),
            config,
            current: Mutex::new(None),
            health: watch::channel(initial).0,
            shutdown: watch::channel(false).0,
            events,
            finished: tokio::sync::Notify::new(),
            probing: std::sync::atomic::AtomicBool::new(false),
            hung: Mutex::new(None),
        });
        let supervisor = Self { inner };
        supervisor.spawn_run();
        supervisor
    }

    fn spawn_run(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            inner.run().await;
            inner.finished.notify_waiters();
        });
    }

    /// Replaces the child with one started from `spawn` (a new binary or
    /// provider). Also revives a supervisor that gave up (`failed`).
    pub async fn restart_with(&self, spawn: SpawnOptions) {
        *self.inner.spawn.lock_unpoisoned() = spawn;
        let current = self.inner.current.lock_unpoisoned().clone();
        match current {
            Some((_, connection)) => {
                self.inner
                    .replacing
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                connection.shutdown(Duration::from_secs(3)).await;
            }
            None if self.health().state == HealthState::Failed => self.spawn_run(),
            // Starting or between restarts: the loop picks up the new options.
            None => {}
        }
    }

    pub fn health(&self) -> Health {
        self.inner.health.borrow().clone()
    }

    /// Stops the child to save its memory while nothing needs it (SIGTERM,
    /// SIGKILL after `grace`); health becomes `asleep` and no child starts
    /// until [`Supervisor::wake`]. Its end is not a failure.
    pub async fn sleep(&self, grace: Duration) {
        // Taken at once: no request goes to the child that is stopping.
        let current = self.inner.current.lock_unpoisoned().take();
        let Some((_, connection)) = current else {
            return;
        };
        self.inner.asleep.send_replace(true);
        self.inner
            .falling_asleep
            .store(true, std::sync::atomic::Ordering::SeqCst);
        connection.shutdown(grace).await;
    }

    /// Starts a child again after [`Supervisor::sleep`] (at once, or as
    /// soon as the sleeping one has exited); nothing when awake.
    pub fn wake(&self) {
        self.inner.asleep.send_replace(false);
    }

    /// Asleep, or falling asleep: the next request must [`Supervisor::wake`] it.
    pub fn is_asleep(&self) -> bool {
        *self.inner.asleep.borrow()
    }

    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.inner.health.subscribe()
    }

    /// The live child and its generation, if one is ready.
    pub fn connection(&self) -> Result<(u64, Arc<Connection>), Error> {
        self.inner
            .current
            .lock_unpoisoned()
            .clone()
            .ok_or(Error::Closed)
    }

    /// A request to the live child. One that times out makes the
    /// supervisor check the child is alive ([`Supervisor::check_alive`]).
    pub async fn request<M: Method>(&self, params: &M::Params) -> Result<M::Result, Error> {
        let (generation, connection) = self.connection()?;
        let answer = connection.request::<M>(params).await;
        if matches!(answer, Err(Error::Timeout { .. })) {
            self.check_alive(generation);
        }
        answer
    }

    /// Asks the child of `generation` a cheap question in the background.
    /// A child that does not answer within `health_timeout` is hung (stopped,
    /// deadlocked): it is killed, and restarted as after a crash, with its
    /// threads resumed by the runtime.
    pub fn check_alive(&self, generation: u64) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let Some((current, connection)) = inner.current.lock_unpoisoned().clone() else {
                return;
            };
            if current != generation
                || inner
                    .probing
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                return;
            }
            let limit = inner.config.health_timeout;
            let answer = tokio::time::timeout(
                limit,
                connection.request::<ThreadLoadedList>(&EmptyParams {}),
            )
            .await;
            if !matches!(answer, Ok(Ok(_))) {
                let reason = format!(
                    "Codex stopped answering (no reply to a health check within {} s); Perch restarted it",
                    limit.as_secs()
                );
                tracing::error!("{reason}");
                *inner.hung.lock_unpoisoned() = Some((generation, reason));
                connection.kill();
            }
            inner
                .probing
                .store(false, std::sync::atomic::Ordering::SeqCst);
        });
    }

    /// Why the child of `generation` was killed as hung, if it was.
    pub fn hung(&self, generation: u64) -> Option<String> {
        self.inner.hung(generation)
    }

    /// Stops the child (SIGTERM to its process group, SIGKILL after `grace`)
    /// and does not restart it.
    pub async fn shutdown(&self, grace: Duration) {
        let finished = self.inner.finished.notified();
        self.inner.shutdown.send_replace(true);
        let current = self.inner.current.lock_unpoisoned().take();
        if let Some((_, connection)) = current {
            connection.shutdown(grace).await;
        }
        let _ = tokio::time::timeout(grace + Duration::from_secs(1), finished).await;
    }
}

impl Inner {
    fn hung(&self, generation: u64) -> Option<String> {
        match &*self.hung.lock_unpoisoned() {
            Some((hung, reason)) if *hung == generation => Some(reason.clone()),
            _ => None,
        }
    }

    fn set_health(&self, update: impl FnOnce(&mut Health)) -> Health {
        self.health.send_modify(update);
        self.health.borrow().clone()
    }

    async fn publish_health(&self, update: impl FnOnce(&mut Health)) {
        let health = self.set_health(update);
        let _ = self.events.send(SupervisorEvent::Health(health)).await;
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Asks the binary for its version and compares it with the pinned one;
    /// `Err` is the reason it cannot be used.
    async fn check_version(&self, spawn: &SpawnOptions) -> Result<Option<String>, String> {
        let version = match locate::version(&spawn.bin, &spawn.env).await {
            Ok(version) => version,
            Err(err) => return Err(err.to_string()),
        };
        let version_warning = match locate::compare_versions(&version, PINNED_CODEX_VERSION) {
            std::cmp::Ordering::Equal => None,
            _ if version == NEXT_CODEX_VERSION => None,
            std::cmp::Ordering::Greater => Some(format!(
                "Codex {version} is newer than {PINNED_CODEX_VERSION}, the version Perch was tested with; \
                 it should work, but report anything odd"
            )),
            std::cmp::Ordering::Less => Some(format!(
                "Codex {version} is older than {PINNED_CODEX_VERSION}, the version Perch was tested with; \
                 upgrade it (scripts/setup installs the pinned one)"
            )),
        };
        if let Some(warning) = &version_warning {
            tracing::warn!("{warning}");
        }
        self.set_health(|h| h.version = Some(version.clone()));
        Ok(version_warning)
    }

    async fn run(&self) {
        let mut failures = 0u32;
        let mut checked: Option<(std::path::PathBuf, Option<String>)> = None;
        loop {
            if self.stopping() {
                break;
            }
            let spawn = self.spawn.lock_unpoisoned().clone();
            let version_warning = match &checked {
                Some((bin, warning)) if *bin == spawn.bin => warning.clone(),
                _ => match self.check_version(&spawn).await {
                    Ok(warning) => {
                        checked = Some((spawn.bin.clone(), warning.clone()));
                        warning
                    }
                    Err(detail) => {
                        self.publish_health(|h| {
                            h.state = HealthState::Failed;
                            h.detail = Some(detail);
                            h.pid = None;
                        })
                        .await;
                        return;
                    }
                },
            };
            let restarted =
                self.generation.load(std::sync::atomic::Ordering::SeqCst) > 0 || failures > 0;
            let started = Instant::now();
            let detail = match self.start_child(&spawn).await {
                Ok((connection, mut messages)) => {
                    let generation = self
                        .generation
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        + 1;
                    *self.current.lock_unpoisoned() = Some((generation, connection.clone()));
                    let warning = version_warning.clone();
                    self.publish_health(|h| {
                        h.state = if warning.is_some() {
                            HealthState::Degraded
                        } else {
                            HealthState::Ready
                        };
                        h.detail = warning;
                        h.pid = connection.pid();
                    })
                    .await;
                    let _ = self
                        .events
                        .send(SupervisorEvent::Ready {
                            generation,
                            restarted,
                        })
                        .await;
                    let mut exit_report = None;
                    while let Some(message) = messages.recv().await {
                        if let ServerMessage::Closed { exit, stderr_tail } = &message {
                            exit_report = Some(describe_exit(*exit, stderr_tail));
                        }
                        let closed = matches!(message, ServerMessage::Closed { .. });
                        let _ = self
                            .events
                            .send(SupervisorEvent::Message {
                                generation,
                                message,
                            })
                            .await;
                        if closed {
                            break;
                        }
                    }
                    self.current.lock_unpoisoned().take();
                    if started.elapsed() >= self.config.stable_after {
                        failures = 0;
                    }
                    self.hung(generation)
                        .or(exit_report)
                        .unwrap_or_else(|| "the Codex app-server stopped".into())
                }
                Err(err) => err.to_string(),
            };
            if self.stopping() {
                break;
            }
            if self
                .falling_asleep
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                tracing::info!("the Codex app-server sleeps until something needs it");
                self.publish_health(|h| {
                    h.state = HealthState::Asleep;
                    h.detail = None;
                    h.pid = None;
                })
                .await;
                failures = 0;
                let mut asleep = self.asleep.subscribe();
                let mut shutdown = self.shutdown.subscribe();
                tokio::select! {
                    _ = asleep.wait_for(|asleep| !*asleep) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
                if !self.stopping() {
                    self.publish_health(|h| h.state = HealthState::Starting)
                        .await;
                }
                continue;
            }
            if self
                .replacing
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                tracing::info!("replacing the Codex app-server with new settings");
                self.publish_health(|h| {
                    h.state = HealthState::Restarting;
                    h.detail = Some("restarting with new settings".into());
                    h.restarts += 1;
                    h.pid = None;
                })
                .await;
                continue;
            }
            failures += 1;
            if failures >= self.config.max_consecutive_failures {
                self.publish_health(|h| {
                    h.state = HealthState::Failed;
                    h.detail = Some(format!(
                        "gave up after {failures} failed starts; last: {detail}"
                    ));
                    h.pid = None;
                })
                .await;
                return;
            }
            let backoff = (self.config.backoff_initial * 2u32.saturating_pow(failures - 1))
                .min(self.config.backoff_max);
            tracing::warn!("codex app-server down ({detail}); restarting in {backoff:?}");
            self.publish_health(|h| {
                h.state = HealthState::Restarting;
                h.detail = Some(format!(
                    "{detail}; restarting in {} ms",
                    backoff.as_millis()
                ));
                h.restarts += 1;
                h.pid = None;
            })
            .await;
            let mut shutdown = self.shutdown.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        self.publish_health(|h| {
            h.state = HealthState::Stopped;
            h.detail = None;
            h.pid = None;
        })
        .await;
    }

    /// Spawns a child and completes `initialize` + `initialized`.
    async fn start_child(
        &self,
        spawn: &SpawnOptions,
    ) -> Result<(Arc<Connection>, mpsc::Receiver<ServerMessage>), Error> {
        let (tx, rx) = mpsc::channel(1024);
        let connection = Connection::spawn(spawn, tx)?;
        let params = InitializeParams {
            client_info: ClientInfo {
                name: self.config.client_name.clone(),
                title: "Perch".into(),
                version: self.config.client_version.clone(),
            },
            capabilities: InitializeCapabilities::default(),
        };
        let handshake = async {
            connection.request::<Initialize>(&params).await?;
            connection.notify("initialized", None).await
        };
        match tokio::time::timeout(self.config.handshake_timeout, handshake).await {
            Ok(Ok(())) => Ok((connection, rx)),
            Ok(Err(err)) => {
                connection.kill();
                Err(err)
            }
            Err(_) => {
                connection.kill();
                Err(Error::Timeout {
                    method: Initialize::NAME,
                    secs: self.config.handshake_timeout.as_secs(),
                })
            }
        }
    }
}

fn describe_exit(exit: Option<i32>, stderr_tail: &[String]) -> String {
    let status = match exit {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".into(),
    };
    match stderr_tail
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
    {
        Some(line) => format!("the Codex app-server stopped ({status}): {}", line.trim()),
        None => format!("the Codex app-server stopped ({status})"),
    }
}
