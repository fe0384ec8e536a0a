//! Agent changes: what `/api/changes*` answers and `change.pending`/
//! `change.decided` carry. Every change the agent makes with Perch's tools
//! (memories, plans, wakeups, messages to other agents) is recorded with
//! where it came from; a change asked for in a peer-driven turn waits for
//! the person (pending) and takes no effect until accepted.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::ToSchema;

/// One change the agent made or asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentChange {
    #[ts(type = "number")]
    pub id: i64,
    /// The Perch tool the agent called (`memory_add`, `send_message`, …).
    pub tool: String,
    /// Its arguments, as the agent gave them.
    #[schema(value_type = Object)]
    #[ts(type = "Record<string, unknown>")]
    pub arguments: Value,
    /// One line for a person: what it does.
    pub summary: String,
    pub provenance: Provenance,
    pub status: ChangeStatus,
    /// What the tool answered once it ran (the memory, the plan, …).
    #[schema(value_type = Option<Object>)]
    #[ts(type = "unknown")]
    pub result: Option<Value>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    /// When it ran or was discarded.
    #[ts(type = "number | null")]
    pub decided_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    /// Waits for the person: it has had no effect.
    Pending,
    /// It ran (at once, or when the person accepted it).
    Applied,
    /// The person discarded it: it never ran.
    Discarded,
    /// It ran and failed (`error` says why).
    Failed,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Discarded => "discarded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Applied, Self::Discarded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Where a change came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub kind: ProvenanceKind,
    /// The session whose turn made it.
    pub session_id: Option<String>,
    /// For a peer-driven turn: who wrote the messages it answers.
    pub senders: Vec<PeerSender>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProvenanceKind {
    /// The agent, in one of the person's sessions.
    Session,
    /// The agent, in a turn driven by peer messages.
    PeerTurn,
    /// A call Perch could not tie to exactly one running turn: treated as
    /// peer-driven.
    Untied,
}

impl Provenance {
    /// The senders for a person: `bob, eve (unauthenticated)`.
    pub fn senders_in_words(&self) -> String {
        self.senders
            .iter()
            .map(|s| {
                if s.authenticated {
                    s.id.clone()
                } else {
                    format!("{} (unauthenticated)", s.id)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A sender of peer messages, and whether the relay authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerSender {
    pub id: String,
    pub authenticated: bool,
}

/// `GET /api/changes?status=`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ChangeQuery {
    /// Only this status; every status when absent.
    pub status: Option<ChangeStatus>,
    /// At most this many, newest first (default 100; more than 500 reads as 500).
    #[param(maximum = 4_294_967_295_u32)]
    pub limit: Option<u32>,
}
