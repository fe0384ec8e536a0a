//! Codex sleeps when idle (`[codex] sleep_after`): after the idle period
//! the child is stopped, reading what Perch knows (account, models, usage,
//! status) does not wake it, and a message wakes it and runs in the same
//! thread, history kept, with no turn reported interrupted.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::config::SleepAfter;
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_sleeps_when_idle_and_a_message_wakes_it() -> TestResult {
    let h = Harness::start_with(ApprovalPolicy::Open, |config| {
        config.codex.sleep_after = SleepAfter(Some(Duration::from_secs(1)));
    })
    .await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text("First answer."));
    let sent = h.send(&session, "Remember the word heron").await?;
    events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;
    let models = h.get("/api/models").await?;
    let awake = h.get("/api/status").await?;
    let pid = awake["codex"]["pid"].as_u64().ok_or("no Codex pid")?;

    // Idle for `sleep_after`: Codex is stopped.
    events
        .wait_for("codex.state asleep", |e| {
            e["type"] == "codex.state" && e["state"] == "asleep"
        })
        .await;
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the Codex child {pid} still runs"
    );
    // What Perch knows is answered without waking it.
    assert_eq!(h.get("/api/models").await?, models);
    let account = h.get("/api/account").await?;
    assert_eq!(account["requiresOpenaiAuth"], false, "{account}");
    let usage = h.get("/api/account/usage").await?;
    assert!(usage["unavailable"].is_string(), "{usage}");
    let status = h.get("/api/status").await?;
    assert_eq!(status["codex"]["state"], "asleep", "{status}");
    assert_eq!(status["codex"]["pid"], serde_json::Value::Null);

    // A message wakes it, in the same thread: the model sees the history.
    h.model.enqueue(Script::text("Heron."));
    let sent = h.send(&session, "Which word?").await?;
    assert_eq!(sent["sessionId"], session.as_str());
    let done = events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let request = h.model.requests().pop().ok_or("no model request")?;
    let seen = request.input_text();
    assert!(
        seen.contains("Remember the word heron") && seen.contains("First answer."),
        "{seen}"
    );
    let status = h.get("/api/status").await?;
    assert_eq!(status["codex"]["state"], "ready", "{status}");
    assert_ne!(status["codex"]["pid"].as_u64(), Some(pid));
    let history = h.get(&format!("/api/sessions/{session}/history")).await?;
    let statuses: Vec<&str> = history["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses, ["completed", "completed"]);
    // Nothing was said to have gone wrong.
    assert!(
        !events.seen.iter().any(|e| e["type"] == "warning"
            || (e["type"] == "codex.state" && e["state"] == "restarting")),
        "{:#?}",
        events.seen
    );
    Ok(())
}
