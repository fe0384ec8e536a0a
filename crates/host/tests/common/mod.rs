//! What the host's tests share: a Perch `Server` on a config file's text,
//! with the real pinned Codex, and a bounded wait for an event.
#![allow(dead_code)]

use perch_host::server::{Server, ServerOptions};
use perch_runtime::model::EventKind;
use perch_runtime::Published;
use perch_test_support::CodexEnv;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub const WAIT: Duration = Duration::from_secs(60);

/// A Perch whose config.toml is `config`, with this relay address, Codex
/// ready.
pub async fn start_with_config(
    env: &CodexEnv,
    config: &str,
    relay_listen: &str,
) -> Result<Server, Box<dyn std::error::Error>> {
    std::fs::write(env.data().join("config.toml"), config)?;
    start_written(env, relay_listen).await
}

/// A Perch on the config.toml already in the data dir, with this relay
/// address, Codex ready. Secrets go to 0600 files, never to the developer's
/// keyring.
pub async fn start_written(
    env: &CodexEnv,
    relay_listen: &str,
) -> Result<Server, Box<dyn std::error::Error>> {
    std::env::set_var("PERCH_SECRET_STORE", "file");
    let server = Server::start(ServerOptions {
        data_dir: env.data(),
        listen: Some("127.0.0.1:0".into()),
        ui_dir: None,
        config_path: None,
        autostart: None,
        logs_dir: None,
        relay_listen: Some(relay_listen.into()),
    })
    .await?;
    let status = server.runtime.wait_ready(WAIT).await;
    assert_eq!(status.state, perch_runtime::CodexState::Ready, "{status:?}");
    Ok(server)
}

/// The first event `pick` accepts, within the bound.
pub async fn until<T>(
    live: &mut Receiver<Arc<Published>>,
    what: &str,
    mut pick: impl FnMut(&EventKind) -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, live.recv()).await {
            Ok(Ok(event)) => {
                if let Some(found) = pick(&event.kind) {
                    return Ok(found);
                }
            }
            Ok(Err(RecvError::Lagged(_))) => {}
            _ => return Err(format!("never saw {what}")),
        }
    }
}
