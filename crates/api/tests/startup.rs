//! Perch answers while it starts: the API serves before Codex is launched
//! (status `starting`), and a request that needs Codex waits for it
//! instead of failing.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_before_codex_starts_and_requests_wait_for_it() -> TestResult {
    let h = Harness::open_with(ApprovalPolicy::Open, |_| {}).await?;
    assert_eq!(h.get("/api/health").await?["status"], "ok");
    let status = h.get("/api/status").await?;
    assert_eq!(status["codex"]["state"], "starting", "{status}");
    assert_eq!(
        status["codex"]["detail"],
        serde_json::Value::Null,
        "{status}"
    );

    // Asked now, answered once Codex is up.
    let early = {
        let http = h.http.clone();
        let url = h.url("/api/sessions");
        let token = h.token.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
        })
    };
    h.runtime.launch_codex(None).await?;
    let created = early.await??;
    assert_eq!(created.status().as_u16(), 201);
    let session: serde_json::Value = created.json().await?;
    assert!(
        session["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{session}"
    );
    Ok(())
}
