//! `perch changes`: what the agent changed with Perch's tools, and the
//! changes a peer-driven turn asked for, which wait for the person.

use crate::client::{no_body, print_json, Client};
use crate::CliError;
use clap::Subcommand;
use perch_protocol::changes::{AgentChange, ChangeStatus, ProvenanceKind};
use perch_protocol::List;
use serde_json::Value;

#[derive(Subcommand)]
pub enum ChangesCommand {
    /// The changes, newest first (default: those waiting for you).
    List {
        /// `pending` (default), `applied`, `discarded`, `failed` or `all`.
        #[arg(long, default_value = "pending")]
        status: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Run a pending change now (once).
    Accept { id: i64 },
    /// Drop a pending change: it never runs.
    Discard { id: i64 },
}

/// Who asked, for a person.
fn origin(change: &AgentChange) -> String {
    let provenance = &change.provenance;
    let senders = provenance.senders_in_words();
    match provenance.kind {
        ProvenanceKind::Session => "your session".into(),
        ProvenanceKind::PeerTurn if senders.is_empty() => "a peer-driven turn".into(),
        ProvenanceKind::PeerTurn => format!("a turn answering {senders}"),
        ProvenanceKind::Untied => "a call tied to no single turn".into(),
    }
}

pub async fn changes(client: &Client, command: Option<ChangesCommand>) -> Result<(), CliError> {
    let command = command.unwrap_or(ChangesCommand::List {
        status: "pending".into(),
        limit: 50,
        json: false,
    });
    match command {
        ChangesCommand::List {
            status,
            limit,
            json,
        } => {
            let filter = match status.as_str() {
                "all" => String::new(),
                word if ChangeStatus::parse(word).is_some() => format!("&status={word}"),
                word => {
                    return Err(CliError::Usage(format!(
                        "--status {word:?} is not pending, applied, discarded, failed or all"
                    )))
                }
            };
            let path = format!("/api/changes?limit={}{filter}", limit.clamp(1, 500));
            if json {
                print_json(&client.get::<Value>(&path).await?);
                return Ok(());
            }
            let page: List<AgentChange> = client.get(&path).await?;
            if page.data.is_empty() {
                println!("no {} changes", if status == "all" { "" } else { &status });
            }
            for change in &page.data {
                println!(
                    "#{:<5} {:<9} {} (from {})",
                    change.id,
                    change.status.as_str(),
                    change.summary,
                    origin(change)
                );
                if let Some(error) = &change.error {
                    println!("       failed: {error}");
                }
            }
            Ok(())
        }
        ChangesCommand::Accept { id } => {
            let change: AgentChange = client
                .post(&format!("/api/changes/{id}/accept"), &no_body())
                .await?;
            match change.error {
                Some(error) => Err(CliError::ChangeFailed(format!(
                    "change #{id} ran and failed: {error}"
                ))),
                None => {
                    println!("applied #{id}: {}", change.summary);
                    Ok(())
                }
            }
        }
        ChangesCommand::Discard { id } => {
            let change: AgentChange = client
                .post(&format!("/api/changes/{id}/discard"), &no_body())
                .await?;
            println!("discarded #{id}: {}", change.summary);
            Ok(())
        }
    }
}
