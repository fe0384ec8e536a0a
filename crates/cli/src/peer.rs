//! `perch send`, `perch inbox`, `perch peers`: the person on the peer
//! network, through the running Perch's `/api/peer` routes.

use crate::client::Client;
use crate::CliError;
use perch_protocol::peer::SendMessage;
use serde_json::{json, Value};

pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

pub async fn send(client: &Client, out: SendMessage, json_out: bool) -> Result<(), CliError> {
    let body = serde_json::to_value(&out)
        .map_err(|e| CliError::Other(format!("the message could not be encoded: {e}")))?;
    let sent = client.post("/api/peer/messages", body).await?;
    if json_out {
        print_json(&sent);
    } else {
        println!("sent message {} to {}", sent["id"], text(&sent, "to"));
    }
    Ok(())
}

pub async fn inbox(
    client: &Client,
    channel: Option<String>,
    agent: Option<String>,
    limit: usize,
    json_out: bool,
) -> Result<(), CliError> {
    let mut query = vec![format!("limit={limit}")];
    query.extend(channel.map(|c| format!("channel={}", urlencode(&c))));
    query.extend(agent.map(|a| format!("agent={}", urlencode(&a))));
    let page = client
        .get(&format!("/api/peer/messages?{}", query.join("&")))
        .await?;
    if json_out {
        print_json(&page);
        return Ok(());
    }
    let messages = page["data"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        println!("no messages");
    }
    for m in &messages {
        let mark = if m["unread"] == true { "*" } else { " " };
        let channel = m["channel"]
            .as_str()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let subject = m["subject"]
            .as_str()
            .map(|s| format!(" {s}:"))
            .unwrap_or_default();
        let first = text(m, "body").lines().next().unwrap_or("");
        println!(
            "{mark}{:>6} {} -> {}{channel}{subject} {first}",
            m["id"],
            text(m, "from"),
            text(m, "to")
        );
    }
    if page["hasMore"] == true {
        println!("(older messages: --limit)");
    }
    Ok(())
}

pub async fn peers(client: &Client, json_out: bool) -> Result<(), CliError> {
    let status = client.get("/api/peer").await?;
    if status["enabled"] == false {
        if json_out {
            print_json(&json!({ "status": status, "agents": [] }));
        } else {
            println!("the peer network is off (see [peer] and [relay] in docs/config.md)");
        }
        return Ok(());
    }
    let agents = client.get("/api/peer/agents").await?;
    if json_out {
        print_json(&json!({ "status": status, "agents": agents["data"] }));
        return Ok(());
    }
    let connected = if status["connected"] == true {
        "connected"
    } else {
        "not connected"
    };
    println!(
        "relay {} ({connected}); you are {}, your agent is {}; {} unread; delivery {}",
        text(&status, "relayUrl"),
        text(&status, "personId"),
        text(&status, "agentId"),
        status["unread"],
        text(&status["delivery"], "state"),
    );
    if let Some(error) = status["lastError"]
        .as_str()
        .or(status["delivery"]["error"].as_str())
    {
        println!("last error: {error}");
    }
    for agent in agents["data"].as_array().into_iter().flatten() {
        let list = |key: &str| {
            agent[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        println!(
            "{:<8} {:<24} {:<20} tags={} caps={}{}",
            text(agent, "status"),
            text(agent, "id"),
            agent["label"].as_str().unwrap_or("-"),
            list("tags"),
            list("capabilities"),
            if agent["ready"] == true {
                ""
            } else {
                " (not ready)"
            },
        );
    }
    Ok(())
}

/// Percent-encodes a query value (ids and channel names are short).
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
