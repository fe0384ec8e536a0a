//! Contract tests for every Agent Relay route, against a real relay over
//! HTTP with a real SQLite file.

mod common;

use common::{ids, Relay, TestResult};
use perch_relay::RelaySettings;
use serde_json::json;

#[tokio::test]
async fn agents_register_update_and_fence_stale_instances() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    let first = r.register("codex-a", json!({"instanceId": "i-1", "label": "backend", "tags": ["codex", "x"], "capabilities": ["chat"], "meta": {"cwd": "/w"}})).await?;
    assert_eq!(
        (
            first["epoch"].as_i64(),
            first["status"].as_str(),
            first["ready"].as_bool()
        ),
        (Some(1), Some("online"), Some(true))
    );
    assert_eq!(
        r.register("codex-a", json!({"instanceId": "i-1"})).await?["epoch"],
        1,
        "the same instance keeps its epoch"
    );
    let proof_1 = json!({"instanceId": "i-1", "epoch": 1});
    r.ok(
        "POST",
        "/api/agents/codex-a/heartbeat",
        Some(proof_1.clone()),
    )
    .await?;
    r.ok("POST", "/api/agents/codex-a/heartbeat", None).await?; // agent-relay sends no body without a session

    // A new instance takes over: the old one is fenced everywhere.
    let second = r
        .register("codex-a", json!({"instanceId": "i-2", "tags": ["codex"]}))
        .await?;
    assert_eq!(second["epoch"], 2);
    let stale = [
        ("POST", "/api/agents/codex-a/heartbeat", proof_1.clone()),
        (
            "PATCH",
            "/api/agents/codex-a/status",
            json!({"status": "busy", "instanceId": "i-1", "epoch": 1}),
        ),
        (
            "PATCH",
            "/api/agents/codex-a/ready",
            json!({"ready": false, "instanceId": "i-1", "epoch": 1}),
        ),
    ];
    for (method, path, body) in stale {
        let (status, answer) = r.call(method, path, Some(body)).await?;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("stale_instance")),
            "{method} {path}: {answer}"
        );
    }
    let proof_2 = json!({"instanceId": "i-2", "epoch": 2});
    // Every field route, with the current proof.
    let updates = [
        ("status", json!({"status": "busy"}), "status", json!("busy")),
        ("ready", json!({"ready": false}), "ready", json!(false)),
        (
            "label",
            json!({"label": "reviewer"}),
            "label",
            json!("reviewer"),
        ),
        (
            "tags",
            json!({"tags": ["codex", "review", "codex"]}),
            "tags",
            json!(["codex", "review"]),
        ),
        (
            "capabilities",
            json!({"capabilities": ["chat", "review"]}),
            "capabilities",
            json!(["chat", "review"]),
        ),
        (
            "channels",
            json!({"channels": ["frontend"]}),
            "channels",
            json!(["frontend"]),
        ),
        (
            "meta",
            json!({"meta": {"model": "m", "cwd": null}}),
            "meta",
            json!({"model": "m"}),
        ),
    ];
    for (field, mut body, key, expected) in updates {
        if let (Some(body), Some(proof)) = (body.as_object_mut(), proof_2.as_object()) {
            body.extend(proof.clone());
        }
        let agent = r
            .ok("PATCH", &format!("/api/agents/codex-a/{field}"), Some(body))
            .await?;
        assert_eq!(agent[key], expected, "{field}: {agent}");
    }
    let (status, _) = r
        .call(
            "PATCH",
            "/api/agents/codex-a/status",
            Some(json!({"ready": true})),
        )
        .await?;
    assert_eq!(status, 400, "a field route needs its field");
    let (status, _) = r
        .call(
            "PATCH",
            "/api/agents/codex-a/status",
            Some(json!({"status": "asleep"})),
        )
        .await?;
    assert_eq!(status, 400);
    let (status, _) = r
        .call(
            "POST",
            "/api/agents/codex-a/heartbeat",
            Some(json!({"instanceId": "i-2"})),
        )
        .await?;
    assert_eq!(status, 400, "instanceId without epoch");

    r.register("claude-b", json!({"tags": ["claude"], "label": "docs"}))
        .await?;
    let filtered = [
        ("?tag=review", vec!["codex-a"]),
        ("?label=docs", vec!["claude-b"]),
        ("?status=busy", vec!["codex-a"]),
        ("", vec!["claude-b", "codex-a"]),
    ];
    for (query, expected) in filtered {
        let agents = r.ok("GET", &format!("/api/agents{query}"), None).await?;
        let got: Vec<&str> = agents
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["id"].as_str())
            .collect();
        assert_eq!(got, expected, "{query}");
    }
    assert_eq!(
        r.ok("GET", "/api/agents/claude-b", None).await?["label"],
        "docs"
    );
    assert_eq!(r.call("DELETE", "/api/agents/claude-b", None).await?.0, 204);
    assert_eq!(r.call("GET", "/api/agents/claude-b", None).await?.0, 404);
    assert_eq!(
        r.call("POST", "/api/agents/claude-b/heartbeat", None)
            .await?
            .0,
        404,
        "agent-relay re-registers on 404"
    );
    for bad in [
        json!({"id": ""}),
        json!({"id": "has space"}),
        json!({"id": "a/b"}),
        json!({"id": "x", "tags": "notalist"}),
        json!({"id": "x", "status": "asleep"}),
    ] {
        assert_eq!(
            r.call("POST", "/api/agents", Some(bad.clone())).await?.0,
            400,
            "{bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn messages_reach_their_targets_and_track_reads_per_agent() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    r.register(
        "a",
        json!({"tags": ["x"], "capabilities": ["c"], "label": "L"}),
    )
    .await?;
    r.register("b", json!({})).await?;
    assert_eq!(
        r.ok("GET", "/api/messages/cursor", None).await?,
        json!({"latestId": 0})
    );
    let mut to_a = Vec::new();
    for target in ["a", "tag:x", "cap:c", "label:L", "broadcast"] {
        to_a.push(
            r.send("b", target, &format!("to {target}")).await?["id"]
                .as_i64()
                .unwrap_or_default(),
        );
    }
    let to_b = r.send("a", "b", "only for b").await?;
    assert_eq!(
        to_b["threadId"], to_b["id"],
        "a new message starts its own thread"
    );
    assert_eq!(
        ids(&r.ok("GET", "/api/messages?for=a&unread=true", None).await?),
        to_a,
        "a sees what reaches it, not what it sent"
    );
    assert_eq!(
        ids(&r.ok("GET", "/api/messages?for=b&unread=true", None).await?),
        vec![to_b["id"].as_i64().unwrap_or_default()],
        "broadcast from b is not for b"
    );
    assert_eq!(
        ids(&r
            .ok(
                "GET",
                &format!("/api/messages?for=a&sinceId={}", to_a[2]),
                None
            )
            .await?),
        to_a[3..].to_vec()
    );
    assert_eq!(
        r.ok("GET", "/api/messages/cursor", None).await?["latestId"],
        to_b["id"]
    );

    // Read markers are per agent.
    let read = r
        .ok(
            "PATCH",
            &format!("/api/messages/{}", to_a[4]),
            Some(json!({"readBy": "a"})),
        )
        .await?;
    assert_eq!(read["readBy"], json!(["a"]));
    assert_eq!(
        ids(&r.ok("GET", "/api/messages?for=a&unread=true", None).await?),
        to_a[..4].to_vec()
    );
    assert_eq!(
        ids(&r.ok("GET", "/api/messages?for=a", None).await?),
        to_a,
        "without unread, read ones stay listed"
    );

    // Replies share a thread; the full message carries every field.
    let reply = r
        .ok("POST", "/api/messages", Some(json!({"from": "a", "to": "b", "body": "re", "subject": "S", "channel": "ops", "replyTo": to_b["id"], "type": "chat", "meta": {"k": 1}})))
        .await?;
    assert_eq!(
        (
            &reply["threadId"],
            &reply["replyTo"],
            &reply["channel"],
            &reply["type"],
            &reply["meta"]["k"]
        ),
        (
            &to_b["id"],
            &to_b["id"],
            &json!("ops"),
            &json!("chat"),
            &json!(1)
        )
    );
    assert_eq!(
        ids(&r
            .ok(
                "GET",
                &format!("/api/messages/{}/thread", reply["id"]),
                None
            )
            .await?),
        ids(&json!([to_b, reply]))
    );
    assert_eq!(
        ids(&r.ok("GET", "/api/messages?channel=ops", None).await?),
        ids(&json!([reply]))
    );
    assert_eq!(
        r.ok("GET", &format!("/api/messages/{}", reply["id"]), None)
            .await?["body"],
        "re"
    );
    let page = r
        .ok(
            "GET",
            &format!("/api/messages?beforeId={}&limit=2", to_b["id"]),
            None,
        )
        .await?;
    assert_eq!(
        ids(&page),
        to_a[3..].to_vec(),
        "beforeId pages backwards, oldest first"
    );

    assert_eq!(
        r.call("DELETE", &format!("/api/messages/{}", reply["id"]), None)
            .await?
            .0,
        204
    );
    assert_eq!(
        r.call("GET", &format!("/api/messages/{}", reply["id"]), None)
            .await?
            .0,
        404
    );

    // Bad input: a clear 4xx, nothing stored.
    let before = r.ok("GET", "/api/messages/cursor", None).await?;
    let bad = [
        (json!({"from": "a", "to": "tag:", "body": "x"}), 400),
        (json!({"from": "a", "to": "b", "body": "   "}), 400),
        (
            json!({"from": "a", "to": "b", "body": "x", "replyTo": 999_999}),
            400,
        ),
        (json!({"to": "b", "body": "x"}), 400),
        (
            json!({"from": "a", "to": "b", "body": "x".repeat(70_000)}),
            400,
        ),
    ];
    for (body, status) in bad {
        let (got, answer) = r.call("POST", "/api/messages", Some(body)).await?;
        assert_eq!(got, status, "{answer}");
        assert!(
            answer["error"].as_str().is_some_and(|m| m.len() > 8),
            "{answer}"
        );
    }
    let text = r
        .request(reqwest::Method::POST, "/api/messages")
        .header("content-type", "text/plain")
        .body("{\"from\":\"a\",\"to\":\"b\",\"body\":\"x\"}")
        .send()
        .await?;
    assert_eq!(
        text.status().as_u16(),
        415,
        "a cross-site form post is refused"
    );
    let huge = r
        .request(reqwest::Method::POST, "/api/messages")
        .header("content-type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await?;
    assert_eq!(huge.status().as_u16(), 413);
    for path in [
        "/api/messages?unread=true",
        "/api/messages?sinceId=abc",
        "/api/messages/abc",
        "/api/messages/1/claim",
    ] {
        let method = if path.ends_with("claim") {
            "POST"
        } else {
            "GET"
        };
        let (status, answer) = r.call(method, path, None).await?;
        assert_eq!(status, 400, "{path}: {answer}");
    }
    assert_eq!(r.ok("GET", "/api/messages/cursor", None).await?, before);
    let (status, answer) = r.call("GET", "/api/nope", None).await?;
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")));
    Ok(())
}

#[tokio::test]
async fn pairs_are_exclusive_and_carry_their_own_chat() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    for (id, tags) in [
        ("a", json!(["codex"])),
        ("b", json!(["codex"])),
        ("c", json!(["claude"])),
    ] {
        r.register(id, json!({"tags": tags})).await?;
    }
    let (status, pair) = r
        .call(
            "POST",
            "/api/pairs",
            Some(json!({"from": "a", "target": "b", "objective": "Debug flaky tests"})),
        )
        .await?;
    assert_eq!(
        (status, pair["status"].as_str(), pair["to"].as_str()),
        (201, Some("pending"), Some("b"))
    );
    let pair_id = pair["id"].as_str().unwrap_or_default().to_string();
    let invite = r.ok("GET", "/api/messages?for=b&unread=true", None).await?;
    assert_eq!(
        (
            invite[0]["type"].as_str(),
            invite[0]["meta"]["pairId"].as_str(),
            invite[0]["body"].as_str()
        ),
        (
            Some("pair.invite"),
            Some(pair_id.as_str()),
            Some("Debug flaky tests")
        )
    );

    // One pending or active pair per agent.
    for (from, target) in [("c", "b"), ("a", "c"), ("c", "tag:codex")] {
        let (status, answer) = r
            .call(
                "POST",
                "/api/pairs",
                Some(json!({"from": from, "target": target})),
            )
            .await?;
        assert_eq!(status, 409, "{from} → {target}: {answer}");
    }
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/pairs/{pair_id}/accept"),
            Some(json!({"agentId": "c"})),
        )
        .await?;
    assert_eq!(status, 403, "only the invitee accepts");
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/pairs/{pair_id}/messages"),
            Some(json!({"from": "a", "body": "early"})),
        )
        .await?;
    assert_eq!(status, 409, "no chat before it is accepted");
    let active = r
        .ok(
            "POST",
            &format!("/api/pairs/{pair_id}/accept"),
            Some(json!({"agentId": "b"})),
        )
        .await?;
    assert_eq!(active["status"], "active");
    let chat = r
        .ok(
            "POST",
            &format!("/api/pairs/{pair_id}/messages"),
            Some(json!({"from": "a", "body": "what do you see?"})),
        )
        .await?;
    assert_eq!(
        (chat["to"].as_str(), chat["meta"]["pairId"].as_str()),
        (Some("b"), Some(pair_id.as_str()))
    );
    let (status, _) = r
        .call(
            "POST",
            &format!("/api/pairs/{pair_id}/messages"),
            Some(json!({"from": "c", "body": "hi"})),
        )
        .await?;
    assert_eq!(status, 403, "outsiders cannot post in a pair");
    let listed = r
        .ok("GET", &format!("/api/pairs/{pair_id}/messages"), None)
        .await?;
    let kinds: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert_eq!(kinds, ["pair.invite", "pair.accepted", "pair.message"]);
    assert_eq!(
        r.ok("GET", "/api/pairs?agentId=b&status=active", None)
            .await?[0]["id"],
        pair_id.as_str()
    );
    assert_eq!(
        r.ok(
            "POST",
            &format!("/api/pairs/{pair_id}/hangup"),
            Some(json!({"agentId": "a"}))
        )
        .await?["status"],
        "ended"
    );
    assert_eq!(
        r.call(
            "POST",
            &format!("/api/pairs/{pair_id}/reject"),
            Some(json!({"agentId": "b"}))
        )
        .await?
        .0,
        409
    );
    assert_eq!(
        r.ok("GET", &format!("/api/pairs/{pair_id}"), None).await?["endedBy"],
        "a"
    );

    // Free again: a tag target picks a ready agent that is not the caller.
    let by_tag = r
        .ok(
            "POST",
            "/api/pairs",
            Some(json!({"from": "c", "target": "tag:codex"})),
        )
        .await?;
    assert!(by_tag["to"] == "a" || by_tag["to"] == "b", "{by_tag}");
    let rejected = r
        .ok(
            "POST",
            &format!(
                "/api/pairs/{}/reject",
                by_tag["id"].as_str().unwrap_or_default()
            ),
            Some(json!({"agentId": by_tag["to"]})),
        )
        .await?;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        r.call(
            "POST",
            "/api/pairs",
            Some(json!({"from": "a", "target": "a"}))
        )
        .await?
        .0,
        400
    );
    assert_eq!(
        r.call(
            "POST",
            "/api/pairs",
            Some(json!({"from": "a", "target": "broadcast"}))
        )
        .await?
        .0,
        400
    );
    assert_eq!(r.call("GET", "/api/pairs/pair-nope", None).await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn stats_health_and_persistence_across_a_restart() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    r.register("a", json!({})).await?;
    let sent = r.send("a", "broadcast", "kept").await?;
    let stats = r.ok("GET", "/api/stats", None).await?;
    assert_eq!(
        (
            stats["agents"]["total"].as_i64(),
            stats["messages"]["latestId"].as_i64()
        ),
        (Some(1), sent["id"].as_i64())
    );
    assert_eq!(r.ok("GET", "/api/health", None).await?["status"], "ok");

    let mut r = r;
    r.restart().await?;
    assert_eq!(
        ids(&r.ok("GET", "/api/messages", None).await?),
        vec![sent["id"].as_i64().unwrap_or_default()],
        "messages survive a restart"
    );
    assert_eq!(r.ok("GET", "/api/agents/a", None).await?["id"], "a");
    Ok(())
}
