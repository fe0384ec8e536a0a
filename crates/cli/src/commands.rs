//! The client commands. Each prints for a person by default and JSON with
//! `--json` (or NDJSON events with `run --format ndjson`).

use crate::client::{no_body, print_json, wire, Client};
use crate::{CliError, Format};
use futures_util::StreamExt;
use perch_protocol::approvals::{Answer, Approval, Decision};
use perch_protocol::auth::LoginCode;
use perch_protocol::events::{DeltaKind, Event, EventKind};
use perch_protocol::items::Item;
use perch_protocol::sessions::{
    HistoryTurn, Interrupting, NewSession, Sent, Session, SessionPatch, TurnStatus, UserText,
};
use perch_protocol::system::Status;
use perch_protocol::List;
use serde::Deserialize;
use serde_json::json;
use std::io::{Read, Write};

async fn new_session(client: &Client, cwd: Option<&str>) -> Result<String, CliError> {
    let new = NewSession {
        cwd: cwd.map(str::to_string),
        ..NewSession::default()
    };
    let session: Session = client.post("/api/sessions", &new).await?;
    Ok(session.id)
}

/// `new`, `latest` (in the project `cwd` names, when given) or an id.
async fn resolve_session(
    client: &Client,
    session: &str,
    cwd: Option<&str>,
) -> Result<String, CliError> {
    match session {
        "new" => new_session(client, cwd).await,
        "latest" => {
            let path = match cwd {
                Some(dir) => format!("/api/sessions?project={}", crate::peer::urlencode(dir)),
                None => "/api/sessions".to_string(),
            };
            let list: List<Session> = client.get(&path).await?;
            let latest = list
                .data
                .into_iter()
                .max_by_key(|s| s.last_activity_at)
                .map(|s| s.id);
            match latest {
                Some(id) => Ok(id),
                None => new_session(client, cwd).await,
            }
        }
        id if cwd.is_some() => Err(CliError::Usage(format!(
            "--cwd picks or starts a session in a folder; session {id} keeps its own (leave out --cwd, or use --session new)"
        ))),
        id => Ok(id.to_string()),
    }
}

/// A folder given on the command line, made absolute against the current
/// one (the server does not know where the CLI runs).
pub fn absolute_dir(dir: &std::path::Path) -> Result<String, CliError> {
    let resolved = std::fs::canonicalize(dir)
        .map_err(|e| CliError::io(format!("finding the folder {}", dir.display()), e))?;
    if !resolved.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a folder",
            resolved.display()
        )));
    }
    Ok(resolved.to_string_lossy().into_owned())
}

/// The session an event is about, for the events that have one.
fn session_of(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::TurnStarted { session_id, .. }
        | EventKind::TurnCompleted { session_id, .. }
        | EventKind::TurnStalled { session_id, .. }
        | EventKind::ItemStarted { session_id, .. }
        | EventKind::ItemCompleted { session_id, .. }
        | EventKind::ItemDelta { session_id, .. }
        | EventKind::TurnDiff { session_id, .. }
        | EventKind::TokensUpdated { session_id, .. }
        | EventKind::TurnProblem { session_id, .. } => Some(session_id),
        EventKind::Warning { session_id, .. } => session_id.as_deref(),
        EventKind::ApprovalRequested { approval } | EventKind::ApprovalResolved { approval } => {
            Some(&approval.session_id)
        }
        _ => None,
    }
}

