//! Edit, retry and fork: `POST /api/sessions/{id}/resend` takes turns back
//! with Codex's own `thread/revert` (the old prompt and answer leave what
//! the model is sent) and `POST /api/sessions/{id}/fork` with `lastTurnId`
//! forks from one turn; bad input changes nothing.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Events, Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use serde_json::{json, Value};

async fn turn(
    h: &Harness,
    events: &mut Events,
    session: &str,
    prompt: &str,
    answer: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    h.model.enqueue(Script::text(answer));
    let sent = h.send(session, prompt).await?;
    let turn = sent["turnId"].as_str().ok_or("no turn id")?.to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    Ok(turn)
}

/// The person's and the agent's words of a session's history, in order.
async fn said(h: &Harness, session: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let history = h.get(&format!("/api/sessions/{session}/history")).await?;
    Ok(history["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| match i["type"].as_str() {
            Some("userMessage") => i["content"][0]["text"].as_str().map(String::from),
            Some("agentMessage") => i["text"].as_str().map(String::from),
            _ => None,
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_message_replaces_its_turn_and_the_old_one_leaves_the_models_context(
) -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    turn(&h, &mut events, &session, "First question", "First answer").await?;
    let second = turn(
        &h,
        &mut events,
        &session,
        "Second question",
        "Second answer",
    )
    .await?;

    // Bad input changes nothing.
    for (body, status, words) in [
        (
            json!({"turnId": "no-such-turn", "text": "x"}),
            404,
            "no turn no-such-turn",
        ),
        (json!({"turnId": second, "text": "   "}), 422, "empty"),
        (
            json!({"turnId": second, "text": "x".repeat(200_001)}),
            422,
            "longer than",
        ),
        (
            json!({"turnId": second}),
            400,
            "\"text\" is a required property",
        ),
    ] {
        let (code, answer) = h
            .post(&format!("/api/sessions/{session}/resend"), body)
            .await?;
        assert_eq!(code, status, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message}");
    }
    assert_eq!(said(&h, &session).await?.len(), 4);

    h.model.enqueue(Script::text("Edited answer"));
    let (code, sent) = h
        .post(
            &format!("/api/sessions/{session}/resend"),
            json!({"turnId": second, "text": "Second question, edited"}),
        )
        .await?;
    assert_eq!(code, 202, "{sent}");
    let rewound = events
        .wait_for("session.rewound", |e| e["type"] == "session.rewound")
        .await;
    assert_eq!(rewound["turnIds"], json!([second]));
    let edited = sent["turnId"].as_str().ok_or("no turn id")?;
    assert_ne!(edited, second);
    assert_eq!(events.turn_completed(edited).await["status"], "completed");

    let requests = h.model.requests();
    let last = requests.last().ok_or("no request")?.input_text();
    assert!(
        last.contains("First question") && last.contains("First answer"),
        "{last}"
    );
    assert!(last.contains("Second question, edited"), "{last}");
    assert!(
        !last.contains("Second answer") && !last.contains("Second question\n"),
        "the old turn reached the model: {last}"
    );
    assert_eq!(
        said(&h, &session).await?,
        [
            "First question",
            "First answer",
            "Second question, edited",
            "Edited answer"
        ]
    );
    // Search no longer finds what was taken back.
    let found = h.get("/api/search?q=second%20answer").await?;
    assert_eq!(found["hits"], json!([]), "{found}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_from_a_turn_keeps_the_history_up_to_it() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    let first = turn(&h, &mut events, &session, "Plan the trip", "Go by train").await?;
    turn(
        &h,
        &mut events,
        &session,
        "And the hotel?",
        "The one by the station",
    )
    .await?;

    let (code, missing) = h
        .post(
            &format!("/api/sessions/{session}/fork"),
            json!({"lastTurnId": "nope"}),
        )
        .await?;
    assert_eq!(code, 404, "{missing}");
    let (code, fork) = h
        .post(
            &format!("/api/sessions/{session}/fork"),
            json!({"lastTurnId": first}),
        )
        .await?;
    assert_eq!(code, 201, "{fork}");
    let fork_id = fork["id"].as_str().ok_or("no fork id")?.to_string();
    assert_ne!(fork_id, session);
    assert_eq!(said(&h, &fork_id).await?, ["Plan the trip", "Go by train"]);
    // The source keeps all of its history.
    assert_eq!(said(&h, &session).await?.len(), 4);

    let next = turn(&h, &mut events, &fork_id, "What about flying?", "Faster").await?;
    assert!(!next.is_empty());
    let last = h.model.requests().last().ok_or("no request")?.input_text();
    assert!(
        last.contains("Go by train") && !last.contains("hotel"),
        "{last}"
    );

    // A whole-session fork still works without a body.
    let (code, whole) = h
        .post(&format!("/api/sessions/{session}/fork"), Value::Null)
        .await?;
    assert_eq!(code, 201, "{whole}");
    Ok(())
}
