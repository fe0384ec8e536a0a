//! The client commands. Each prints for a person by default and JSON with
//! `--json` (or NDJSON events with `run --format ndjson`).

use crate::client::Client;
use crate::{CliError, Format};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::{Read, Write};

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

async fn resolve_session(client: &Client, session: &str) -> Result<String, CliError> {
    match session {
        "new" => Ok(str_of(&client.post("/api/sessions", json!({})).await?, "id").to_string()),
        "latest" => {
            let list = client.get("/api/sessions").await?;
            let latest = list["data"]
                .as_array()
                .into_iter()
                .flatten()
                .max_by_key(|s| s["lastActivityAt"].as_i64().unwrap_or(0))
                .map(|s| str_of(s, "id").to_string());
            match latest {
                Some(id) => Ok(id),
                None => {
                    Ok(str_of(&client.post("/api/sessions", json!({})).await?, "id").to_string())
                }
            }
        }
        id => Ok(id.to_string()),
    }
}

pub async fn run(
    client: &Client,
    session: &str,
    format: Format,
    prompt: &str,
) -> Result<(), CliError> {
    let prompt = if prompt == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("reading the prompt from stdin", e))?;
        text
    } else {
        prompt.to_string()
    };
    if prompt.trim().is_empty() {
        return Err(CliError::Usage("the prompt is empty".into()));
    }
    let session_id = resolve_session(client, session).await?;
    // Subscribe before sending, so no event of the turn is missed.
    let events = client.events().await?;
    let sent = client
        .post(
            &format!("/api/sessions/{session_id}/messages"),
            json!({ "text": prompt }),
        )
        .await?;
    let turn_id = str_of(&sent, "turnId").to_string();
    let mut events = std::pin::pin!(events);
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        if event["sessionId"].as_str() != Some(&session_id)
            && event["approval"]["sessionId"].as_str() != Some(&session_id)
        {
            continue;
        }
        if matches!(format, Format::Ndjson) {
            let _ = writeln!(stdout, "{event}");
        }
        match str_of(&event, "type") {
            "item.delta"
                if matches!(format, Format::Text) && str_of(&event, "kind") == "agentMessage" =>
            {
                let _ = write!(stdout, "{}", str_of(&event, "delta"));
                let _ = stdout.flush();
            }
            "item.completed" if matches!(format, Format::Text) => {
                let item = &event["item"];
                match str_of(item, "type") {
                    "agentMessage" => {
                        let _ = writeln!(stdout);
                    }
                    "commandExecution" => eprintln!(
                        "[ran] {} (exit {})",
                        str_of(item, "command"),
                        item["exitCode"]
                            .as_i64()
                            .map_or("?".into(), |c| c.to_string())
                    ),
                    "fileChange" => eprintln!(
                        "[changed files] {}",
                        item["changes"].as_array().map_or(0, Vec::len)
                    ),
                    _ => {}
                }
            }
            "approval.requested" if matches!(format, Format::Text) => {
                let approval = &event["approval"];
                eprintln!(
                    "[approval needed] {}\n  answer: perch approvals answer {} accept|decline",
                    str_of(approval, "title"),
                    str_of(approval, "id")
                );
            }
            "warning" if matches!(format, Format::Text) => {
                eprintln!("[warning] {}", str_of(&event, "message"))
            }
            "turn.stalled" if matches!(format, Format::Text) => {
                eprintln!(
                    "[stalled] no event for {} s; `perch interrupt` stops it",
                    event["silentForMs"].as_u64().unwrap_or(0) / 1000
                );
            }
            "turn.completed" if str_of(&event, "turnId") == turn_id => {
                let status = str_of(&event, "status");
                if status == "completed" {
                    return Ok(());
                }
                let error = event["error"].as_str().unwrap_or("");
                eprintln!(
                    "perch: the turn ended {status}{}{error}",
                    if error.is_empty() { "" } else { ": " }
                );
                return Err(CliError::TurnNotCompleted(status.to_string()));
            }
            _ => {}
        }
    }
    Err(CliError::Unreachable(client.base().to_string()))
}