pub async fn run(
    client: &Client,
    session: &str,
    cwd: Option<&std::path::Path>,
    format: Format,
    prompt: &str,
) -> Result<(), CliError> {
    let cwd = cwd.map(absolute_dir).transpose()?;
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
    // Said before a session is made for a turn that cannot run.
    let status: Status = client.get("/api/status").await?;
    if status
        .account
        .as_ref()
        .is_some_and(perch_protocol::account::AccountState::needs_sign_in)
    {
        return Err(CliError::Usage(
            perch_runtime::Error::NotSignedIn.to_string(),
        ));
    }
    let session_id = resolve_session(client, session, cwd.as_deref()).await?;
    // Subscribe before sending, so no event of the turn is missed.
    let events = client.events().await?;
    let sent: Sent = client
        .post(
            &format!("/api/sessions/{session_id}/messages"),
            &UserText {
                text: prompt,
                attachments: Vec::new(),
            },
        )
        .await?;
    let mut events = std::pin::pin!(events);
    let mut stdout = std::io::stdout();
    let text = matches!(format, Format::Text);
    while let Some(raw) = events.next().await {
        // The stream's own `reset` and `lagged` are no `Event`: skipped.
        let Ok(event) = Event::deserialize(&raw) else {
            continue;
        };
        // The session may have moved to a new thread (`session.replaced`).
        if session_of(&event.kind) != Some(sent.session_id.as_str()) {
            continue;
        }
        if !text {
            let _ = writeln!(stdout, "{raw}");
        }
        match event.kind {
            EventKind::ItemDelta {
                kind: DeltaKind::AgentMessage,
                delta,
                ..
            } if text => {
                let _ = write!(stdout, "{delta}");
                let _ = stdout.flush();
            }
            EventKind::ItemCompleted { item, .. } if text => match item {
                Item::AgentMessage { .. } => {
                    let _ = writeln!(stdout);
                }
                Item::CommandExecution {
                    command, exit_code, ..
                } => eprintln!(
                    "[ran] {command} (exit {})",
                    exit_code.map_or("?".into(), |c| c.to_string())
                ),
                Item::FileChange { changes, .. } => {
                    eprintln!("[changed files] {}", changes.len())
                }
                _ => {}
            },
            EventKind::ApprovalRequested { approval } if text => {
                eprintln!("[approval needed] {}", approval.title);
                for danger in &approval.dangers {
                    eprintln!("  careful: {danger}");
                }
                eprintln!(
                    "  answer: perch approvals answer {} accept|decline",
                    approval.id
                );
            }
            EventKind::Warning { message, .. } if text => eprintln!("[warning] {message}"),
            EventKind::TurnProblem { problem, .. } if text => {
                let status = problem
                    .http_status
                    .map(|s| format!(" (HTTP {s})"))
                    .unwrap_or_default();
                let retry = if problem.will_retry {
                    "; Codex retries"
                } else {
                    ""
                };
                eprintln!("[model] {}{status}{retry}", problem.message);
            }
            EventKind::TurnStalled { silent_for_ms, .. } if text => {
                eprintln!(
                    "[stalled] no event for {} s; `perch interrupt` stops it",
                    silent_for_ms / 1000
                );
            }
            EventKind::TurnCompleted {
                turn_id,
                status,
                error,
                ..
            } if turn_id == sent.turn_id => {
                if status == TurnStatus::Completed {
                    return Ok(());
                }
                let status = status.as_str();
                let error = error.unwrap_or_default();
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
    let status: Status = client.get("/api/status").await?;
    if as_json {
        print_json(&status);
        return Ok(());
    }
    let codex = &status.codex;
    println!("Perch {} at {}", status.version, client.base());
    println!(
        "Codex: {} (version {}, tested with {}, restarts {})",
        wire(&codex.state),
        codex.version.as_deref().unwrap_or("?"),
        codex.pinned_version,
        codex.restarts
    );
    if let Some(detail) = &codex.detail {
        println!("  {detail}");
    }
    match &status.account {
        Some(account) => println!("Account: {}", crate::account::describe(account)),
        None => println!("Account: not known yet (Codex has not answered)"),
    }
    println!("Approval policy: {}", wire(&status.approval_policy));
    println!("Pending approvals: {}", status.pending_approvals);
    for turn in &status.active_turns {
        let stalled = if turn.stalled { " (stalled)" } else { "" };
        println!(
            "Running: turn {} in session {}{stalled}",
            turn.turn_id, turn.session_id
        );
    }
    println!("Data: {}", status.data_dir);
    Ok(())
}

pub async fn sessions_list(
    client: &Client,
    archived: bool,
    project: Option<&std::path::Path>,
    as_json: bool,
) -> Result<(), CliError> {
    let mut path = format!("/api/sessions?archived={archived}");
    if let Some(dir) = project {
        path.push_str(&format!(
            "&project={}",
            crate::peer::urlencode(&absolute_dir(dir)?)
        ));
    }
    let list: List<Session> = client.get(&path).await?;
    if as_json {
        print_json(&list.data);
        return Ok(());
    }
    for s in &list.data {
        let title = s
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&s.preview);
        let pin = if s.pinned { "*" } else { " " };
        let running = if s.active_turn_id.is_some() {
            " [running]"
        } else {
            ""
        };
        println!("{pin} {}  {title}{running}", s.id);
    }
    Ok(())
}

/// Prints the session and its turns.
pub async fn sessions_show(client: &Client, id: &str) -> Result<(), CliError> {
    let session: Session = client.get(&format!("/api/sessions/{id}")).await?;
    let history: List<HistoryTurn> = client.get(&format!("/api/sessions/{id}/history")).await?;
    print_json(&json!({ "session": session, "turns": history.data }));
    Ok(())
}

pub async fn sessions_patch(
    client: &Client,
    id: &str,
    patch: SessionPatch,
) -> Result<(), CliError> {
    let session: Session = client.patch(&format!("/api/sessions/{id}"), &patch).await?;
    println!(
        "{} {}",
        session.id,
        if session.archived { "(archived)" } else { "" }
    );
    Ok(())
}

pub async fn interrupt(client: &Client, session: Option<&str>) -> Result<(), CliError> {
    let sessions: Vec<String> = match session {
        Some(id) => vec![id.to_string()],
        None => client
            .get::<Status>("/api/status")
            .await?
            .active_turns
            .into_iter()
            .map(|t| t.session_id)
            .collect(),
    };
    if sessions.is_empty() {
        return Err(CliError::Usage("no turn is running".into()));
    }
    for id in sessions {
        let answer: Interrupting = client
            .post(&format!("/api/sessions/{id}/interrupt"), &no_body())
            .await?;
        println!("interrupted turn {} in session {id}", answer.turn_id);
    }
    Ok(())
}

pub async fn approvals_list(client: &Client, all: bool, as_json: bool) -> Result<(), CliError> {
    let path = format!(
        "/api/approvals?status={}",
        if all { "all" } else { "pending" }
    );
    let approvals: List<Approval> = client.get(&path).await?;
    if as_json {
        print_json(&approvals.data);
        return Ok(());
    }
    if approvals.data.is_empty() {
        println!("no {}approvals", if all { "" } else { "pending " });
    }
    for a in &approvals.data {
        println!("{}  [{}] {}", a.id, a.status.as_str(), a.title);
        for danger in &a.dangers {
            println!("    careful: {danger}");
        }
        if let Some(detail) = &a.detail {
            for line in detail.lines().take(12) {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

pub async fn approvals_answer(
    client: &Client,
    id: &str,
    decision: Decision,
    reason: Option<String>,
) -> Result<(), CliError> {
    let approval: Approval = client
        .post(
            &format!("/api/approvals/{id}"),
            &Answer { decision, reason },
        )
        .await?;
    println!("{}: {}", approval.id, approval.status.as_str());
    Ok(())
}

/// Opens the UI with a one-time code in the URL fragment, which browsers do
/// not send to the server, so the token appears in no URL and no log.
pub async fn open(client: &Client) -> Result<(), CliError> {
    let code: LoginCode = client.post("/api/auth/login-codes", &no_body()).await?;
    let url = format!("{}/#login={}", client.base(), code.code);
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
