//! `perch serve`: the runtime, the API and the web UI in one process.

use crate::CliError;
use perch_api::ApiOptions;
use perch_runtime::{Config, Runtime, RuntimeOptions};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct ServeArgs {
    pub data_dir: PathBuf,
    pub listen: Option<String>,
    pub ui_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// The repository root this binary was built from (for a development
/// checkout: `tools/codex`, `ui/dist`).
pub fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `PERCH_API_TOKEN`, else `<data>/api-token`, created 0600 on first run.
pub fn load_or_create_token(data_dir: &Path) -> Result<String, CliError> {
    if let Ok(token) = std::env::var("PERCH_API_TOKEN") {
        if !token.trim().is_empty() {
            return Ok(token.trim().to_string());
        }
    }
    let path = data_dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::io(format!("reading {}", path.display()), e)),
    }
    let token = perch_runtime::random_hex(32).map_err(|e| CliError::io("making the API token", e))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| CliError::io(format!("creating {}", path.display()), e))?;
    std::io::Write::write_all(&mut file, token.as_bytes()).map_err(|e| CliError::io("writing the token", e))?;
    Ok(token)
}

fn resolve_ui_dir(explicit: Option<PathBuf>, config: &Config) -> Option<PathBuf> {
    let exe_share = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("../share/perch/ui")));
    explicit
        .or_else(|| std::env::var_os("PERCH_UI_DIR").map(PathBuf::from))
        .or_else(|| config.ui_dir.clone())
        .into_iter()
        .chain(exe_share)
        .chain(std::iter::once(source_root().join("ui/dist")))
        .find(|dir| dir.join("index.html").is_file())
}

pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let data_dir = args.data_dir;
    std::fs::create_dir_all(&data_dir).map_err(|e| CliError::io(format!("creating {}", data_dir.display()), e))?;
    let config_path = args.config.unwrap_or_else(|| data_dir.join("config.toml"));
    let config = Config::load(&config_path)?;
    let listen = args.listen.or_else(|| config.listen.clone()).unwrap_or_else(|| perch_runtime::config::DEFAULT_LISTEN.into());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| CliError::Usage(format!("--listen {listen:?} is not an address like 127.0.0.1:4860")))?;
    if !addr.ip().is_loopback() && !config.allow_remote {
        return Err(CliError::Usage(format!(
            "refusing to listen on {addr}, which is not a loopback address; set `allow_remote = true` in {} if you mean it",
            config_path.display()
        )));
    }
    let token = load_or_create_token(&data_dir)?;
    let ui_dir = resolve_ui_dir(args.ui_dir, &config);
    let mut allowed_hosts = config.allowed_hosts.clone();
    allowed_hosts.push(addr.ip().to_string());

    let runtime = Runtime::start(RuntimeOptions {
        data_dir: data_dir.clone(),
        config,
        project_dirs: vec![data_dir.clone(), source_root()],
    })
    .await?;
    let router = perch_api::router(runtime.clone(), ApiOptions { token, allowed_hosts, ui_dir: ui_dir.clone() });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::io(format!("listening on {addr} (is another Perch running? try `perch status`)"), e))?;
    let bound = listener.local_addr().map_err(|e| CliError::io("reading the bound address", e))?;
    let url = format!("http://{bound}");
    let server_file = data_dir.join("server.json");
    let record = serde_json::json!({ "url": url, "pid": std::process::id() });
    std::fs::write(&server_file, record.to_string()).map_err(|e| CliError::io(format!("writing {}", server_file.display()), e))?;
    tracing::info!("API ready at {url} in {:?}", started.elapsed());
    eprintln!("Perch is listening on {url} (data: {})", data_dir.display());
    match &ui_dir {
        Some(dir) => eprintln!("web UI from {}; open it with `perch open`", dir.display()),
        None => eprintln!("the web UI is not built (run scripts/setup); the API works without it"),
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    wait_for_signal().await;
    eprintln!("Perch is stopping");
    let _ = stop_tx.send(());
    // Event streams never end by themselves; give requests a moment, then go.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    runtime.shutdown().await;
    let _ = std::fs::remove_file(&server_file);
    Ok(())
}

async fn wait_for_signal() {
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
