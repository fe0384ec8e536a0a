//! `perch-bench delivery`: how fast a peer message reaches Codex. An
//! in-process Perch (embedded relay, peer link, dispatcher, the real Codex,
//! the scripted model); an outside agent posts one message at a time to
//! Perch's agent and the bench times, from the moment it posts (the relay's
//! HTTP round trip included):
//! - the `peer.message` event (what the notifier acts on),
//! - the turn started (`turn/start` answered by the app-server).
//!
//! The D-Bus `Notify` figure is in the desktop benchmark (docs/bench.md).
//!
//! It prints figures; it asserts nothing.

use crate::BenchError;
use crate::{err, ms, percentile};
use perch_host::server::{Server, ServerOptions};
use perch_runtime::model::EventKind;
use perch_runtime::Config;
use perch_test_support::{codex_bin, CodexEnv, Script, ScriptedModel};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// An in-process Perch on a throwaway data dir, with the real Codex
/// answering through the scripted model (`relay_listen`: `off` or an address).
/// `codex_keys`: TOML lines added to the config's `[codex]` section.
pub(crate) async fn start_scripted(
    env: &CodexEnv,
    model: &ScriptedModel,
    relay_listen: &str,
    codex_keys: &str,
) -> Result<Server, BenchError> {
    let mut config: Config = env
        .perch_config(&model.base_url(), "guarded")
        .replacen("[codex]\n", &format!("[codex]\n{codex_keys}"), 1)
        .parse()
        .map_err(err)?;
    config.peer.agent_id = Some("perch-bench".into());
    config.peer.person_id = Some("bench-person".into());
    config.save(&env.data().join("config.toml")).map_err(err)?;
    // A throwaway data dir: its secrets stay in it, not in the keyring.
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
    .await
    .map_err(err)?;
    server.runtime.wait_ready(WAIT).await;
    Ok(server)
}

pub async fn run(messages: usize) -> Result<(), BenchError> {
    let env = CodexEnv::new().map_err(err)?;
    let model = ScriptedModel::start().await.map_err(err)?;
    let server = start_scripted(&env, &model, "127.0.0.1:0", "").await?;
    let peer = server
        .network
        .peer
        .clone()
        .ok_or_else(|| err("the peer network is off"))?;
    let mut live = server.runtime.events().subscribe(None).live;
    let deadline = Instant::now() + WAIT;
    while !peer.status().link().is_some_and(|link| link.connected) {
        if Instant::now() > deadline {
            return Err(err("Perch's agent did not connect to its relay"));
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), live.recv()).await;
    }
    let relay = peer.relay_url().to_string();
    let http = stdx_http::client_builder().build().map_err(err)?;
    let register = json!({ "id": "bench-sender", "instanceId": "bench" });
    http.post(format!("{relay}/api/agents"))
        .json(&register)
        .send()
        .await
        .map_err(err)?;
    println!(
        "perch-bench delivery ({messages} messages, one at a time, Codex {})",
        codex_bin().display()
    );

    let (mut to_event, mut to_turn) = (Vec::new(), Vec::new());
    // Message 0 creates the Peers session (thread/start): timed apart.
    for i in 0..=messages {
        model.enqueue(Script::text("ok"));
        let body = json!({ "from": "bench-sender", "to": "perch-bench", "channel": "bench", "body": format!("message {i}") });
        let posted = Instant::now();
        let response = http
            .post(format!("{relay}/api/messages"))
            .json(&body)
            .send()
            .await
            .map_err(err)?;
        if !response.status().is_success() {
            return Err(err(format!(
                "the relay refused message {i}: {}",
                response.status()
            )));
        }
        let (mut event_at, mut turn_at) = (None, None);
        loop {
            let event = match tokio::time::timeout_at((posted + WAIT).into(), live.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(RecvError::Lagged(_))) => continue,
                _ => return Err(err(format!("message {i} did not complete a turn"))),
            };
            match &event.kind {
                EventKind::PeerMessage { to_agent: true, .. } => {
                    event_at = event_at.or(Some(posted.elapsed()))
                }
                EventKind::TurnStarted { .. } => turn_at = turn_at.or(Some(posted.elapsed())),
                EventKind::TurnCompleted { .. } => break,
                _ => {}
            }
        }
        if i == 0 {
            println!(
                "first message (creates the Peers session): turn started after {:.1} ms",
                turn_at.map_or(f64::NAN, ms)
            );
            continue;
        }
        to_event.extend(event_at.map(ms));
        to_turn.extend(turn_at.map(ms));
    }
    let line = |what: &str, samples: &mut Vec<f64>| {
        println!(
            "{what}: p50 {:.1} ms, p99 {:.1} ms ({} samples)",
            percentile(samples, 50.0),
            percentile(samples, 99.0),
            samples.len()
        );
    };
    line(
        "peer message -> peer.message event (notifier input)",
        &mut to_event,
    );
    line(
        "peer message -> turn started (turn/start answered)",
        &mut to_turn,
    );
    server.stop().await;
    Ok(())
}
