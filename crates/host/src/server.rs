//! The runtime and the API on a loopback port: what `perch serve` runs and
//! what the desktop app hosts in-process.

use crate::embeddings::HttpEmbeddings;
use crate::network::Network;
use crate::secrets::{load_or_create_token, open_secret_store};
use perch_agent::{AgentOptions, AgentState};
use perch_api::{ApiOptions, Auth, PeerLink, PeerLinkState};
use perch_runtime::host::{Autostart, HostError, SecretStore};
use perch_runtime::{Config, Runtime, RuntimeOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] perch_runtime::Error),
    #[error(transparent)]
    Host(#[from] HostError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

pub struct ServerOptions {
    pub data_dir: PathBuf,
    /// Overrides the config's `listen`.
    pub listen: Option<String>,
    pub ui_dir: Option<PathBuf>,
    /// Default: `<data dir>/config.toml`.
    pub config_path: Option<PathBuf>,
    pub autostart: Option<Arc<dyn Autostart>>,
    pub logs_dir: Option<PathBuf>,
    /// Overrides `[relay] listen` (`off` disables the embedded relay).
    pub relay_listen: Option<String>,
}

pub struct Server {
    pub runtime: Arc<Runtime>,
    /// Memory, plans and wakeups, joined to the runtime.
    pub agent: Arc<AgentState>,
    pub auth: Arc<Auth>,
    pub secrets: Arc<dyn SecretStore>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub ui_dir: Option<PathBuf>,
    /// The relay, the MCP tools and Perch's agent on the peer network.
    pub network: Network,
    serving: Serving,
}

/// The repository root this binary was built from (for a development
/// checkout: `tools/codex`, `ui/dist`).
pub fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where a package puts Perch's files beside its binaries, holding `ui/`
/// and `codex/`: `<exe>/../lib/perch` (`/usr/lib/perch` for the .deb and
/// .rpm), `<exe>/../Resources/lib/perch` (Perch.app's resources on macOS),
/// `<exe>/lib/perch` (the install folder on Windows). Looked at before the
/// checkout, so an installed Perch never runs the build machine's files.
pub fn install_dir() -> Option<PathBuf> {
    install_dir_beside(std::env::current_exe().ok()?.parent()?)
}

/// [`install_dir`] for binaries in `bin`.
fn install_dir_beside(bin: &Path) -> Option<PathBuf> {
    ["../lib/perch", "../Resources/lib/perch", "lib/perch"]
        .iter()
        .filter_map(|relative| bin.join(relative).canonicalize().ok())
        .find(|dir| dir.is_dir())
}

/// `--ui-dir`, `PERCH_UI_DIR`, the config, the install dir's `ui`, then the
/// checkout's `ui/dist`.
fn resolve_ui_dir(explicit: Option<PathBuf>, config: &Config) -> Option<PathBuf> {
    explicit
        .or_else(|| config.env.get("PERCH_UI_DIR").map(PathBuf::from))
        .or_else(|| config.ui_dir.clone())
        .into_iter()
        .chain(install_dir().map(|dir| dir.join("ui")))
        .chain([source_root().join("ui/dist")])
        .find(|dir| dir.join("index.html").is_file())
}

impl Server {
    pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
        let data_dir = options.data_dir;
        let tightened = crate::private::make_private(&data_dir)
            .map_err(io(format!("making {} private", data_dir.display())))?;
        if tightened > 0 {
            tracing::info!(
                "made {tightened} files and folders in {} readable by you only (other users could read them)",
                data_dir.display()
            );
        }
        let config_path = options
            .config_path
            .unwrap_or_else(|| data_dir.join("config.toml"));
        let config = Config::load(&config_path)?;
        let listen = options
            .listen
            .or_else(|| config.listen.clone())
            .unwrap_or_else(|| perch_runtime::config::DEFAULT_LISTEN.into());
        let addr: SocketAddr = listen.parse().map_err(|_| {
            ServerError::Usage(format!(
                "--listen {listen:?} is not an address like 127.0.0.1:4860"
            ))
        })?;
        if !addr.ip().is_loopback() && !config.allow_remote {
            return Err(ServerError::Usage(format!(
                "refusing to listen on {addr}, which is not a loopback address; set `allow_remote = true` in {} if you mean it",
                config_path.display()
            )));
        }
        let secrets = {
            let data_dir = data_dir.clone();
            let env = config.env.clone();
            tokio::task::spawn_blocking(move || open_secret_store(&data_dir, &env))
                .await
                .map_err(|e| HostError::Secrets(format!("opening the secret store: {e}")))?
        };
        let token = {
            let secrets = secrets.clone();
            let env = config.env.clone();
            tokio::task::spawn_blocking(move || load_or_create_token(secrets.as_ref(), &env))
                .await
                .map_err(|e| HostError::Secrets(format!("loading the API token: {e}")))??
        };
        let ui_dir = resolve_ui_dir(options.ui_dir, &config);
        let mut allowed_hosts = config.allowed_hosts.clone();
        allowed_hosts.push(addr.ip().to_string());
        // In this order: the port (a second Perch on it fails fast), the
        // store and bus with no child, the API (it answers from here on,
        // Codex `starting`, the peer link `starting`), the relay, the peer
        // link and the MCP server over them, then Codex with the MCP
        // attachment, then the scheduler. Nothing a person waits for at
        // start-up waits for the network.
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(io(format!(
                "listening on {addr} (is another Perch running? try `perch status`)"
            )))?;
        let bound = listener
            .local_addr()
            .map_err(io("reading the bound address"))?;
        let network_config = config.clone();
        let runtime = Runtime::open(RuntimeOptions {
            data_dir: data_dir.clone(),
            config,
            config_path: Some(config_path),
            project_dirs: [Some(data_dir.clone()), install_dir(), Some(source_root())]
                .into_iter()
                .flatten()
                .collect(),
            secrets: secrets.clone(),
            autostart: options.autostart,
            opener: Some(std::sync::Arc::new(crate::opener::DesktopOpener)),
            logs_dir: options.logs_dir,
        })
        .await?;
        let agent = AgentState::attach(
            runtime.clone(),
            AgentOptions {
                embeddings: Some(Arc::new(HttpEmbeddings::default())),
            },
        )?;
        // Browser sessions outlive a restart (digests in a 0600 file).
        let auth = Arc::new(
            Auth::new(token, allowed_hosts)
                .with_sessions_file(data_dir.join("browser-sessions.json")),
        );
        let (peer_link, peer_state) = tokio::sync::watch::channel(PeerLinkState::Starting);
        let router = perch_api::router(
            runtime.clone(),
            ApiOptions {
                auth: auth.clone(),
                ui_dir: ui_dir.clone(),
                peer: PeerLink::new(peer_state),
                agent: agent.clone(),
            },
        );
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let serving = Serving {
            runtime,
            agent,
            server_file: data_dir.join("server.json"),
            stop,
            task,
        };
        let record =
            serde_json::json!({ "url": format!("http://{bound}"), "pid": std::process::id() });
        if let Err(e) = stdx::write_private(&serving.server_file, record.to_string().as_bytes()) {
            let context = format!("writing {}", serving.server_file.display());
            serving.stop().await;
            return Err(io(context)(e));
        }
        let network = match Network::start(
            &network_config,
            options.relay_listen,
            &data_dir,
            secrets.clone(),
            serving.agent.clone(),
        )
        .await
        {
            Ok(network) => network,
            Err(err) => {
                serving.stop().await;
                return Err(err);
            }
        };
        peer_link.send_replace(match &network.peer {
            Some(peer) => PeerLinkState::Joined(peer.clone()),
            None => PeerLinkState::Off {
                reason: network.off_reason.clone(),
            },
        });
        let server = Self {
            runtime: serving.runtime.clone(),
            agent: serving.agent.clone(),
            url: format!("http://{bound}"),
            auth,
            secrets,
            ui_dir,
            network,
            serving,
        };
        let mcp = server.network.mcp.attachment();
        let launched = server
            .runtime
            .launch_codex(Some(mcp))
            .await
            .map_err(ServerError::from);
        // After the peer joined and Codex was launched: a wakeup for the
        // peer session can find it.
        let started =
            launched.and_then(|()| server.agent.start_scheduler().map_err(ServerError::from));
        if let Err(err) = started {
            server.stop().await;
            return Err(err);
        }
        // Start-up's temporary buffers (the OpenAPI document's making, the
        // migrations) are freed by now or soon: give them back.
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = tokio::task::spawn_blocking(stdx::memory::release_free).await;
        });
        Ok(server)
    }

    /// Stops serving, answers pending approvals `cancel` and stops Codex.
    pub async fn stop(self) {
        let Self {
            serving, network, ..
        } = self;
        serving
            .stop_with(async move {
                network.stop().await;
            })
            .await;
    }
}

