//! The text Perch keeps of each session: written as items complete, and
//! backfilled from Codex for a session Perch did not see stream; and what
//! auto-archiving makes of a finished turn (a turn observer).

mod common;

use common::{Harness, TestResult};
use perch_runtime::transcript::Role;
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_are_kept_as_they_stream_and_backfilled_when_missed() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text("The answer is 42."));
    let sent = h.send(&session, "What is the answer?").await?;
    let turn = sent["turnId"].as_str().ok_or("no turn id")?.to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");

    let lines = |h: &Harness| -> Result<Vec<(Role, String)>, perch_runtime::Error> {
        Ok(h.runtime
            .transcript(&session)?
            .into_iter()
            .map(|line| (line.role, line.text))
            .collect())
    };
    let expected = vec![
        (Role::User, "What is the answer?".to_string()),
        (Role::Assistant, "The answer is 42.".to_string()),
    ];
    assert_eq!(lines(&h)?, expected, "kept as the items completed");

    // As if Perch had not seen this session stream (a data dir from before
    // the transcript, or a thread made by another client): the first
    // history read fills it in from Codex, once.
    let db = rusqlite::Connection::open(h.env.data().join("perch.db"))?;
    db.execute_batch("DELETE FROM transcript; UPDATE sessions SET transcript_complete = 0;")?;
    assert!(lines(&h)?.is_empty());
    h.get(&format!("/api/sessions/{session}/history")).await?;
    assert_eq!(lines(&h)?, expected, "backfilled from Codex");
    h.get(&format!("/api/sessions/{session}/history")).await?;
    assert_eq!(lines(&h)?.len(), 2, "a second read adds nothing");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_archive_a_completed_turn_becomes_a_memory() -> TestResult {
    let h = Harness::start_with(ApprovalPolicy::Open, |c| c.memory.auto_archive = true).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text("Blue, like the sky."));
    let sent = h.send(&session, "What colour is the sky?").await?;
    let turn = sent["turnId"].as_str().ok_or("no turn id")?.to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    // The observer runs before `turn.completed` is published.
    let archived = h.get("/api/memories?tag=archive").await?;
    assert_eq!(archived["total"], 1, "{archived}");
    assert_eq!(
        archived["data"][0]["text"],
        "Asked: What colour is the sky?\nAnswered: Blue, like the sky."
    );
    assert_eq!(archived["data"][0]["sourceRef"], session.as_str());
    Ok(())
}
