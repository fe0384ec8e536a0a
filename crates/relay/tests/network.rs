//! Integrations and tasks (dedupe, resolve, claims, history, callbacks,
//! rate limit), auth, CORS, binding rules, the SSE stream and upkeep.

mod common;

use common::{on_nats, Relay, TestResult};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use perch_relay::{Integration, RelayServer, RelaySettings, ServerError, Storage};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A callback receiver: records every JSON body POSTed to it.
async fn callback_sink() -> Result<
    (
        String,
        Arc<Mutex<Vec<Value>>>,
        tokio::sync::mpsc::Receiver<()>,
    ),
    Box<dyn std::error::Error>,
> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = seen.clone();
            move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                let tx = tx.clone();
                async move {
                    seen.lock().map(|mut s| s.push(body)).ok();
                    let _ = tx.send(()).await;
                    "ok"
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, seen, rx))
}

fn integration(name: &str, token: &str, scopes: &[&str], callback: Option<String>) -> Integration {
    Integration {
        name: name.into(),
        token: token.into(),
        scopes: scopes
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        targets: vec!["cap:ops".into()],
        channels: vec!["alerts".into()],
        callback_url: callback,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_events_become_deduped_tasks_with_history_and_callbacks() -> TestResult {
    let (hook, seen, mut delivered) = callback_sink().await?;
    let settings = RelaySettings {
        integrations: vec![
            integration("ops-monitor", "ops-secret-1", &["tasks:create"], Some(hook)),
            integration("read-only", "readonly-secret", &[], None),
        ],
        integration_rate_limit_per_minute: 8,
        ..RelaySettings::default()
    };
    let r = Relay::start(settings).await?;
    r.register("ops-agent", json!({"capabilities": ["ops"]}))
        .await?;
    let post = |token: &str, body: Value| {
        r.http
            .post(r.url("/api/integrations/events"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let alarm = json!({"type": "alarm", "severity": "critical", "dedupeKey": "prod-api:5xx", "title": "prod-api 5xx rate high",
        "body": "above 8% for 5 minutes", "target": "cap:ops", "channel": "alerts", "externalUrl": "https://grafana.example/d/1",
        "metadata": {"value": 0.084}});

    // Refusals: no/wrong token, missing scope, a target or channel outside the integration's.
    let refusals = [
        ("nope-nope-nope", alarm.clone(), 401),
        ("readonly-secret", alarm.clone(), 403),
        (
            "ops-secret-1",
            json!({"title": "t", "target": "broadcast"}),
            403,
        ),
        (
            "ops-secret-1",
            json!({"title": "t", "channel": "random"}),
            403,
        ),
        ("ops-secret-1", json!({"target": "cap:ops"}), 400),
    ];
    for (token, body, status) in refusals {
        let response = post(token, body.clone()).await?;
        assert_eq!(response.status().as_u16(), status, "{token} {body}");
    }

    let created = post("ops-secret-1", alarm.clone()).await?;
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await?;
    let task = &created["task"];
    let task_id = task["id"].as_i64().unwrap_or_default();
    assert_eq!(
        (
            task["status"].as_str(),
            task["occurrenceCount"].as_i64(),
            task["source"].as_str()
        ),
        (Some("open"), Some(1), Some("ops-monitor"))
    );
    let inbox = r
        .ok("GET", "/api/messages?for=ops-agent&unread=true", None)
        .await?;
    assert_eq!(inbox.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (
            inbox[0]["claimable"].as_bool(),
            inbox[0]["meta"]["taskId"].as_i64(),
            inbox[0]["urgent"].as_bool()
        ),
        (Some(true), Some(task_id), Some(true))
    );

    // The same dedupe key while active: counted, no second message.
    let cursor = r.ok("GET", "/api/messages/cursor", None).await?;
    let repeated: Value = post("ops-secret-1", alarm.clone()).await?.json().await?;
    assert_eq!(
        (
            repeated["task"]["id"].as_i64(),
            repeated["task"]["occurrenceCount"].as_i64(),
            repeated["deduped"].as_bool()
        ),
        (Some(task_id), Some(2), Some(true))
    );
    assert_eq!(
        r.ok("GET", "/api/messages/cursor", None).await?,
        cursor,
        "a repeat does not spam agents"
    );

    let claimed = r
        .ok(
            "POST",
            &format!("/api/tasks/{task_id}/claim"),
            Some(json!({"agentId": "ops-agent"})),
        )
        .await?;
    assert_eq!(
        (claimed["status"].as_str(), claimed["claimedBy"].as_str()),
        (Some("claimed"), Some("ops-agent"))
    );
    r.register("other", json!({})).await?;
    assert_eq!(
        r.call(
            "POST",
            &format!("/api/tasks/{task_id}/claim"),
            Some(json!({"agentId": "other"}))
        )
        .await?
        .0,
        409
    );
    r.ok(
        "PATCH",
        &format!("/api/tasks/{task_id}/status"),
        Some(json!({"status": "in_progress", "progress": "rolling back", "agentId": "ops-agent"})),
    )
    .await?;
    let done = r
        .ok(
            "PATCH",
            &format!("/api/tasks/{task_id}/status"),
            Some(json!({"status": "done", "result": "Rolled back bad deploy"})),
        )
        .await?;
    assert_eq!(
        (
            done["status"].as_str(),
            done["result"].as_str(),
            done["progress"].as_str()
        ),
        (
            Some("done"),
            Some("Rolled back bad deploy"),
            Some("rolling back")
        )
    );
    assert_eq!(
        r.call(
            "PATCH",
            &format!("/api/tasks/{task_id}/status"),
            Some(json!({"status": "finished"}))
        )
        .await?
        .0,
        400
    );

    let history = r
        .ok("GET", &format!("/api/tasks/{task_id}/events"), None)
        .await?;
    let kinds: Vec<&str> = history
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["created", "occurrence", "claimed", "status", "status"]
    );

    // After done, the key starts a new task; `resolved` closes it.
    let again: Value = post("ops-secret-1", alarm.clone()).await?.json().await?;
    let second = again["task"]["id"].as_i64().unwrap_or_default();
    assert_ne!(second, task_id);
    let resolved: Value = post(
        "ops-secret-1",
        json!({"dedupeKey": "prod-api:5xx", "status": "resolved"}),
    )
    .await?
    .json()
    .await?;
    assert_eq!(
        (
            resolved["task"]["id"].as_i64(),
            resolved["task"]["status"].as_str()
        ),
        (Some(second), Some("done"))
    );
    assert_eq!(
        post(
            "ops-secret-1",
            json!({"dedupeKey": "prod-api:5xx", "status": "resolved"})
        )
        .await?
        .status()
        .as_u16(),
        404
    );

    // Callbacks: recorded in SQLite before delivery, and delivered.
    let expected_deliveries = 6; // created, claimed, status ×2, created, status (resolved)
    for _ in 0..expected_deliveries {
        tokio::time::timeout(Duration::from_secs(10), delivered.recv()).await?;
    }
    let received: Vec<String> = seen
        .lock()
        .map(|s| {
            s.iter()
                .map(|b| {
                    format!(
                        "{}:{}",
                        b["event"].as_str().unwrap_or(""),
                        b["task"]["status"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(received.len(), expected_deliveries, "{received:?}");
    assert!(
        received.contains(&"task.status:done".to_string()),
        "{received:?}"
    );
    // The outcome is written right after the POST returns: poll for the row
    // (the relay publishes no event for it), bounded.
    let recorded = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let rows = r
                .ok("GET", &format!("/api/tasks/{task_id}/callbacks"), None)
                .await?;
            if rows
                .as_array()
                .is_some_and(|rows| rows.iter().all(|c| c["status"] == "delivered"))
            {
                return Ok::<_, Box<dyn std::error::Error>>(rows);
            }
            tokio::task::yield_now().await;
        }
    })
    .await??;
    assert_eq!(recorded.as_array().map(Vec::len), Some(4));

    assert_eq!(
        r.ok("GET", "/api/tasks?status=done&source=ops-monitor", None)
            .await?
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        r.ok("GET", &format!("/api/tasks/{task_id}"), None).await?["occurrenceCount"],
        2
    );
    assert_eq!(r.call("GET", "/api/tasks?status=weird", None).await?.0, 400);
    assert_eq!(r.call("GET", "/api/tasks/999", None).await?.0, 404);

    // The per-integration rate limit: 8 a minute, and the 8 calls above that
    // passed the token and scope checks count (3 refused, 5 accepted or
    // answered 404), so the next gets 429 with Retry-After.
    let limited = post(
        "ops-secret-1",
        json!({"title": "one more", "dedupeKey": "x"}),
    )
    .await?;
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    Ok(())
}

#[tokio::test]
async fn tokens_hosts_cors_and_open_binds_are_checked() -> TestResult {
    let settings = RelaySettings {
        token: Some("relay-secret".into()),
        cors_origins: vec!["http://dash.example".into()],
        ..RelaySettings::default()
    };
    let r = Relay::start(settings).await?;
    let plain = stdx_http::client_builder().build()?;
    assert_eq!(
        plain
            .get(r.url("/api/stats"))
            .send()
            .await?
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        plain
            .get(r.url("/api/stats"))
            .bearer_auth("wrong")
            .send()
            .await?
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        plain
            .get(r.url("/api/stats"))
            .bearer_auth("relay-secret")
            .send()
            .await?
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        plain
            .get(r.url("/api/stats"))
            .header("X-Agent-Relay-Token", "relay-secret")
            .send()
            .await?
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        plain
            .get(r.url("/api/health"))
            .send()
            .await?
            .status()
            .as_u16(),
        200,
        "health needs no token"
    );
    let rebound = plain
        .get(r.url("/api/stats"))
        .bearer_auth("relay-secret")
        .header("Host", "evil.example")
        .send()
        .await?;
    assert_eq!(rebound.status().as_u16(), 403, "DNS rebinding is refused");
    let allowed = plain
        .get(r.url("/api/health"))
        .header("Origin", "http://dash.example")
        .send()
        .await?;
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://dash.example")
    );
    let other = plain
        .get(r.url("/api/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await?;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let same_origin = Relay::start(RelaySettings::default()).await?;
    let response = plain
        .get(same_origin.url("/api/health"))
        .header("Origin", "http://dash.example")
        .send()
        .await?;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "same-origin only by default"
    );

    let open = RelayServer::start(
        "0.0.0.0:0".parse()?,
        Storage::Sqlite(None),
        RelaySettings::default(),
    )
    .await;
    assert!(
        matches!(open, Err(ServerError::OpenBind(_))),
        "an open non-loopback bind is refused"
    );
    let allowed = RelayServer::start(
        "0.0.0.0:0".parse()?,
        Storage::Sqlite(None),
        RelaySettings {
            allow_unauthenticated: true,
            ..RelaySettings::default()
        },
    )
    .await?;
    allowed.stop().await;

    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let parsed = RelaySettings::from_env(env(&[
        ("AGENT_RELAY_TOKEN", " t0k3n "),
        ("RETENTION_DAYS", "7"),
        ("AGENT_RELAY_CORS_ORIGINS", "a, b"),
    ]))?;
    assert_eq!(
        (
            parsed.token.as_deref(),
            parsed.retention.as_secs(),
            parsed.cors_origins.len()
        ),
        (Some("t0k3n"), 7 * 86_400, 2)
    );
    assert!(
        RelaySettings::from_env(env(&[("STALE_MS", "soon")])).is_err(),
        "a malformed value is an error"
    );
    assert!(RelaySettings::from_env(env(&[("AGENT_RELAY_INTEGRATIONS", "{not json")])).is_err());
    Ok(())
}

#[tokio::test]
async fn the_event_stream_pushes_what_reaches_an_agent() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    r.register("a", json!({"tags": ["x"]})).await?;
    r.register("b", json!({})).await?;
    let response = r.http.get(r.url("/api/events?agentId=a")).send().await?;
    assert_eq!(response.status().as_u16(), 200);
    let mut events = response.bytes_stream().eventsource();
    let ready = events.next().await.ok_or("the stream ended")??;
    assert_eq!(
        (
            ready.event.as_str(),
            serde_json::from_str::<Value>(&ready.data)?["latestId"].as_i64()
        ),
        ("ready", Some(0))
    );

    r.send("b", "b", "not for a").await?;
    r.send("a", "broadcast", "a's own").await?;
    let wanted = r.send("b", "tag:x", "for a by tag").await?;
    let message = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await?
            .ok_or("the stream ended")??;
        if event.event == "message.new" {
            break serde_json::from_str::<Value>(&event.data)?;
        }
    };
    assert_eq!(
        message["id"], wanted["id"],
        "only messages that reach a, and not a's own"
    );
    Ok(())
}

#[tokio::test]
async fn upkeep_marks_silent_agents_offline_and_prunes_by_retention() -> TestResult {
    let settings = RelaySettings {
        stale_after: Duration::ZERO,
        offline_prune_after: Duration::from_secs(3600),
        retention: Duration::ZERO,
        ..RelaySettings::default()
    };
    let r = Relay::start(settings).await?;
    r.register("sleepy", json!({})).await?;
    r.send("sleepy", "broadcast", "old news").await?;
    let reaped = r.core().await?.reap().await?;
    assert_eq!(
        (
            reaped.marked_offline,
            reaped.pruned_agents,
            reaped.pruned_messages
        ),
        (1, 0, 1)
    );
    assert_eq!(
        r.ok("GET", "/api/agents/sleepy", None).await?["status"],
        "offline"
    );
    // Each frontend of a NATS relay prunes its own view on its own upkeep
    // pass (the stream expires messages itself): the one that ran it is
    // the one to ask.
    if on_nats() {
        let left = r.core().await?.messages(&Default::default()).await?;
        assert!(left.is_empty(), "{left:?}");
    } else {
        assert_eq!(r.ok("GET", "/api/messages", None).await?, json!([]));
    }
    // Any call from the agent brings it back.
    assert_eq!(
        r.ok("POST", "/api/agents/sleepy/heartbeat", None).await?["status"],
        "online"
    );
    Ok(())
}

/// Issue 14: a browser page cannot write to a tokenless loopback relay
/// (a `no-cors` fetch or a form sends no token and an empty body reads as
/// `{}`); clients that are not browsers send no Origin and still can.
#[tokio::test]
async fn a_foreign_browser_origin_cannot_change_the_relay() -> TestResult {
    let relay = Relay::start(RelaySettings {
        cors_origins: vec!["http://dash.example".into()],
        ..RelaySettings::default()
    })
    .await?;
    let own = relay.base_url();
    // Every call to the first frontend: its own origin is its own.
    let register = |origin: Option<&str>, id: &str| {
        let mut request = relay
            .http
            .post(format!("{own}/api/agents"))
            .json(&serde_json::json!({ "id": id }));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };
    for (origin, id, status) in [
        (Some("http://127.0.0.1:9999"), "from-a-page", 403),
        (Some("null"), "from-a-sandbox", 403),
        (None, "a-script", 200),
        (Some(own.as_str()), "the-relays-own-page", 200),
        (Some("http://dash.example"), "an-allowed-page", 200),
    ] {
        let response = register(origin, id).await?;
        assert_eq!(response.status().as_u16(), status, "{origin:?}");
    }
    let (_, agents) = relay.call("GET", "/api/agents", None).await?;
    let ids: Vec<&str> = agents
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(
        !ids.contains(&"from-a-page") && ids.contains(&"a-script"),
        "{ids:?}"
    );
    Ok(())
}
