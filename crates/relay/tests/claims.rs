//! Claims: exactly one winner under contention, leases that expire, renew
//! and release, and epoch fencing of claims from a replaced instance.

mod common;

use common::{Relay, TestResult};
use perch_relay::RelaySettings;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_claimers_get_exactly_one_winner_per_message() -> TestResult {
    let r = Arc::new(Relay::start(RelaySettings::default()).await?);
    for n in 0..50 {
        r.register(&format!("worker-{n}"), json!({"capabilities": ["fix"]}))
            .await?;
    }
    let mut messages = Vec::new();
    for n in 0..10 {
        let message = r
            .ok("POST", "/api/messages", Some(json!({"from": "ci", "to": "cap:fix", "body": format!("job {n}"), "claimable": true})))
            .await?;
        messages.push(message["id"].as_i64().unwrap_or_default());
    }
    for id in messages {
        let mut claims = tokio::task::JoinSet::new();
        for n in 0..50 {
            let r = r.clone();
            claims.spawn(async move {
                let answer = r
                    .call(
                        "POST",
                        &format!("/api/messages/{id}/claim"),
                        Some(json!({"agentId": format!("worker-{n}")})),
                    )
                    .await;
                answer
                    .map(|(status, body)| (n, status, body))
                    .map_err(|e| e.to_string())
            });
        }
        let mut winners = Vec::new();
        let mut losers = 0;
        while let Some(joined) = claims.join_next().await {
            let (n, status, body) = joined??;
            match status {
                200 => winners.push((n, body)),
                409 => losers += 1,
                other => panic!("claim answered {other}: {body}"),
            }
        }
        assert_eq!((winners.len(), losers), (1, 49), "message {id}");
        let (n, body) = &winners[0];
        assert_eq!(body["claimedBy"], format!("worker-{n}"));
        let stored = r.ok("GET", &format!("/api/messages/{id}"), None).await?;
        assert_eq!(
            stored["claimedBy"], body["claimedBy"],
            "the store agrees with the answer"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_lease_that_expires_lets_another_agent_claim() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    r.register("a", json!({})).await?;
    r.register("b", json!({})).await?;
    let message = r
        .ok(
            "POST",
            "/api/messages",
            Some(json!({"from": "ci", "to": "broadcast", "body": "job", "claimable": true})),
        )
        .await?;
    let id = message["id"].as_i64().unwrap_or_default();
    let claim = |agent: &str, action: &str| {
        (
            format!("/api/messages/{id}/{action}"),
            json!({"agentId": agent, "leaseMs": 1000}),
        )
    };

    let (path, body) = claim("a", "claim");
    let held = r.ok("POST", &path, Some(body)).await?;
    assert!(
        held["claimExpiresAt"].as_i64() > held["claimedAt"].as_i64(),
        "{held}"
    );
    for (agent, action) in [("b", "claim"), ("b", "claim/renew"), ("b", "claim/release")] {
        let (path, body) = claim(agent, action);
        let (status, answer) = r.call("POST", &path, Some(body)).await?;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("conflict")),
            "{agent} {action}: {answer}"
        );
    }
    let (path, body) = claim("a", "claim/renew");
    r.ok("POST", &path, Some(body)).await?;

    // Let the lease run out (the lease is the thing under test; no timing
    // is asserted), then b may claim and a's renewal is refused.
    let expires = r.ok("GET", &format!("/api/messages/{id}"), None).await?["claimExpiresAt"]
        .as_i64()
        .unwrap_or_default();
    // A lease is wall-clock time by definition; there is no event to wait for.
    let left = u64::try_from(expires + 1 - perch_now()).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(left)).await;
    let (path, body) = claim("b", "claim");
    assert_eq!(r.ok("POST", &path, Some(body)).await?["claimedBy"], "b");
    let (path, body) = claim("a", "claim/renew");
    assert_eq!(r.call("POST", &path, Some(body)).await?.0, 409);
    let (path, body) = claim("b", "claim/release");
    assert_eq!(
        r.ok("POST", &path, Some(body)).await?["claimedBy"],
        serde_json::Value::Null
    );
    let (path, body) = claim("a", "claim");
    assert_eq!(r.ok("POST", &path, Some(body)).await?["claimedBy"], "a");

    // Not claimable, unknown agent, lease out of range.
    let plain = r.send("ci", "broadcast", "not a job").await?;
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/messages/{}/claim", plain["id"]),
            Some(json!({"agentId": "a"})),
        )
        .await?;
    assert_eq!(status, 400);
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/messages/{id}/claim"),
            Some(json!({"agentId": "ghost"})),
        )
        .await?;
    assert_eq!(status, 404);
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/messages/{id}/claim"),
            Some(json!({"agentId": "a", "leaseMs": 5})),
        )
        .await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test]
async fn a_replaced_instance_can_neither_claim_nor_renew() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    r.register("codex", json!({"instanceId": "old"})).await?;
    let old = json!({"agentId": "codex", "instanceId": "old", "epoch": 1});
    let message = r
        .ok(
            "POST",
            "/api/messages",
            Some(json!({"from": "ci", "to": "codex", "body": "job", "claimable": true})),
        )
        .await?;
    let id = message["id"].as_i64().unwrap_or_default();
    r.ok(
        "POST",
        &format!("/api/messages/{id}/claim"),
        Some(old.clone()),
    )
    .await?;

    assert_eq!(
        r.register("codex", json!({"instanceId": "new"})).await?["epoch"],
        2
    );
    for action in ["claim", "claim/renew", "claim/release"] {
        let (status, answer) = r
            .call(
                "POST",
                &format!("/api/messages/{id}/{action}"),
                Some(old.clone()),
            )
            .await?;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("stale_instance")),
            "{action}: {answer}"
        );
    }
    let current = json!({"agentId": "codex", "instanceId": "new", "epoch": 2});
    r.ok(
        "POST",
        &format!("/api/messages/{id}/claim/renew"),
        Some(current),
    )
    .await?;
    Ok(())
}

fn perch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