/// The API serving over the runtime: what runs before the network starts,
/// and what is stopped if it cannot.
struct Serving {
    runtime: Arc<Runtime>,
    agent: Arc<AgentState>,
    server_file: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Serving {
    async fn stop(self) {
        self.stop_with(async {}).await
    }

    /// Stops serving, then `network`, then the agent and the runtime.
    async fn stop_with(self, network: impl std::future::Future<Output = ()>) {
        let _ = self.stop.send(());
        // Event streams never end by themselves; give requests a moment, then go.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
        network.await;
        self.agent.stop();
        self.runtime.shutdown().await;
        let _ = std::fs::remove_file(&self.server_file);
    }
}

/// Resolves on SIGTERM (logout, systemd, kill), on Windows' console close,
/// logoff or shutdown, or on Ctrl-C: all mean "stop cleanly".
pub async fn wait_for_signal() {
    #[cfg(windows)]
    let terminate = async {
        use tokio::signal::windows::{ctrl_close, ctrl_logoff, ctrl_shutdown};
        match (ctrl_close(), ctrl_logoff(), ctrl_shutdown()) {
            (Ok(mut close), Ok(mut logoff), Ok(mut shutdown)) => {
                tokio::select! {
                    _ = close.recv() => {}
                    _ = logoff.recv() => {}
                    _ = shutdown.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod install_dir_tests {
    use super::install_dir_beside;
    use std::path::Path;

    /// Each installer's layout: where the binaries are, where `lib/perch` is.
    #[test]
    fn finds_lib_perch_in_each_installers_layout() -> std::io::Result<()> {
        for (bin, lib) in [
            ("usr/bin", "usr/lib/perch"),
            (
                "Perch.app/Contents/MacOS",
                "Perch.app/Contents/Resources/lib/perch",
            ),
            ("Perch", "Perch/lib/perch"),
        ] {
            let root = tempfile::tempdir()?;
            std::fs::create_dir_all(root.path().join(bin))?;
            assert_eq!(install_dir_beside(&root.path().join(bin)), None, "{bin}");
            std::fs::create_dir_all(root.path().join(lib))?;
            let found = install_dir_beside(&root.path().join(bin));
            assert_eq!(found, Some(root.path().join(lib).canonicalize()?), "{bin}");
        }
        assert_eq!(install_dir_beside(Path::new("/nonexistent/bin")), None);
        Ok(())
    }
}
