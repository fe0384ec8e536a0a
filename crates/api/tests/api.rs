//! Perch end to end through its HTTP API, over the real pinned Codex and the
//! scripted model: streaming, steer, interrupt, approvals, a crash of the
//! app-server mid-turn, the stall watchdog, the API's defences, SSE replay.

mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_streams_deltas_and_lands_in_history() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::chunks(
        &["Hello ", "from ", "the ", "scripted ", "model."],
        5,
    ));
    let sent = h.send(&session, "Say hello").await?;
    assert_eq!(sent["mode"], "start");
    let turn_id = sent["turnId"].as_str().unwrap_or_default().to_string();
    // Asked at once, while Codex is still creating the new thread's store.
    let early = h.get(&format!("/api/sessions/{session}/history")).await?;
    assert_eq!(early["data"][0]["id"], turn_id.as_str(), "{early}");
    let done = events.turn_completed(&turn_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let deltas: Vec<String> = events
        .seen
        .iter()
        .filter(|e| e["type"] == "item.delta" && e["kind"] == "agentMessage")
        .map(|e| e["delta"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(deltas, ["Hello ", "from ", "the ", "scripted ", "model."]);
    assert!(events
        .seen
        .iter()
        .any(|e| e["type"] == "tokens.updated" && e["sessionId"] == session.as_str()));

    let history = h.get(&format!("/api/sessions/{session}/history")).await?;
    let turns = history["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(turns.len(), 1, "{history}");
    let answered = turns[0]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["text"].as_str())
        .any(|text| text == "Hello from the scripted model.");
    assert!(answered, "{history}");

    let listed = h.get("/api/sessions").await?;
    assert_eq!(listed["data"][0]["id"], session.as_str());
    assert_eq!(listed["data"][0]["preview"], "Say hello");
    assert!(
        listed["data"][0]["tokenUsage"]["totalTokens"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "{listed}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_during_a_turn_steers_it() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::chunks(
        &["one ", "two ", "three ", "four ", "five ", "six "],
        300,
    ));
    h.model.enqueue(Script::text("Bananas, as asked."));
    let first = h.send(&session, "count slowly").await?;
    let turn_id = first["turnId"].as_str().unwrap_or_default().to_string();
    events
        .wait_for("first delta", |e| e["type"] == "item.delta")
        .await;
    let steer = h.send(&session, "also mention bananas").await?;
    assert_eq!(steer["mode"], "steer");
    assert_eq!(steer["turnId"], turn_id.as_str());
    let done = events.turn_completed(&turn_id).await;
    assert_eq!(done["status"], "completed");
    let requests = h.model.requests();
    assert_eq!(requests.len(), 2, "the steer made a second model request");
    assert!(requests[1].input_text().contains("also mention bananas"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_ends_the_running_turn() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::hanging());
    let sent = h.send(&session, "never finishes").await?;
    let turn_id = sent["turnId"].as_str().unwrap_or_default().to_string();
    h.model.wait_for_requests(1, common::WAIT).await;
    let (status, body) = h
        .post(&format!("/api/sessions/{session}/interrupt"), json!({}))
        .await?;
    assert_eq!(status, 202, "{body}");
    let done = events.turn_completed(&turn_id).await;
    assert_eq!(done["status"], "interrupted");
    let (status, body) = h
        .post(&format!("/api/sessions/{session}/interrupt"), json!({}))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // At once after the first turn of a new session, before Codex has
    // registered it (a person clicking Interrupt right away).
    let fresh = h.new_session().await?;
    h.model.enqueue(Script::hanging());
    let sent = h.send(&fresh, "stop me quickly").await?;
    let turn_id = sent["turnId"].as_str().unwrap_or_default().to_string();
    let (status, body) = h
        .post(&format!("/api/sessions/{fresh}/interrupt"), json!({}))
        .await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        events.turn_completed(&turn_id).await["status"],
        "interrupted"
    );
    Ok(())
}

async fn approval_for(h: &Harness, events: &mut common::Events) -> String {
    let requested = events
        .wait_for("approval.requested", |e| e["type"] == "approval.requested")
        .await;
    let id = requested["approval"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(requested["approval"]["kind"], "command");
    assert_eq!(requested["approval"]["status"], "pending");
    let pending = h.get("/api/approvals").await.unwrap_or_default();
    assert!(
        pending["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["id"] == id.as_str())),
        "{pending}"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_accept_decline_and_cancel_reach_codex() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Guarded).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;

    // accept: the command runs, the turn goes on to the model's reply.
    h.model
        .enqueue(Script::shell("touch accepted.txt && echo made", "call_a"));
    h.model.enqueue(Script::text("Made it."));
    let turn = h.send(&session, "make a file").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = approval_for(&h, &mut events).await;
    let (status, answered) = h
        .post(
            &format!("/api/approvals/{id}"),
            json!({"decision": "accept"}),
        )
        .await?;
    assert_eq!(
        (status, answered["status"].as_str()),
        (200, Some("accept")),
        "{answered}"
    );
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    assert!(h.env.work().join("accepted.txt").exists());
    let (status, again) = h
        .post(
            &format!("/api/approvals/{id}"),
            json!({"decision": "decline"}),
        )
        .await?;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // decline: the command does not run; the model hears it was rejected.
    // It is shown as typed (without Codex's `bash -lc` wrapper), with what
    // in it is destructive.
    h.model.enqueue(Script::shell(
        "rm -rf build && touch declined.txt",
        "call_d",
    ));
    h.model.enqueue(Script::text("Understood."));
    let turn = h.send(&session, "try again").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = approval_for(&h, &mut events).await;
    let shown = h.get("/api/approvals").await?;
    let shown = shown["data"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        shown["title"], "Run rm -rf build && touch declined.txt",
        "{shown}"
    );
    assert_eq!(
        shown["dangers"],
        json!(["deletes files and folders recursively (rm -r)"]),
        "{shown}"
    );
    // A reason goes with a decline only, and is bounded; a refused answer
    // changes nothing.
    for (body, words) in [
        (
            json!({"decision": "accept", "reason": "why"}),
            "with `decline` only",
        ),
        (
            json!({"decision": "decline", "reason": "x".repeat(2001)}),
            "at most 2000",
        ),
    ] {
        let (status, refused) = h.post(&format!("/api/approvals/{id}"), body).await?;
        assert_eq!(status, 422, "{refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message}");
    }
    let (status, declined) = h
        .post(
            &format!("/api/approvals/{id}"),
            json!({"decision": "decline", "reason": "build/ holds the release artefacts"}),
        )
        .await?;
    assert_eq!(
        (status, declined["status"].as_str()),
        (200, Some("decline")),
        "{declined}"
    );
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    assert!(!h.env.work().join("declined.txt").exists());
    // Deny and tell Codex why: the model hears both the refusal and why.
    let told = h
        .model
        .requests()
        .last()
        .map(perch_test_support::CapturedRequest::input_text)
        .unwrap_or_default();
    assert!(told.contains("rejected"), "{told}");
    assert!(
        told.contains("Why: build/ holds the release artefacts"),
        "the reason reached the model: {told}"
    );
    // The session's answered approvals, for its history after a reload.
    let kept = h
        .get(&format!("/api/approvals?sessionId={session}"))
        .await?;
    let statuses: Vec<&str> = kept["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["status"].as_str())
        .collect();
    assert_eq!(statuses, ["accept", "decline"], "{kept}");

    // cancel: the turn ends interrupted, with no further model request.
    let before = h.model.requests().len();
    h.model
        .enqueue(Script::shell("touch cancelled.txt", "call_c"));
    let turn = h.send(&session, "once more").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = approval_for(&h, &mut events).await;
    h.post(
        &format!("/api/approvals/{id}"),
        json!({"decision": "cancel"}),
    )
    .await?;
    assert_eq!(events.turn_completed(&turn).await["status"], "interrupted");
    assert_eq!(h.model.requests().len(), before + 1);
    assert!(!h.env.work().join("cancelled.txt").exists());

    let all = h.get("/api/approvals?status=all").await?;
    let statuses: Vec<&str> = all["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["status"].as_str())
        .collect();
    assert_eq!(statuses.len(), 3);
    for expected in ["accept", "decline", "cancel"] {
        assert!(statuses.contains(&expected), "{statuses:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_crash_mid_turn_is_reported_and_the_session_resumes() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::hanging());
    let turn = h.send(&session, "this turn will crash").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    h.model.wait_for_requests(1, common::WAIT).await;
    let (generation, connection) = h.runtime.codex_connection().ok_or("no codex child")?;
    connection.kill();

    let done = events.turn_completed(&turn).await;
    assert_eq!(done["status"], "interrupted");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("stopped")),
        "{done}"
    );
    events
        .wait_for("restarting", |e| {
            e["type"] == "codex.state" && e["state"] == "restarting"
        })
        .await;
    events
        .wait_for("ready again", |e| {
            e["type"] == "codex.state" && e["state"] == "ready"
        })
        .await;
    let (new_generation, _) = h
        .runtime
        .codex_connection()
        .ok_or("no codex child after restart")?;
    assert!(new_generation > generation);

    // The same session (the same Codex thread, not a new one) goes on.
    h.model.enqueue(Script::text("Back again."));
    let sent = h.send(&session, "are you there?").await?;
    assert_eq!(sent["mode"], "start");
    let turn = sent["turnId"].as_str().unwrap_or_default().to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    let last = h
        .model
        .requests()
        .last()
        .map(perch_test_support::CapturedRequest::input_text)
        .unwrap_or_default();
    assert!(
        last.contains("this turn will crash"),
        "the resumed thread kept its history"
    );
    let status = h.get("/api/status").await?;
    assert_eq!(status["codex"]["restarts"], 1);
    assert_eq!(status["activeTurns"], json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_pending_when_codex_dies_expires_instead_of_hanging() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Guarded).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::shell("touch never.txt", "call_x"));
    h.send(&session, "ask me").await?;
    let id = approval_for(&h, &mut events).await;
    h.runtime
        .codex_connection()
        .ok_or("no codex child")?
        .1
        .kill();
    let resolved = events
        .wait_for("approval.resolved", |e| e["type"] == "approval.resolved")
        .await;
    assert_eq!(resolved["approval"]["id"], id.as_str());
    assert_eq!(resolved["approval"]["status"], "expired");
    let (status, body) = h
        .post(
            &format!("/api/approvals/{id}"),
            json!({"decision": "accept"}),
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_turn_is_marked_stalled_and_can_be_interrupted() -> TestResult {
    let h = Harness::start_with(ApprovalPolicy::Open, |c| c.codex.stall_timeout_secs = 1).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::hanging());
    let turn = h.send(&session, "hang").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let stalled = events
        .wait_for("turn.stalled", |e| e["type"] == "turn.stalled")
        .await;
    assert_eq!(stalled["turnId"], turn.as_str());
    assert!(stalled["silentForMs"].as_u64().unwrap_or(0) >= 1000);
    let status = h.get("/api/status").await?;
    assert_eq!(status["activeTurns"][0]["stalled"], true);
    h.post(&format!("/api/sessions/{session}/interrupt"), json!({}))
        .await?;
    assert_eq!(events.turn_completed(&turn).await["status"], "interrupted");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_bad_callers_and_bad_input_clearly() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let code = |r: &serde_json::Value| r["error"]["code"].as_str().map(String::from);
    let health = h.http.get(h.url("/api/health")).send().await?;
    assert_eq!(health.status().as_u16(), 200);

    // (request, expected status, expected code)
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (h.http.get(h.url("/api/status")), 401, "unauthorized"),
        (
            h.http.get(h.url("/api/status")).bearer_auth("wrong-token"),
            401,
            "unauthorized",
        ),
        (
            h.http
                .get(h.url("/api/health"))
                .header("Host", "evil.example:4860"),
            421,
            "misdirected_request",
        ),
        (
            h.http
                .get(h.url("/api/status"))
                .bearer_auth(&h.token)
                .header("Host", "attacker.test"),
            421,
            "misdirected_request",
        ),
        (
            // Its own unpooled connection: the server closes a connection
            // whose oversized body it did not read, and the next request
            // must not be sent on it.
            stdx_http::client_builder()
                .pool_max_idle_per_host(0)
                .build()?
                .post(h.url("/api/sessions/x/messages"))
                .bearer_auth(&h.token)
                .header("content-type", "application/json")
                .body(vec![b' '; 1024 * 1024 + 64 * 1024]),
            413,
            "payload_too_large",
        ),
        (
            h.http
                .post(h.url("/api/sessions/x/messages"))
                .bearer_auth(&h.token)
                .header("content-type", "application/json")
                .body("{nope"),
            400,
            "bad_request",
        ),
        (
            h.http
                .post(h.url("/api/sessions/x/messages"))
                .bearer_auth(&h.token)
                .body("{\"text\":\"hi\"}"),
            415,
            "unsupported_media_type",
        ),
        (
            h.http
                .post(h.url("/api/sessions/x/messages"))
                .bearer_auth(&h.token)
                .json(&json!({"txt": "hi"})),
            400,
            "bad_request",
        ),
        (
            h.http
                .post(h.url("/api/sessions/nope/messages"))
                .bearer_auth(&h.token)
                .json(&json!({"text": "hi"})),
            404,
            "not_found",
        ),
        (
            h.http
                .post(h.url("/api/approvals/nope"))
                .bearer_auth(&h.token)
                .json(&json!({"decision": "maybe"})),
            400,
            "bad_request",
        ),
        // Signing in is not fuzzed (it would reach the network); its input is checked here.
        (
            h.http
                .post(h.url("/api/account/login"))
                .bearer_auth(&h.token)
                .json(&json!({"type": "password", "password": "x"})),
            400,
            "bad_request",
        ),
        (
            h.http
                .post(h.url("/api/account/login"))
                .bearer_auth(&h.token)
                .json(&json!({"type": "apiKey", "apiKey": "   "})),
            422,
            "invalid_input",
        ),
        (
            h.http
                .get(h.url("/api/approvals?status=weird"))
                .bearer_auth(&h.token),
            400,
            "bad_request",
        ),
        (
            h.http
                .get(h.url("/api/no/such/route"))
                .bearer_auth(&h.token),
            404,
            "not_found",
        ),
        (
            h.http
                .post(h.url("/api/sessions"))
                .bearer_auth(&h.token)
                .json(&json!({"cwd": "/no/such/dir"})),
            422,
            "invalid_input",
        ),
        // What axum answers itself is JSON too: a method the route does
        // not take, and a body over a limit that is read as bytes.
        (
            h.http.put(h.url("/api/status")).bearer_auth(&h.token),
            405,
            "method_not_allowed",
        ),
        (
            stdx_http::client_builder()
                .pool_max_idle_per_host(0)
                .build()?
                .post(h.url("/api/memories/import?format=jsonl"))
                .bearer_auth(&h.token)
                .header("content-type", "application/x-ndjson")
                .body(vec![b' '; 16 * 1024 * 1024 + 64 * 1024]),
            413,
            "payload_too_large",
        ),
    ];
    for (request, status, expected) in cases {
        let response = request.send().await?;
        let got = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(
            (got, code(&body).as_deref()),
            (status, Some(expected)),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 10),
            "{body}"
        );
    }
    let session = h.new_session().await?;
    assert_eq!(
        h.get(&format!("/api/sessions/{session}/history")).await?,
        json!({"data": []}),
        "a new session has no turns yet"
    );
    let (status, body) = h
        .post(
            &format!("/api/sessions/{session}/messages"),
            json!({"text": "   "}),
        )
        .await?;
    assert_eq!(
        (status, code(&body).as_deref()),
        (422, Some("invalid_input"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let doc = h.get("/api/openapi.json").await?;
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
        for method in operations
            .as_object()
            .into_iter()
            .flatten()
            .map(|(m, _)| m.to_uppercase())
        {
            if path == "/api/events" {
                continue; // a stream; covered by the SSE tests
            }
            // Every path parameter gets an id that exists nowhere (a number, as some ids are).
            let concrete: Vec<&str> = path
                .split('/')
                .map(|part| {
                    if part.starts_with('{') {
                        "987654321"
                    } else {
                        part
                    }
                })
                .collect();
            let url = h.url(&concrete.join("/"));
            let method = reqwest::Method::from_bytes(method.as_bytes())?;
            let response = h
                .http
                .request(method.clone(), url)
                .bearer_auth(&h.token)
                .json(&json!({}))
                .send()
                .await?;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            // An unknown id may be 404, but then with our JSON error, never axum's bare 404/405.
            assert_ne!(status, 405, "{method} {path}");
            if status == 404 {
                assert_eq!(
                    body["error"]["code"], "not_found",
                    "{method} {path}: {body}"
                );
                assert!(
                    path.contains('{'),
                    "{method} {path} is documented but not routed"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} routes checked");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_replays_what_a_client_missed() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let mut first = h.events(None).await?;
    let session = h.new_session().await?;
    let created = first
        .wait_for("session.updated", |e| e["type"] == "session.updated")
        .await;
    let seq = created["seq"].as_u64().ok_or("no seq")?;
    h.model.enqueue(Script::text("Replayed words."));
    let turn = h.send(&session, "talk").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    first.turn_completed(&turn).await;

    // A client that saw only `seq` reconnects and gets everything after it, in order.
    let mut late = h.events(Some(seq)).await?;
    let done = late.turn_completed(&turn).await;
    let seqs: Vec<u64> = late.seen.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs.first().copied(), Some(seq + 1));
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gaps: {seqs:?}"
    );
    assert_eq!(done["status"], "completed");
    let original: Vec<u64> = first
        .seen
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| *s > seq)
        .collect();
    assert_eq!(
        seqs, original,
        "the replay is the same events the live client saw"
    );
    Ok(())
}

/// A burst larger than a stream's chunk and than the live channel reaches
/// every stream whole: each event once, in order, with its own `id:`, and
/// the frames the streams share are the same bytes for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sends_a_burst_whole_and_in_order_to_every_stream() -> TestResult {
    use perch_runtime::model::EventKind;
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let response = h
        .http
        .get(h.url("/api/events"))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "the stream's type"
    );
    drop(response);
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(h.events(None).await?);
    }
    // Codex or the runtime may publish events of their own meanwhile (an
    // account refresh, a notification from Codex): each burst event is known
    // by the seq its publish returned and by its text, not by a range.
    const BURST: u64 = 2_000;
    let expected: Vec<(u64, String)> = (0..BURST)
        .map(|n| {
            let message = format!("burst {n}");
            let seq = h.runtime.events().publish(EventKind::Warning {
                session_id: None,
                message: message.clone(),
            });
            (seq, message)
        })
        .collect();
    let last = expected.last().map(|(seq, _)| *seq).unwrap_or_default();
    for stream in &mut streams {
        stream
            .wait_for("the burst's last event", |e| e["seq"] == last)
            .await;
        let burst: Vec<(u64, String)> = stream
            .seen
            .iter()
            .filter(|e| e["type"] == "warning")
            .filter_map(|e| {
                let message = e["message"].as_str()?;
                message
                    .starts_with("burst ")
                    .then(|| (e["seq"].as_u64().unwrap_or_default(), message.to_string()))
            })
            .collect();
        let missing: Vec<&(u64, String)> = expected.iter().filter(|e| !burst.contains(e)).collect();
        let controls: Vec<&Value> = stream
            .seen
            .iter()
            .filter(|e| e["type"] == "reset" || e["type"] == "lagged")
            .collect();
        assert_eq!(
            burst.len(),
            expected.len(),
            "every event, once: missing {missing:?}; the stream's reset/lagged: {controls:?}"
        );
        assert_eq!(burst, expected, "in order, nothing lost or doubled");
        assert!(
            !stream
                .seen
                .iter()
                .any(|e| e["type"] == "reset" || e["type"] == "lagged"),
            "a burst within the replay buffer needs no reset"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_signs_in_with_a_one_time_code_and_a_cookie() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let (status, code) = h.post("/api/auth/login-codes", json!({})).await?;
    assert_eq!(status, 200);
    let code = code["code"].as_str().unwrap_or_default().to_string();
    let signin = h
        .http
        .post(h.url("/api/auth/session"))
        .json(&json!({"code": code}))
        .send()
        .await?;
    assert_eq!(signin.status().as_u16(), 204);
    let cookie = signin
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default().to_string();

    let again = h
        .http
        .post(h.url("/api/auth/session"))
        .json(&json!({"code": code}))
        .send()
        .await?;
    assert_eq!(again.status().as_u16(), 401, "a code works once");
    let status = h
        .http
        .get(h.url("/api/status"))
        .header("Cookie", &pair)
        .send()
        .await?;
    assert_eq!(status.status().as_u16(), 200);
    let no_origin = h
        .http
        .post(h.url("/api/sessions"))
        .header("Cookie", &pair)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(
        no_origin.status().as_u16(),
        403,
        "cookie-only writes need our Origin"
    );
    let foreign = h
        .http
        .post(h.url("/api/sessions"))
        .header("Cookie", &pair)
        .header("Origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(foreign.status().as_u16(), 403);
    let ours = h
        .http
        .post(h.url("/api/sessions"))
        .header("Cookie", &pair)
        .header("Origin", &h.base)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(ours.status().as_u16(), 201);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rename_archive_fork_and_search() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    h.model.enqueue(Script::text("First answer."));
    let mut events = h.events(None).await?;
    let turn = h.send(&session, "remember the word tangerine").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    events.turn_completed(&turn).await;

    let patch = |body| {
        h.http
            .patch(h.url(&format!("/api/sessions/{session}")))
            .bearer_auth(&h.token)
            .json(&body)
            .send()
    };
    let renamed: serde_json::Value = patch(json!({"name": "Fruit talk", "pinned": true}))
        .await?
        .json()
        .await?;
    assert_eq!(
        (renamed["name"].as_str(), renamed["pinned"].as_bool()),
        (Some("Fruit talk"), Some(true))
    );
    let found = h.get("/api/sessions?q=fruit").await?;
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(h.get("/api/sessions?q=zebra").await?["data"], json!([]));

    let (status, fork) = h
        .post(&format!("/api/sessions/{session}/fork"), json!({}))
        .await?;
    assert_eq!(status, 201, "{fork}");
    assert_ne!(fork["id"], session.as_str());
    let fork_history = h
        .get(&format!(
            "/api/sessions/{}/history",
            fork["id"].as_str().unwrap_or_default()
        ))
        .await?;
    assert!(
        fork_history.to_string().contains("tangerine"),
        "the fork carries the history"
    );

    let archived: serde_json::Value = patch(json!({"archived": true})).await?.json().await?;
    assert_eq!(archived["archived"], true);
    assert!(h.get("/api/sessions").await?["data"]
        .as_array()
        .is_some_and(|a| a.iter().all(|s| s["id"] != session.as_str())));
    assert_eq!(
        h.get("/api/sessions?archived=true").await?["data"][0]["id"],
        session.as_str()
    );
    let (status, body) = h
        .post(
            &format!("/api/sessions/{session}/messages"),
            json!({"text": "hi"}),
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    let restored: serde_json::Value = patch(json!({"archived": false})).await?.json().await?;
    assert_eq!(restored["archived"], false);
    h.model.enqueue(Script::text("Still here."));
    let turn = h.send(&session, "and now?").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    let history = h.get(&format!("/api/sessions/{session}/history")).await?;
    let turns = history["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(turns.len(), 2);
    assert!(
        turns[0].to_string().contains("tangerine") && turns[1].to_string().contains("and now?"),
        "oldest first"
    );
    let bad: serde_json::Value = patch(json!({"name": "x".repeat(500)}))
        .await?
        .json()
        .await?;
    assert_eq!(bad["error"]["code"], "invalid_input");
    tokio::time::timeout(Duration::from_secs(30), h.runtime.shutdown()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_approval_gets_the_timeout_decision() -> TestResult {
    let h = Harness::start_with(ApprovalPolicy::Guarded, |c| {
        c.codex.approval_timeout_secs = 1
    })
    .await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::shell("touch late.txt", "call_t"));
    h.model.enqueue(Script::text("Fine, I will not."));
    let turn = h.send(&session, "ask and wait").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = approval_for(&h, &mut events).await;
    let resolved = events
        .wait_for("approval.resolved", |e| e["type"] == "approval.resolved")
        .await;
    assert_eq!(resolved["approval"]["id"], id.as_str());
    assert_eq!(resolved["approval"]["status"], "decline");
    assert_eq!(resolved["approval"]["answeredBy"], "timeout");
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    assert!(!h.env.work().join("late.txt").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_asks_the_model_for_a_summary() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text("A long answer."));
    let turn = h.send(&session, "say something long").await?["turnId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    events.turn_completed(&turn).await;
    // The summary comes slowly: meanwhile a message is refused with a reason
    // (Codex cannot steer a compaction), not a 502.
    h.model
        .enqueue(Script::chunks(&["Summary: ", "we talked."], 1500));
    let (status, body) = h
        .post(&format!("/api/sessions/{session}/compact"), json!({}))
        .await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = h
        .post(
            &format!("/api/sessions/{session}/messages"),
            json!({"text": "and now?"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let requests = h.model.wait_for_requests(2, common::WAIT).await;
    assert!(
        requests
            .get(1)
            .is_some_and(|r| r.input_text().contains("COMPACTION")),
        "the second request is the compaction prompt"
    );
    events
        .wait_for("compaction item", |e| {
            e["type"] == "item.completed" && e["item"]["type"] == "contextCompaction"
        })
        .await;
    // Once the compaction turn ended, messages go through again.
    events
        .wait_for("the compaction turn ending", |e| {
            e["type"] == "turn.completed" && e["sessionId"] == session.as_str()
        })
        .await;
    h.model.enqueue(Script::text("Go on."));
    let (status, body) = h
        .post(
            &format!("/api/sessions/{session}/messages"),
            json!({"text": "and now?"}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_validate_save_and_pass_the_provider_key_to_codex() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let mut events = h.events(None).await?;
    let settings = h.get("/api/settings").await?;
    assert_eq!(settings["codex"]["approvalPolicy"], "open", "{settings}");
    assert_eq!(settings["providerKeySet"], false);
    assert_eq!(settings["secrets"]["backend"], "file");
    assert_eq!(settings["autostart"]["supported"], false);
    assert_eq!(settings["restartRequired"], false);

    // A bad field changes nothing and says what is wrong.
    let patch = |body: Value| {
        h.http
            .patch(h.url("/api/settings"))
            .bearer_auth(&h.token)
            .json(&body)
            .send()
    };
    let bad =
        patch(json!({"notifications": {"dnd": true}, "codex": {"cwd": "/no/such/dir"}})).await?;
    assert_eq!(bad.status().as_u16(), 422);
    let body: Value = bad.json().await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/no/such/dir"),
        "{body}"
    );
    // A body that does not fit the schema is 400, a refused value 422.
    let unknown = patch(json!({"notifications": {"dnt": true}})).await?;
    assert_eq!(unknown.status().as_u16(), 400);
    let half = patch(json!({"memory": {"embeddingsUrl": "http://127.0.0.1:11434/v1"}})).await?;
    assert_eq!(half.status().as_u16(), 422);
    let body: Value = half.json().await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("set both"),
        "{body}"
    );
    assert_eq!(
        h.get("/api/settings").await?["memory"]["embeddingsUrl"],
        Value::Null
    );
    assert_eq!(h.get("/api/settings").await?["notifications"]["dnd"], false);

    // A good patch is saved to config.toml and announced.
    let saved: Value =
        patch(json!({"notifications": {"dnd": true}, "codex": {"approvalPolicy": "guarded"}}))
            .await?
            .json()
            .await?;
    assert_eq!(saved["notifications"]["dnd"], true, "{saved}");
    let on_disk = std::fs::read_to_string(h.env.data().join("config.toml"))?;
    assert!(
        on_disk.contains("dnd = true") && on_disk.contains("approval_policy = \"guarded\""),
        "{on_disk}"
    );
    events
        .wait_for("settings.changed", |e| {
            e["type"] == "settings.changed" && e["settings"]["notifications"]["dnd"] == true
        })
        .await;

    // A server tried before it becomes the provider: its models, or why not.
    let base = h.model.base_url();
    let (status, checked) = h
        .post("/api/settings/provider-check", json!({"baseUrl": base}))
        .await?;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["models"], json!(["mock-model"]));
    let (status, refused) = h
        .post(
            "/api/settings/provider-check",
            json!({"baseUrl": base, "apiKey": "sk-wrong"}),
        )
        .await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "provider_refused");
    let (status, gone) = h
        .post(
            "/api/settings/provider-check",
            json!({"baseUrl": "http://127.0.0.1:9/v1"}),
        )
        .await?;
    assert_eq!(status, 502, "{gone}");
    assert_eq!(gone["error"]["code"], "provider_unreachable");
    for bad in ["ftp://example.com/v1", "not a url", ""] {
        let (status, body) = h
            .post("/api/settings/provider-check", json!({"baseUrl": bad}))
            .await?;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // The provider key: stored, never shown, and given to Codex after a restart.
    let put = h
        .http
        .put(h.url("/api/settings/provider-key"))
        .bearer_auth(&h.token)
        .json(&json!({"key": "sk-perch-test-42"}))
        .send()
        .await?;
    let after: Value = put.json().await?;
    assert_eq!(after["providerKeySet"], true, "{after}");
    assert_eq!(after["restartRequired"], true, "{after}");
    assert!(!after.to_string().contains("sk-perch-test-42"));
    let secret_file = h.env.data().join("secrets/provider-api-key");
    assert!(stdx::private::is_private(&secret_file)?);

    let (status, restarted) = h.post("/api/codex/restart", json!({})).await?;
    assert_eq!(status, 202, "{restarted}");
    assert_eq!(restarted["restartRequired"], false, "{restarted}");
    h.runtime.wait_ready(Duration::from_secs(30)).await;
    let session = h.new_session().await?;
    h.model.enqueue(Script::text("keyed"));
    let sent = h.send(&session, "who am I").await?;
    events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;
    let requests = h.model.requests();
    let auth = requests
        .last()
        .and_then(|r| r.headers.get("authorization").cloned())
        .unwrap_or_default();
    assert_eq!(auth, "Bearer sk-perch-test-42");

    let diagnostics = h.get("/api/diagnostics").await?;
    let text = diagnostics["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("## status") && text.contains("\"providerKeySet\": true"),
        "{text}"
    );
    assert!(!text.contains("sk-perch-test-42"));
    let cleared = h
        .http
        .delete(h.url("/api/settings/provider-key"))
        .bearer_auth(&h.token)
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(cleared["providerKeySet"], false);

    // The relay token: a secret (0600 file here), never echoed back.
    let put = h
        .http
        .put(h.url("/api/settings/relay-token"))
        .bearer_auth(&h.token)
        .json(&json!({"token": "relay-secret-7"}))
        .send()
        .await?;
    assert_eq!(put.status(), 200);
    let settings: Value = put.json().await?;
    assert_eq!(settings["relayTokenSet"], true);
    assert!(!settings.to_string().contains("relay-secret-7"));
    let file = h.env.data().join("secrets/relay-token");
    assert_eq!(std::fs::read_to_string(&file)?.trim(), "relay-secret-7");
    assert!(stdx::private::is_private(&file)?);
    let blank = h
        .http
        .put(h.url("/api/settings/relay-token"))
        .bearer_auth(&h.token)
        .json(&json!({"token": " "}))
        .send()
        .await?;
    assert_eq!(blank.status(), 422);
    let cleared = h
        .http
        .delete(h.url("/api/settings/relay-token"))
        .bearer_auth(&h.token)
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(cleared["relayTokenSet"], false);
    assert!(!file.exists());
    Ok(())
}

/// Memory, planner and wakeup routes refuse bad input with a status and a
/// message a person can act on, and change nothing when they do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_state_routes_refuse_bad_input_and_lose_nothing() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let cases = [
        (
            "/api/memories",
            json!({ "text": "   " }),
            422,
            "needs some text",
        ),
        (
            "/api/memories",
            json!({ "text": "x", "tags": ["two words"] }),
            422,
            "is not valid",
        ),
        (
            "/api/memories",
            json!({ "text": "x", "importance": 3 }),
            422,
            "between 0 and 1",
        ),
        (
            "/api/memories",
            json!({ "text": "x", "mood": "happy" }),
            400,
            "'mood' was unexpected",
        ),
        // The schema closes tagged variants as serde does (openapi.rs).
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "in", "delay": "1h", "at": 5 } }),
            400,
            "does not fit the API's schema",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "in", "delay": "1h" }, "target": { "kind": "new", "sessionId": "s" } }),
            400,
            "does not fit the API's schema",
        ),
        ("/api/plans", json!({ "name": "" }), 422, "plan name"),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "cron", "expr": "* * * * * *" } }),
            422,
            "five",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "cron", "expr": "0 9 * * *", "tz": "Mars/Base" } }),
            422,
            "IANA",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "in", "delay": "soon" } }),
            422,
            "not a duration",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "every", "every": "1s" } }),
            422,
            "at least 10 seconds",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "at", "at": 1000 } }),
            422,
            "has passed",
        ),
        (
            "/api/wakeups",
            json!({ "prompt": "p", "schedule": { "kind": "in", "delay": "1h" }, "target": { "kind": "session", "sessionId": "nope" } }),
            404,
            "nope",
        ),
    ];
    for (path, body, status, says) in cases {
        let (got, answer) = h.post(path, body.clone()).await?;
        assert_eq!(got, status, "{path} {body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path} {body}: {message}");
    }
    assert_eq!(h.get("/api/memories").await?["total"], 0);
    assert_eq!(
        h.get("/api/wakeups").await?["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // A search page far past the end is just empty.
    let far = h
        .get(&format!("/api/memories?q=anything&offset={}", u32::MAX))
        .await?;
    assert_eq!(far["data"].as_array().map(Vec::len), Some(0), "{far}");

    // Ids in paths are numbers; a plan name is unique whatever its case.
    let bad_id = h
        .http
        .get(h.url("/api/memories/abc"))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(bad_id.status().as_u16(), 400);
    assert_eq!(
        h.post("/api/plans", json!({ "name": "Trip" })).await?.0,
        201
    );
    let (status, answer) = h.post("/api/plans", json!({ "name": "trip" })).await?;
    assert_eq!(status, 409, "{answer}");

    // An import larger than the 1 MiB body limit of other routes is taken
    // (imports may be 16 MiB); a bad line is reported, the good ones kept.
    let line = format!("{{\"text\":\"{}\"}}\n", "a".repeat(1000));
    let mut file = line.repeat(2_000);
    file.push_str("not json\n");
    let imported: serde_json::Value = h
        .http
        .post(h.url("/api/memories/import?format=jsonl"))
        .bearer_auth(&h.token)
        .header("content-type", "text/plain")
        .body(file)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(imported["imported"], 2_000, "{imported}");
    assert_eq!(imported["skipped"], 1);
    let (status, answer) = h.post("/api/memories/import", json!({})).await?;
    assert_eq!(status, 400, "{answer}");
    Ok(())
}
