//! `perch send`, `perch inbox`, `perch peers` (and its key commands): the person on the peer
//! network, through the running Perch's `/api/peer` routes.

use crate::client::{decode, print_json, wire, Client};
use crate::CliError;
use perch_protocol::peer::{
    DeviceLinkCode, KeyStanding, PeerMessage, PeerStatus, PeersKeys, PersonDevices, SendMessage,
};
use perch_protocol::List;
use perch_relay_protocol::Agent;
use serde_json::{json, Value};

pub async fn send(
    client: &Client,
    out: SendMessage,
    force: bool,
    json_out: bool,
) -> Result<(), CliError> {
    // `tag:`, `cap:`, `label:` and `broadcast` address whoever matches; an
    // agent id must name one the relay knows, or the message waits for
    // nobody.
    let addresses_one = !(out.to == "broadcast" || out.to.contains(':'));
    if addresses_one && !force {
        let agents: List<Agent> = client.get("/api/peer/agents").await?;
        if !agents.data.iter().any(|a| a.id == out.to) {
            return Err(CliError::Usage(format!(
                "no agent {:?} on the relay (`perch peers` lists them); --force sends anyway, for an agent that has not joined yet",
                out.to
            )));
        }
    }
    let sent: Value = client.post("/api/peer/messages", &out).await?;
    if json_out {
        print_json(&sent);
    } else {
        let sent: PeerMessage = decode(sent)?;
        println!("sent message {} to {}", sent.message.id, sent.message.to);
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
    let path = format!("/api/peer/messages?{}", query.join("&"));
    if json_out {
        print_json(&client.get::<Value>(&path).await?);
        return Ok(());
    }
    let page: List<PeerMessage> = client.get(&path).await?;
    if page.data.is_empty() {
        println!("no messages");
    }
    for PeerMessage {
        message: m,
        unread,
        seal,
    } in &page.data
    {
        let mark = if *unread { "*" } else { " " };
        let channel = m
            .channel
            .as_ref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let subject = m
            .subject
            .as_ref()
            .map(|s| format!(" {s}:"))
            .unwrap_or_default();
        let first = match &seal.withheld {
            Some(why) => format!("(withheld: {why})"),
            None => m.body.lines().next().unwrap_or("").to_string(),
        };
        let mut proof = if m.authenticated {
            String::new()
        } else {
            " (unauthenticated)".to_string()
        };
        if seal.encrypted && seal.withheld.is_none() {
            proof.push_str(" (encrypted)");
        }
        if seal.signed {
            proof.push_str(" (signed)");
        }
        if seal.key_changed.is_some() {
            proof.push_str(" (KEY CHANGED)");
        }
        println!(
            "{mark}{:>6} {}{proof} -> {}{channel}{subject} {first}",
            m.id, m.from, m.to
        );
    }
    if page.has_more == Some(true) {
        println!("(older messages: --limit)");
    }
    Ok(())
}

/// `--json` prints `{status, agents}`: `GET /api/peer` and the items of
/// `GET /api/peer/agents` as the server sent them (docs/cli.md).
pub async fn peers(client: &Client, json_out: bool) -> Result<(), CliError> {
    let status: Value = client.get("/api/peer").await?;
    let link = match decode::<PeerStatus>(status.clone())? {
        PeerStatus::On(link) => link,
        PeerStatus::Off(off) => {
            if json_out {
                print_json(&json!({ "status": status, "agents": [] }));
            } else if let Some(reason) = off.reason {
                println!("the peer network is off: {reason}");
            } else {
                println!("the peer network is off (see [peer] and [relay] in docs/config.md)");
            }
            return Ok(());
        }
    };
    if json_out {
        let agents: List<Value> = client.get("/api/peer/agents").await?;
        print_json(&json!({ "status": status, "agents": agents.data }));
        return Ok(());
    }
    let agents: List<Agent> = client.get("/api/peer/agents").await?;
    let connected = if link.connected {
        "connected"
    } else {
        "not connected"
    };
    println!(
        "relay {} ({connected}); you are {}, your agent is {}; {} unread; delivery {}",
        link.relay_url,
        link.person_id,
        link.agent_id,
        link.unread,
        wire(&link.delivery.state),
    );
    if let Some(error) = link.last_error.as_ref().or(link.delivery.error.as_ref()) {
        println!("last error: {error}");
    }
    for agent in &agents.data {
        println!(
            "{:<8} {:<24} {:<20} tags={} caps={}{}{}",
            agent.status.as_str(),
            agent.id,
            agent.label.as_deref().unwrap_or("-"),
            agent.tags.join(","),
            agent.capabilities.join(","),
            if agent.ready { "" } else { " (not ready)" },
            if agent.authenticated {
                ""
            } else {
                " (unauthenticated: anyone may speak as it)"
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

/// `perch peers devices|link|join|unlink` (docs/cli.md).
async fn devices(client: &Client, command: crate::KeysCommand) -> Result<(), CliError> {
    use crate::KeysCommand;
    let (devices, json_out): (Value, bool) = match command {
        KeysCommand::Link => {
            let code: DeviceLinkCode = client.post("/api/peer/devices/link", &json!({})).await?;
            let minutes = (code.expires_at - stdx::now_ms()).max(0) / 60_000;
            println!("{}", code.code);
            println!(
                "On your other computer (Perch running, the same relay and person id {}), within {minutes} minutes and once:
  perch peers join {}",
                code.person_id, code.code
            );
            return Ok(());
        }
        KeysCommand::Join { code } => (
            client
                .post("/api/peer/devices/join", &json!({ "code": code }))
                .await?,
            false,
        ),
        KeysCommand::Unlink { device } => (
            client
                .delete(&format!("/api/peer/devices/{}", urlencode(&device)))
                .await?,
            false,
        ),
        KeysCommand::Devices { json } => (client.get("/api/peer/devices").await?, json),
        _ => return Err(CliError::Usage("not a devices command".into())),
    };
    if json_out {
        print_json(&devices);
        return Ok(());
    }
    let devices: PersonDevices = decode(devices)?;
    println!("{} is held by:", devices.person_id);
    for device in &devices.devices {
        let here = if device.this_device {
            " (this computer)"
        } else {
            ""
        };
        println!(
            "  {}{here}  since {}  key {}",
            device.device,
            crate::agent::when(Some(device.created_at)),
            device
                .fingerprint
                .as_deref()
                .unwrap_or("not on the card yet")
        );
    }
    Ok(())
}

/// `perch peers keys|pin|unpin|rotate-key` (docs/cli.md).
pub async fn keys(client: &Client, command: crate::KeysCommand) -> Result<(), CliError> {
    use crate::KeysCommand;
    let (keys, json_out): (Value, bool) = match command {
        KeysCommand::Keys { json } => (client.get("/api/peer/keys").await?, json),
        KeysCommand::Pin { id } => (
            client
                .post("/api/peer/keys/pin", &json!({ "id": id }))
                .await?,
            false,
        ),
        KeysCommand::Unpin { id } => (
            client
                .post("/api/peer/keys/unpin", &json!({ "id": id }))
                .await?,
            false,
        ),
        command @ (KeysCommand::Devices { .. }
        | KeysCommand::Link
        | KeysCommand::Join { .. }
        | KeysCommand::Unlink { .. }) => return devices(client, command).await,
        KeysCommand::RotateKey => (
            client.post("/api/peer/keys/rotate", &json!({})).await?,
            false,
        ),
    };
    if json_out {
        print_json(&keys);
        return Ok(());
    }
    let keys: PeersKeys = decode(keys)?;
    for peer in &keys.peers {
        let whose = if peer.ours { " (this Perch)" } else { "" };
        if peer.devices.is_empty() {
            println!(
                "{}{whose}: no keys (messages in the clear, unverified)",
                peer.id
            );
            continue;
        }
        println!(
            "{}{whose}{}",
            peer.id,
            if peer.pinned { " (pinned)" } else { "" }
        );
        for device in &peer.devices {
            let standing = match device.standing {
                KeyStanding::Unpinned => "",
                KeyStanding::Pinned => " pinned",
                KeyStanding::Rotated => " rotated by its pinned key",
                KeyStanding::NewDevice => " NEW DEVICE, not pinned: nothing is encrypted to it",
                KeyStanding::Changed => " KEY CHANGED since pinned: sending to it is refused",
            };
            let here = if device.this_device {
                " (this device)"
            } else {
                ""
            };
            println!(
                "  {}  {}{here}{standing}",
                device.device, device.fingerprint
            );
        }
        for gone in &peer.missing {
            println!("  pinned key no longer on the card: {gone}");
        }
    }
    Ok(())
}
