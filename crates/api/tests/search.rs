//! `GET /api/search`: one search over session names, transcripts (archived
//! sessions' too), memories and plans, ranked, with the matching line; and
//! what it says to a query it cannot take.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use serde_json::{json, Value};

/// The matching line as text, matched words in brackets.
fn line(hit: &Value) -> String {
    hit["line"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|span| {
            let text = span["text"].as_str().unwrap_or_default();
            if span["matched"] == true {
                format!("[{text}]")
            } else {
                text.to_string()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_search_finds_names_messages_of_archived_sessions_memories_and_plans() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text(
        "Checked the logs.\nThe Zanzibar runner timed out twice.\nNothing else.",
    ));
    let sent = h.send(&session, "Why is the deploy flaky?").await?;
    let turn = sent["turnId"].as_str().ok_or("no turn id")?.to_string();
    assert_eq!(events.turn_completed(&turn).await["status"], "completed");
    let archived = h
        .http
        .patch(h.url(&format!("/api/sessions/{session}")))
        .bearer_auth(&h.token)
        .json(&json!({"archived": true}))
        .send()
        .await?;
    assert_eq!(archived.status(), 200);

    // Only the agent's reply of an archived session has the word.
    let found = h.get("/api/search?q=zanzib").await?;
    let hits = found["hits"].as_array().ok_or("no hits")?;
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["target"]["kind"], "message");
    assert_eq!(hits[0]["target"]["sessionId"], session.as_str());
    assert_eq!(hits[0]["target"]["turnId"], turn.as_str());
    assert_eq!(hits[0]["target"]["role"], "assistant");
    assert_eq!(hits[0]["archived"], true);
    assert_eq!(line(&hits[0]), "The [Zanzibar] runner timed out twice.");
    assert!(
        found["partial"][0]
            .as_str()
            .unwrap_or_default()
            .contains("Inbox"),
        "the peer network is off here: {found}"
    );

    // The person's words, a session name, a memory and a plan item.
    let renamed = h
        .http
        .patch(h.url(&format!("/api/sessions/{session}")))
        .bearer_auth(&h.token)
        .json(&json!({"name": "Zanzibar runner triage"}))
        .send()
        .await?;
    assert_eq!(renamed.status(), 200);
    let (status, memory) = h
        .post(
            "/api/memories",
            json!({"text": "The Zanzibar runner lives in rack 4."}),
        )
        .await?;
    assert_eq!(status, 201, "{memory}");
    let (status, plan) = h
        .post("/api/plans", json!({"name": "Runner fixes"}))
        .await?;
    assert_eq!(status, 201, "{plan}");
    let plan_id = plan["id"].as_i64().ok_or("no plan id")?;
    let (status, plan) = h
        .post(
            &format!("/api/plans/{plan_id}/items"),
            json!({"text": "Move the zanzibar runner to rack 5"}),
        )
        .await?;
    assert_eq!(status, 200, "{plan}");
    let item = &plan["items"][0];

    let found = h.get("/api/search?q=Zanzibar%20RUNNER").await?;
    let kinds: Vec<&str> = found["hits"]
        .as_array()
        .ok_or("no hits")?
        .iter()
        .map(|h| h["target"]["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds.len(), 4, "{found}");
    for kind in ["session", "message", "memory", "plan"] {
        assert!(kinds.contains(&kind), "{kind} missing: {found}");
    }
    // Both words in the title rank the session's name first.
    assert_eq!(kinds[0], "session", "{found}");
    let plan_hit = found["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["target"]["kind"] == "plan")
        .ok_or("no plan hit")?;
    assert_eq!(plan_hit["target"]["itemId"], item["id"]);
    assert_eq!(plan_hit["title"], "Plan: Runner fixes");

    let person = h.get("/api/search?q=flaky").await?;
    assert_eq!(person["hits"][0]["target"]["role"], "user", "{person}");
    assert_eq!(line(&person["hits"][0]), "Why is the deploy [flaky]?");

    let none = h.get("/api/search?q=zanzibar%20quokka").await?;
    assert_eq!(none["hits"], json!([]), "every word must occur");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_search_cannot_take_is_refused_with_what_to_change() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let long = "a".repeat(10_000);
    for (query, status, words) in [
        (format!("q={long}"), 422, "at most 500"),
        ("q=".to_string(), 422, "no word"),
        ("q=%20%2A%22%28".to_string(), 422, "no word"),
        ("q=x&limit=0".to_string(), 422, "limit must be 1–100"),
        ("q=x&limit=101".to_string(), 422, "limit must be 1–100"),
        ("q=x&limit=many".to_string(), 400, "limit"),
        ("q=x&page=2".to_string(), 400, "page"),
        (String::new(), 400, "q"),
    ] {
        let response = h
            .http
            .get(h.url(&format!("/api/search?{query}")))
            .bearer_auth(&h.token)
            .send()
            .await?;
        let code = response.status().as_u16();
        let body: Value = response.json().await?;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(code, status, "{query:.40}: {body}");
        assert!(message.contains(words), "{query:.40}: {message}");
    }
    // FTS5 syntax in a query is only words.
    let found = h.get("/api/search?q=NEAR(a%20b)%20OR%20*").await?;
    assert_eq!(found["hits"], json!([]));
    let unauthorized = h.http.get(h.url("/api/search?q=x")).send().await?;
    assert_eq!(unauthorized.status(), 401);
    Ok(())
}