pub async fn status(client: &Client, as_json: bool) -> Result<(), CliError> {
    let status = client.get("/api/status").await?;
    if as_json {
        print_json(&status);
        return Ok(());
    }
    let codex = &status["codex"];
    println!("Perch {} at {}", str_of(&status, "version"), client.base());
    println!(
        "Codex: {} (version {}, tested with {}, restarts {})",
        str_of(codex, "state"),
        codex["version"].as_str().unwrap_or("?"),
        str_of(codex, "pinnedVersion"),
        codex["restarts"]
    );
    if let Some(detail) = codex["detail"].as_str() {
        println!("  {detail}");
    }
    println!("Approval policy: {}", str_of(&status, "approvalPolicy"));
    println!("Pending approvals: {}", status["pendingApprovals"]);
    for turn in status["activeTurns"].as_array().into_iter().flatten() {
        let stalled = if turn["stalled"].as_bool() == Some(true) {
            " (stalled)"
        } else {
            ""
        };
        println!(
            "Running: turn {} in session {}{stalled}",
            str_of(turn, "turnId"),
            str_of(turn, "sessionId")
        );
    }
    println!("Data: {}", str_of(&status, "dataDir"));
    Ok(())
}

pub async fn sessions_list(client: &Client, archived: bool, as_json: bool) -> Result<(), CliError> {
    let list = client
        .get(&format!("/api/sessions?archived={archived}"))
        .await?;
    if as_json {
        print_json(&list["data"]);
        return Ok(());
    }
    for s in list["data"].as_array().into_iter().flatten() {
        let title = s["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| str_of(s, "preview"));
        let pin = if s["pinned"].as_bool() == Some(true) {
            "*"
        } else {
            " "
        };
        let running = if s["activeTurnId"].is_string() {
            " [running]"
        } else {
            ""
        };
        println!("{pin} {}  {title}{running}", str_of(s, "id"));
    }
    Ok(())
}

pub async fn sessions_show(client: &Client, id: &str) -> Result<(), CliError> {
    let session = client.get(&format!("/api/sessions/{id}")).await?;
    let history = client.get(&format!("/api/sessions/{id}/history")).await?;
    print_json(&json!({ "session": session, "turns": history["data"] }));
    Ok(())
}

pub async fn sessions_patch(client: &Client, id: &str, patch: Value) -> Result<(), CliError> {
    let session = client.patch(&format!("/api/sessions/{id}"), patch).await?;
    println!(
        "{} {}",
        str_of(&session, "id"),
        if session["archived"].as_bool() == Some(true) {
            "(archived)"
        } else {
            ""
        }
    );
    Ok(())
}

pub async fn interrupt(client: &Client, session: Option<&str>) -> Result<(), CliError> {
    let sessions: Vec<String> = match session {
        Some(id) => vec![id.to_string()],
        None => client.get("/api/status").await?["activeTurns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| str_of(t, "sessionId").to_string())
            .collect(),
    };
    if sessions.is_empty() {
        return Err(CliError::Usage("no turn is running".into()));
    }
    for id in sessions {
        let answer = client
            .post(&format!("/api/sessions/{id}/interrupt"), json!({}))
            .await?;
        println!(
            "interrupted turn {} in session {id}",
            str_of(&answer, "turnId")
        );
    }
    Ok(())
}

pub async fn approvals_list(client: &Client, all: bool, as_json: bool) -> Result<(), CliError> {
    let list = client
        .get(&format!(
            "/api/approvals?status={}",
            if all { "all" } else { "pending" }
        ))
        .await?;
    if as_json {
        print_json(&list["data"]);
        return Ok(());
    }
    let approvals = list["data"].as_array().cloned().unwrap_or_default();
    if approvals.is_empty() {
        println!("no {}approvals", if all { "" } else { "pending " });
    }
    for a in approvals {
        println!(
            "{}  [{}] {}",
            str_of(&a, "id"),
            str_of(&a, "status"),
            str_of(&a, "title")
        );
        if let Some(detail) = a["detail"].as_str() {
            for line in detail.lines().take(12) {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

pub async fn approvals_answer(client: &Client, id: &str, decision: &str) -> Result<(), CliError> {
    let approval = client
        .post(
            &format!("/api/approvals/{id}"),
            json!({ "decision": decision }),
        )
        .await?;
    println!(
        "{}: {}",
        str_of(&approval, "id"),
        str_of(&approval, "status")
    );
    Ok(())
}

/// Opens the UI with a one-time code in the URL fragment, which browsers do
/// not send to the server, so the token appears in no URL and no log.
pub async fn open(client: &Client) -> Result<(), CliError> {
    let code = client.post("/api/auth/login-codes", json!({})).await?;
    let url = format!("{}/#login={}", client.base(), str_of(&code, "code"));
    let opened = std::process::Command::new("xdg-open")
        .arg(&url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !opened {
        println!("Open this address within 60 s (it signs you in once):\n{url}");
    }
    Ok(())
}
