//! The peer network tools: messages, pairs, claims and tasks on the relay.

use super::{json_text, PerchTools, ToolResult};
use perch_peer::Peer;
use perch_relay_protocol::NewMessage;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, schemars::JsonSchema)]
struct AgentId {
    /// The agent's id.
    id: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ListMessages {
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    /// An agent id, `tag:NAME`, `cap:NAME`, `label:NAME` or `broadcast`.
    to: String,
    body: String,
    subject: Option<String>,
    channel: Option<String>,
    /// The id of the message this answers (it joins that thread).
    reply_to: Option<i64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Reply {
    /// The id of the message you answer; the reply goes to its sender (or its pair).
    message_id: i64,
    body: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SendClaimable {
    /// Usually a group: `tag:NAME`, `cap:NAME`, `label:NAME` or `broadcast`; one agent of it takes the work.
    to: String,
    body: String,
    subject: Option<String>,
    channel: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct MessageId {
    message_id: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Invite {
    /// An agent id, `tag:`, `cap:` or `label:` target; the first available agent is invited.
    target: String,
    objective: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PairId {
    pair_id: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PairMessage {
    pair_id: String,
    body: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ListTasks {
    /// `open`, `claimed`, `in_progress`, `done`, `failed`, `cancelled`.
    status: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateTask {
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

    async fn send(&self, message: NewMessage) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .send(&message)
                .await
                .map_err(|e| e.to_string())?,
        )
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

    async fn answer_pair(&self, pair_id: &str, action: &str) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .answer_pair(pair_id, action, peer.agent_id())
                .await
                .map_err(|e| e.to_string())?,
        )
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
        json_text(
            peer.client()
                .messages(&query)
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(
        description = "Send a message to an agent id, tag:NAME, cap:NAME, label:NAME or broadcast."
    )]
    async fn send_message(&self, Parameters(m): Parameters<SendMessage>) -> ToolResult {
        let peer = self.peer()?;
        let mut message = Self::outgoing(&peer, m.to, m.body, m.subject, m.channel);
        message.reply_to = m.reply_to;
        self.send(message).await
    }

    #[tool(
        description = "Reply to a message by its id: to its sender, in its thread and channel (or in its pair)."
    )]
    async fn reply(&self, Parameters(Reply { message_id, body }): Parameters<Reply>) -> ToolResult {
        let peer = self.peer()?;
        let original = peer
            .client()
            .message(message_id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(pair) = original.meta.get("pairId").and_then(|p| p.as_str()) {
            return json_text(
                peer.client()
                    .pair_message(pair, peer.agent_id(), &body)
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
    }

    #[tool(description = "Offer work that exactly one agent of the target group can claim.")]
    async fn send_claimable(&self, Parameters(m): Parameters<SendClaimable>) -> ToolResult {
        let peer = self.peer()?;
        let mut message = Self::outgoing(&peer, m.to, m.body, m.subject, m.channel);
        message.claimable = true;
        self.send(message).await
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
            .await;
        json_text(claimed.map_err(|e| e.to_string())?)
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
    async fn invite_pair(
        &self,
        Parameters(Invite { target, objective }): Parameters<Invite>,
    ) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .invite(peer.agent_id(), &target, objective)
                .await
                .map_err(|e| e.to_string())?,
        )
    }

    #[tool(description = "Accept a pair invitation.")]
    async fn accept_pair(&self, Parameters(PairId { pair_id }): Parameters<PairId>) -> ToolResult {
        self.answer_pair(&pair_id, "accept").await
    }

    #[tool(description = "Decline a pair invitation.")]
    async fn reject_pair(&self, Parameters(PairId { pair_id }): Parameters<PairId>) -> ToolResult {
        self.answer_pair(&pair_id, "reject").await
    }

    #[tool(description = "End a pair.")]
    async fn hangup_pair(&self, Parameters(PairId { pair_id }): Parameters<PairId>) -> ToolResult {
        self.answer_pair(&pair_id, "hangup").await
    }

    #[tool(description = "Write in an active pair.")]
    async fn pair_message(
        &self,
        Parameters(PairMessage { pair_id, body }): Parameters<PairMessage>,
    ) -> ToolResult {
        let peer = self.peer()?;
        json_text(
            peer.client()
                .pair_message(&pair_id, peer.agent_id(), &body)
                .await
                .map_err(|e| e.to_string())?,
        )
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
    async fn update_task(&self, Parameters(u): Parameters<UpdateTask>) -> ToolResult {
        let peer = self.peer()?;
        let task = peer
            .client()
            .update_task(u.task_id, peer.agent_id(), &u.status, u.progress, u.result)
            .await;
        json_text(task.map_err(|e| e.to_string())?)
    }
}
