//! Agent keys (issue 14, finding 6): an id that asked for a key can only be
//! spoken for by its key holder; ids without one keep agent-relay's
//! behaviour and say they are unauthenticated.

mod common;

use common::{Relay, TestResult};
use perch_relay::RelaySettings;
use serde_json::{json, Value};

/// `method path` with `body`, presenting `key` as `X-Agent-Key` when given.
async fn as_agent(
    r: &Relay,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let mut request = r.request(method.parse()?, path).json(&body);
    if let Some(key) = key {
        request = request.header("X-Agent-Key", key);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, json))
}

#[tokio::test]
async fn a_keyed_id_refuses_whoever_lacks_its_key() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    let (status, card) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        json!({"id": "perch-ada", "instanceId": "i1", "wantKey": true}),
    )
    .await?;
    assert_eq!(status, 200, "{card}");
    let key = card["key"].as_str().ok_or("no key issued")?.to_string();
    assert_eq!(key.len(), 64, "32 random bytes as hex");
    assert_eq!(card["authenticated"], true);
    // The key is shown once: the card others read has none.
    let listed = r.ok("GET", "/api/agents/perch-ada", None).await?;
    assert_eq!(listed["authenticated"], true);
    assert!(listed.get("key").is_none(), "{listed}");
    // Stored as a digest, never as itself.
    let stored = r.stored_files()?;
    assert!(
        stored
            .iter()
            .any(|b| b.windows(9).any(|w| w == b"perch-ada")),
        "the scan reads what the relay stored"
    );
    let needle = key.as_bytes();
    for bytes in stored {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the key is stored in the clear"
        );
    }

    // A rogue registration, heartbeat, update, message, claim and removal
    // as perch-ada, without the key or with a wrong one: 403, nothing changes.
    let rogue_calls = [
        (
            "POST",
            "/api/agents".to_string(),
            json!({"id": "perch-ada", "instanceId": "rogue"}),
        ),
        ("POST", "/api/agents/perch-ada/heartbeat".into(), json!({})),
        (
            "PATCH",
            "/api/agents/perch-ada".into(),
            json!({"label": "pwned"}),
        ),
        (
            "POST",
            "/api/messages".into(),
            json!({"from": "perch-ada", "to": "bob", "body": "forged"}),
        ),
        ("DELETE", "/api/agents/perch-ada".into(), json!({})),
    ];
    for (method, path, body) in &rogue_calls {
        for key in [None, Some("0".repeat(64).as_str())] {
            let (status, answer) = as_agent(&r, method, path, key, body.clone()).await?;
            assert_eq!(status, 403, "{method} {path} with {key:?}: {answer}");
            assert!(
                answer["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("perch-ada")),
                "{answer}"
            );
        }
    }
    let card = r.ok("GET", "/api/agents/perch-ada", None).await?;
    assert_eq!(card["instanceId"], "i1");
    assert_eq!(card["label"], Value::Null);
    assert_eq!(
        r.ok("GET", "/api/messages?from=perch-ada", None)
            .await?
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // The holder does all of it, and its messages say they are authenticated.
    let key = Some(key.as_str());
    let (status, again) = as_agent(
        &r,
        "POST",
        "/api/agents",
        key,
        json!({"id": "perch-ada", "instanceId": "i2", "wantKey": true}),
    )
    .await?;
    assert_eq!(status, 200, "{again}");
    assert!(again.get("key").is_none(), "a held key is not replaced");
    let (status, sent) = as_agent(
        &r,
        "POST",
        "/api/messages",
        key,
        json!({"from": "perch-ada", "to": "bob", "body": "really me"}),
    )
    .await?;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["authenticated"], true);

    // An id without a key works as on agent-relay, and says it proves nothing.
    r.register("bob", json!({})).await?;
    let bob = r.ok("GET", "/api/agents/bob", None).await?;
    assert_eq!(bob["authenticated"], false);
    let unproven = r.send("bob", "perch-ada", "hello").await?;
    assert_eq!(unproven["authenticated"], false);
    let (status, _) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        json!({"id": "bob", "instanceId": "b2"}),
    )
    .await?;
    assert_eq!(status, 200, "an unkeyed id re-registers as before");
    Ok(())
}

#[tokio::test]
async fn a_keyed_id_survives_pruning_and_a_lost_key_can_be_forgotten() -> TestResult {
    let r = Relay::start(RelaySettings {
        offline_prune_after: std::time::Duration::ZERO,
        ..RelaySettings::default()
    })
    .await?;
    let (_, card) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        json!({"id": "perch-ada", "wantKey": true, "status": "offline"}),
    )
    .await?;
    assert!(card["key"].is_string());
    r.register("bob", json!({"status": "offline"})).await?;
    // Every offline agent is pruned at once here, except an id that holds a
    // key (pruning it would free the id for anyone).
    let relay = r.core().await?;
    relay.reap().await?;
    assert_eq!(
        r.call("GET", "/api/agents/bob", None).await?.0,
        404,
        "bob was pruned"
    );
    assert_eq!(r.call("GET", "/api/agents/perch-ada", None).await?.0, 200);

    // `perch relay forget-key`: the next registration claims the id afresh.
    relay.forget_key("perch-ada").await?;
    let (status, card) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        json!({"id": "perch-ada", "wantKey": true}),
    )
    .await?;
    assert_eq!(status, 200, "{card}");
    assert!(card["key"].is_string(), "a new key: {card}");
    Ok(())
}

