//! The peer network tools: messages, pairs, claims and tasks on the relay.

use super::gate::{quoted, recorded};
use super::{json_text, PerchTools, ToolResult};
use perch_peer::Peer;
use perch_relay_protocol::NewMessage;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct AgentId {
    /// The agent's id.
    id: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListMessages {
    /// Only this channel.
    channel: Option<String>,
    /// Only messages from this agent.
    from: Option<String>,
    /// Messages after this id (paging forward).
    since_id: Option<i64>,
    /// Messages before this id (paging back).
    before_id: Option<i64>,
    /// At most this many (default 50, at most 200).
    limit: Option<usize>,
    /// Only messages you have not marked read.
    unread_only: Option<bool>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SendMessage {
    /// An agent id, `tag:NAME`, `cap:NAME`, `label:NAME` or `broadcast`.
    to: String,
    body: String,
    subject: Option<String>,
    channel: Option<String>,
    /// The id of the message this answers (it joins that thread).
    reply_to: Option<i64>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Reply {
    /// The id of the message you answer; the reply goes to its sender (or its pair).
    message_id: i64,
    body: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SendClaimable {
    /// Usually a group: `tag:NAME`, `cap:NAME`, `label:NAME` or `broadcast`; one agent of it takes the work.
    to: String,
    body: String,
    subject: Option<String>,
    channel: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageId {
    message_id: i64,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct Invite {
    /// An agent id, `tag:`, `cap:` or `label:` target; the first available agent is invited.
    target: String,
    objective: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PairId {
    pair_id: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PairMessage {
    pair_id: String,
    body: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct ListTasks {
    /// `open`, `claimed`, `in_progress`, `done`, `failed`, `cancelled`.
    status: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateTask {
    task_id: i64,
    /// `claimed`, `in_progress`, `done`, `failed` or `cancelled`.
    status: String,
    progress: Option<String>,
    result: Option<String>,
}

impl PerchTools {
    fn peer(&self) -> std::result::Result<Arc<Peer>, String> {
        self.peer.clone().ok_or_else(|| {
            "the peer network is off (`[peer] enabled = false`, or no relay)".to_string()
        })
    }

    /// Sealed or signed by `Peer::send`; answers what was sent, opened.
    async fn send(&self, message: NewMessage) -> ToolResult {
        let peer = self.peer()?;
        json_text(peer.send(message).await.map_err(|e| e.to_string())?)
    }

    fn outgoing(
        peer: &Peer,
        to: String,
        body: String,
        subject: Option<String>,
        channel: Option<String>,
    ) -> NewMessage {
        NewMessage {
            from: peer.agent_id().to_string(),
            to,
            body,
            subject,
            channel,
            reply_to: None,
            claimable: false,
            kind: None,
            meta: Default::default(),
            urgent: false,
        }
    }

    async fn answer_pair(&self, p: PairId, tool: &str, action: &str) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller(), recorded(&p)?);
        let verb = match action {
            "accept" => "Accept",
            "reject" => "Decline",
            _ => "End",
        };
        let summary = format!("{verb} pair {}", p.pair_id);
        let run = || async move {
            json_text(
                peer.client()
                    .answer_pair(&p.pair_id, action, peer.agent_id())
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        self.gated(caller, tool, arguments, summary, run).await
    }
}

#[tool_router(router = peer_router, vis = "pub(super)")]
impl PerchTools {
    #[tool(
        description = "Your own card on the agent relay: id, label, tags, capabilities, channels, status."
    )]
    async fn me(&self) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .agent(peer.agent_id())
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(
        description = "Every agent on the relay with its presence, label, tags and capabilities."
    )]
    async fn list_agents(&self) -> ToolResult {
        json_text(self.peer()?.agents().await.map_err(|e| e.to_string())?)
    }

    #[tool(description = "One agent's card.")]
    async fn get_agent(&self, Parameters(AgentId { id }): Parameters<AgentId>) -> ToolResult {
        json_text(
            self.peer()?
                .client()
                .agent(&id)
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(description = "Messages that reached you, oldest first; page with sinceId/beforeId.")]
    async fn list_messages(&self, Parameters(q): Parameters<ListMessages>) -> ToolResult {
        let peer = self.peer()?;
        let mut query = vec![
            ("for", peer.agent_id().to_string()),
            ("limit", q.limit.unwrap_or(50).clamp(1, 200).to_string()),
        ];
        query.extend(q.channel.map(|c| ("channel", c)));
        query.extend(q.from.map(|f| ("from", f)));
        query.extend(q.since_id.map(|s| ("sinceId", s.to_string())));
        query.extend(q.before_id.map(|b| ("beforeId", b.to_string())));
        if q.unread_only == Some(true) {
            query.push(("unread", "true".into()));
        }
        let messages = peer
            .client()
            .messages(&query)
            .await
            .map_err(|e| e.to_string())?;
        json_text(peer.shown(&messages).await)
    }

    #[tool(
        description = "Send a message to an agent id, tag:NAME, cap:NAME, label:NAME or broadcast."
    )]
    pub(super) async fn send_message(&self, Parameters(m): Parameters<SendMessage>) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller_writing_to(&m.to), recorded(&m)?);
        let summary = format!("Message {}: {}", m.to, quoted(&m.body, 120));
        let run = || async move {
            let mut message = Self::outgoing(&peer, m.to, m.body, m.subject, m.channel);
            message.reply_to = m.reply_to;
            self.send(message).await
        };
        self.gated(caller, "send_message", arguments, summary, run)
            .await
    }

    #[tool(
        description = "Reply to a message by its id: to its sender, in its thread and channel (or in its pair)."
    )]
    pub(super) async fn reply(&self, Parameters(r): Parameters<Reply>) -> ToolResult {
        let peer = self.peer()?;
        let stored = peer
            .client()
            .message(r.message_id)
            .await
            .map_err(|e| e.to_string())?;
        // Its subject, if sealed, is only in the opened copy.
        let (original, _) = peer.open(&stored).await;
        let (caller, arguments) = (self.caller_writing_to(&original.from), recorded(&r)?);
        let summary = format!("Reply to {}: {}", original.from, quoted(&r.body, 120));
        let Reply { message_id, body } = r;
        let run = || async move {
            if let Some(pair) = original.meta.get("pairId").and_then(|p| p.as_str()) {
                return json_text(
                    peer.pair_message(pair, body)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let mut message = Self::outgoing(
                &peer,
                original.from,
                body,
                original.subject,
                original.channel,
            );
            message.reply_to = Some(message_id);
            self.send(message).await
        };
        self.gated(caller, "reply", arguments, summary, run).await
    }

    #[tool(description = "Offer work that exactly one agent of the target group can claim.")]
    pub(super) async fn send_claimable(
        &self,
        Parameters(m): Parameters<SendClaimable>,
    ) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller(), recorded(&m)?);
        let summary = format!("Offer work to {}: {}", m.to, quoted(&m.body, 120));
        let run = || async move {
            let mut message = Self::outgoing(&peer, m.to, m.body, m.subject, m.channel);
            message.claimable = true;
            self.send(message).await
        };
        self.gated(caller, "send_claimable", arguments, summary, run)
            .await
    }

    #[tool(description = "Claim a claimable message so no other agent takes it.")]
    async fn claim(
        &self,
        Parameters(MessageId { message_id }): Parameters<MessageId>,
    ) -> ToolResult {
        let peer = self.peer()?;
        let lease = std::time::Duration::from_secs(peer.config().claim_lease_secs);
        let claimed = peer
            .client()
            .claim(
                message_id,
                "claim",
                peer.agent_id(),
                &peer.agent_proof(),
                lease,
            )
            .await
            .map_err(|e| e.to_string())?;
        json_text(peer.shown(std::slice::from_ref(&claimed)).await)
    }

    #[tool(
        description = "Your pairs (one-to-one sessions with another agent): pending, active and ended."
    )]
    async fn list_pairs(&self) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .pairs(Some(peer.agent_id()))
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(description = "Invite an agent to pair with you, with an optional objective.")]
    pub(super) async fn invite_pair(&self, Parameters(i): Parameters<Invite>) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller(), recorded(&i)?);
        let summary = format!("Invite {} to pair", i.target);
        let Invite { target, objective } = i;
        let run = || async move {
            json_text(
                peer.client()
                    .invite(peer.agent_id(), &target, objective)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        self.gated(caller, "invite_pair", arguments, summary, run)
            .await
    }

    #[tool(description = "Accept a pair invitation.")]
    pub(super) async fn accept_pair(&self, Parameters(p): Parameters<PairId>) -> ToolResult {
        self.answer_pair(p, "accept_pair", "accept").await
    }

    #[tool(description = "Decline a pair invitation.")]
    pub(super) async fn reject_pair(&self, Parameters(p): Parameters<PairId>) -> ToolResult {
        self.answer_pair(p, "reject_pair", "reject").await
    }

    #[tool(description = "End a pair.")]
    pub(super) async fn hangup_pair(&self, Parameters(p): Parameters<PairId>) -> ToolResult {
        self.answer_pair(p, "hangup_pair", "hangup").await
    }

    #[tool(description = "Write in an active pair.")]
    pub(super) async fn pair_message(&self, Parameters(m): Parameters<PairMessage>) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller(), recorded(&m)?);
        let summary = format!("Write in pair {}: {}", m.pair_id, quoted(&m.body, 120));
        let PairMessage { pair_id, body } = m;
        let run = || async move {
            json_text(
                peer.pair_message(&pair_id, body)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        self.gated(caller, "pair_message", arguments, summary, run)
            .await
    }

    #[tool(description = "Tasks raised by integrations (monitoring, CI, tickets), newest first.")]
    async fn list_tasks(
        &self,
        Parameters(ListTasks { status }): Parameters<ListTasks>,
    ) -> ToolResult {
        json_text(
            self.peer()?
                .client()
                .tasks(status.as_deref(), 100)
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(
        description = "Report progress on a task or finish it (status done, failed or cancelled, with a result)."
    )]
    pub(super) async fn update_task(&self, Parameters(u): Parameters<UpdateTask>) -> ToolResult {
        let peer = self.peer()?;
        let (caller, arguments) = (self.caller(), recorded(&u)?);
        let summary = format!("Set task #{} to {}", u.task_id, u.status);
        let run = || async move {
            let task = peer
                .client()
                .update_task(u.task_id, peer.agent_id(), &u.status, u.progress, u.result)
                .await;
            json_text(task.map_err(|e| e.to_string())?)
        };
        self.gated(caller, "update_task", arguments, summary, run)
            .await
    }
}
