//! Which tool calls run and which wait for the person (issue 14).
//!
//! A call that changes something (memory, plans, wakeups, messages to other
//! agents, pairs, tasks) runs at once when it comes from the agent in one of
//! the person's sessions. When it comes from a peer-driven turn (a confined
//! session: the peer session), or cannot be tied to exactly one running
//! turn, it is recorded as a pending change and has no effect until the
//! person accepts it. Exceptions, by capability and not by wording: a
//! peer-driven turn may answer the senders of its own messages, and may do
//! everything when every sender is an agent the person trusts
//! (`[peer] trusted_agents`) that proved its agent key.
//!
//! Every change, run or pending, is recorded with its provenance
//! (`perch_agent::changes`).

use super::{PerchTools, ToolResult};
use perch_agent::changes::{
    AgentChange, ChangeApplier, NewChange, Outcome, PeerSender, Provenance, ProvenanceKind,
};
use perch_runtime::host::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;

/// Who a call comes from.
pub(super) enum Caller {
    /// The agent in a person's session, a trusted peer's turn, or a change
    /// the person accepted: it runs.
    Trusted(Provenance),
    /// A peer-driven turn, or a call tied to no single turn: it waits.
    PeerDriven(Provenance),
}

impl Caller {
    pub(super) fn provenance(&self) -> &Provenance {
        match self {
            Self::Trusted(p) | Self::PeerDriven(p) => p,
        }
    }
}

impl PerchTools {
    pub(super) fn caller(&self) -> Caller {
        if let Some(accepted) = &self.accepted {
            return Caller::Trusted(accepted.clone());
        }
        let runtime = self.agent.runtime();
        match runtime.busy_sessions().as_slice() {
            [one] => {
                let peer_session = self.agent.peer_session().as_deref() == Some(one.as_str());
                let confined = peer_session || runtime.is_confined(one).unwrap_or(true);
                if !confined {
                    return Caller::Trusted(Provenance {
                        kind: ProvenanceKind::Session,
                        session_id: Some(one.clone()),
                        senders: Vec::new(),
                    });
                }
                let provenance = Provenance {
                    kind: ProvenanceKind::PeerTurn,
                    session_id: Some(one.clone()),
                    senders: self.agent.turn_senders(one),
                };
                if self.trusts_all(&provenance.senders) {
                    Caller::Trusted(provenance)
                } else {
                    Caller::PeerDriven(provenance)
                }
            }
            _ => Caller::PeerDriven(Provenance {
                kind: ProvenanceKind::Untied,
                session_id: None,
                senders: Vec::new(),
            }),
        }
    }

    /// Every sender is trusted by the person and proved its key.
    fn trusts_all(&self, senders: &[PeerSender]) -> bool {
        let Some(peer) = &self.peer else { return false };
        let trusted = &peer.config().trusted_agents;
        !senders.is_empty()
            && senders
                .iter()
                .all(|s| s.authenticated && trusted.contains(&s.id))
    }

    /// The caller of a message to `to`: a peer-driven turn may answer the
    /// senders of its own messages at once, nobody else.
    pub(super) fn caller_writing_to(&self, to: &str) -> Caller {
        match self.caller() {
            Caller::PeerDriven(provenance)
                if provenance.senders.iter().any(|sender| sender.id == to) =>
            {
                Caller::Trusted(provenance)
            }
            caller => caller,
        }
    }

    /// Runs `run` when `caller` may, else records the call as pending; either
    /// way the change is recorded with its provenance (an accepted change
    /// was recorded when it was asked for).
    pub(super) async fn gated<Fut>(
        &self,
        caller: Caller,
        tool: &str,
        arguments: Value,
        summary: String,
        run: impl FnOnce() -> Fut,
    ) -> ToolResult
    where
        Fut: Future<Output = ToolResult>,
    {
        let (provenance, runs) = match caller {
            Caller::Trusted(p) => (p, true),
            Caller::PeerDriven(p) => (p, false),
        };
        let new = NewChange {
            tool: tool.to_string(),
            arguments,
            summary,
            provenance,
        };
        if !runs {
            let change = self
                .agent
                .record_change(new, Outcome::Pending)
                .map_err(|e| e.to_string())?;
            return Ok(format!(
                "Not done yet: change #{} waits for the person, because this turn answers peer messages. \
                 It has no effect until they accept it. Do not ask again; say it is waiting if it matters.",
                change.id
            ));
        }
        let answer = run().await;
        if self.accepted.is_none() {
            let outcome = match &answer {
                Ok(text) => Outcome::Applied(answer_value(text)),
                Err(why) => Outcome::Failed(why.clone()),
            };
            if let Err(err) = self.agent.record_change(new, outcome) {
                tracing::warn!("recording the agent's change: {err}");
            }
        }
        answer
    }
}

/// A tool's arguments as recorded with its change.
pub(super) fn recorded(arguments: &impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(arguments).map_err(|e| e.to_string())
}

/// A tool's answer as JSON when it is JSON, else as text.
fn answer_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Runs changes the person accepted, with the tools the agent called and
/// the provenance they were asked with.
pub(super) struct Applier(pub PerchTools);

fn arguments<T: DeserializeOwned>(change: &AgentChange) -> Result<T, String> {
    serde_json::from_value(change.arguments.clone())
        .map_err(|e| format!("the change's arguments no longer read: {e}"))
}

impl ChangeApplier for Applier {
    fn apply<'a>(&'a self, change: &'a AgentChange) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let tools = PerchTools {
                accepted: Some(change.provenance.clone()),
                ..self.0.clone()
            };
            let answer = tools.perform(&change.tool, change).await?;
            Ok(answer_value(&answer))
        })
    }
}

impl PerchTools {
    /// Calls the tool `name` with the change's arguments.
    async fn perform(&self, name: &str, change: &AgentChange) -> ToolResult {
        use rmcp::handler::server::wrapper::Parameters as P;
        match name {
            "memory_add" => self.memory_add(P(arguments(change)?)).await,
            "memory_edit" => self.memory_edit(P(arguments(change)?)).await,
            "memory_delete" => self.memory_delete(P(arguments(change)?)).await,
            "planner_create" => self.planner_create(P(arguments(change)?)).await,
            "planner_add" => self.planner_add(P(arguments(change)?)).await,
            "planner_check" => self.planner_check(P(arguments(change)?)).await,
            "planner_uncheck" => self.planner_uncheck(P(arguments(change)?)).await,
            "planner_clear" => self.planner_clear(P(arguments(change)?)).await,
            "scheduler_schedule" => self.scheduler_schedule(P(arguments(change)?)).await,
            "scheduler_cancel" => self.scheduler_cancel(P(arguments(change)?)).await,
            "send_message" => self.send_message(P(arguments(change)?)).await,
            "reply" => self.reply(P(arguments(change)?)).await,
            "send_claimable" => self.send_claimable(P(arguments(change)?)).await,
            "invite_pair" => self.invite_pair(P(arguments(change)?)).await,
            "accept_pair" => self.accept_pair(P(arguments(change)?)).await,
            "reject_pair" => self.reject_pair(P(arguments(change)?)).await,
            "hangup_pair" => self.hangup_pair(P(arguments(change)?)).await,
            "pair_message" => self.pair_message(P(arguments(change)?)).await,
            "update_task" => self.update_task(P(arguments(change)?)).await,
            other => Err(format!(
                "{other} is not a tool whose calls wait for the person"
            )),
        }
    }
}

/// `text` on one line, at most `max` characters, quoted.
pub(super) fn quoted(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("\"{}\"", stdx::ellipsize(&line, max))
}