/// One person on two computers: the first device makes a one-time code,
/// the second registers the id with it and gets a key of its own; each
/// device fences only its own older instances; a device can be removed.
#[tokio::test]
async fn an_id_is_held_by_several_devices_each_with_its_own_key() -> TestResult {
    let r = Relay::start(RelaySettings::default()).await?;
    let register = |instance: &str, device: &str, extra: Value| {
        let mut body = json!({"id": "ada", "instanceId": instance, "device": device});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let (status, laptop) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        register("l1", "laptop", json!({"wantKey": true})),
    )
    .await?;
    assert_eq!(status, 200, "{laptop}");
    let laptop_key = laptop["key"].as_str().ok_or("no key")?.to_string();
    let laptop_proof = json!({"instanceId": "l1", "epoch": laptop["epoch"]});

    // Without a code the desk is refused, and only a device may make one.
    let (status, _) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        register("d1", "desk", json!({})),
    )
    .await?;
    assert_eq!(status, 403);
    let (status, body) = as_agent(&r, "POST", "/api/agents/ada/links", None, json!({})).await?;
    assert_eq!(status, 403, "{body}");
    let (status, link) = as_agent(
        &r,
        "POST",
        "/api/agents/ada/links",
        Some(&laptop_key),
        json!({}),
    )
    .await?;
    assert_eq!(status, 201, "{link}");
    let code = link["code"].as_str().ok_or("no code")?.to_string();
    assert!(link["expiresAt"].as_i64() > Some(0));
    // The code is kept as a digest only.
    let digits: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
    for bytes in r.stored_files()? {
        assert!(!bytes.windows(digits.len()).any(|w| w == digits.as_bytes()));
    }

    // A wrong code, then the right one typed in capitals and spaced: the desk
    // gets a key of its own, once.
    let (status, body) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        register(
            "d1",
            "desk",
            json!({"linkCode": "0000-0000-0000-0000-0000"}),
        ),
    )
    .await?;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("perch peers link")),
        "{body}"
    );
    let typed = code.to_uppercase().replace('-', " ");
    let (status, desk) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        register("d1", "desk", json!({"linkCode": typed})),
    )
    .await?;
    assert_eq!(status, 200, "{desk}");
    let desk_key = desk["key"]
        .as_str()
        .ok_or("no key for the desk")?
        .to_string();
    assert_ne!(desk_key, laptop_key);
    let desk_proof = json!({"instanceId": "d1", "epoch": desk["epoch"]});
    let (status, _) = as_agent(
        &r,
        "POST",
        "/api/agents",
        None,
        register("x1", "thief", json!({"linkCode": code})),
    )
    .await?;
    assert_eq!(status, 403, "a code admits one device");

    // Both devices act as ada at once: neither fenced the other.
    for (key, proof) in [(&laptop_key, &laptop_proof), (&desk_key, &desk_proof)] {
        let (status, body) = as_agent(
            &r,
            "POST",
            "/api/agents/ada/heartbeat",
            Some(key),
            proof.clone(),
        )
        .await?;
        assert_eq!(status, 200, "{body}");
        let (status, body) = as_agent(
            &r,
            "POST",
            "/api/messages",
            Some(key),
            json!({"from": "ada", "to": "bob", "body": "hi"}),
        )
        .await?;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["authenticated"], true);
    }
    // The laptop restarts (a new instance): its old instance is fenced, the desk is not.
    let (status, again) = as_agent(
        &r,
        "POST",
        "/api/agents",
        Some(&laptop_key),
        register("l2", "laptop", json!({})),
    )
    .await?;
    assert_eq!(status, 200, "{again}");
    let (status, body) = as_agent(
        &r,
        "POST",
        "/api/agents/ada/heartbeat",
        Some(&laptop_key),
        laptop_proof,
    )
    .await?;
    assert_eq!(status, 409, "{body}");
    let (status, _) = as_agent(
        &r,
        "POST",
        "/api/agents/ada/heartbeat",
        Some(&desk_key),
        desk_proof.clone(),
    )
    .await?;
    assert_eq!(status, 200);

    // The list, as each device sees it.
    let (status, list) = as_agent(
        &r,
        "GET",
        "/api/agents/ada/devices",
        Some(&desk_key),
        Value::Null,
    )
    .await?;
    assert_eq!(status, 200, "{list}");
    let names: Vec<(&str, bool)> = list
        .as_array()
        .ok_or("not a list")?
        .iter()
        .filter_map(|d| Some((d["device"].as_str()?, d["thisDevice"].as_bool()?)))
        .collect();
    assert_eq!(names, [("laptop", false), ("desk", true)]);

    // The laptop removes the desk: the desk's key no longer works; the
    // laptop cannot remove itself as the last device.
    let (status, _) = as_agent(
        &r,
        "DELETE",
        "/api/agents/ada/devices/desk",
        Some(&laptop_key),
        Value::Null,
    )
    .await?;
    assert_eq!(status, 204);
    let (status, body) = as_agent(
        &r,
        "POST",
        "/api/agents/ada/heartbeat",
        Some(&desk_key),
        desk_proof,
    )
    .await?;
    assert_eq!(status, 403, "{body}");
    let (status, body) = as_agent(
        &r,
        "DELETE",
        "/api/agents/ada/devices/laptop",
        Some(&laptop_key),
        Value::Null,
    )
    .await?;
    assert_eq!(status, 409, "{body}");
    let (status, _) = as_agent(
        &r,
        "DELETE",
        "/api/agents/ada/devices/nowhere",
        Some(&laptop_key),
        Value::Null,
    )
    .await?;
    assert_eq!(status, 404);
    Ok(())
}
