//! Pairs: two agents working together, and their channel.

use super::*;

impl Relay {
    /// Invites `target` (an id, or the most recently seen ready agent that
    /// matches a `tag:`/`cap:`/`label:`) to pair with `from`. `authenticated`:
    /// the caller proved the key of `from` (as for every `authenticated` below).
    pub async fn invite(
        &self,
        from: &str,
        target: &str,
        objective: Option<String>,
        authenticated: bool,
    ) -> Result<Pair> {
        let from = check_id("from", from)?;
        let objective = check_optional("objective", objective, MAX_BODY_CHARS)?;
        let candidates: Vec<String> = match Target::parse(target)? {
            Target::Broadcast => {
                return Err(RelayError::Invalid(
                    "a pair needs one agent: use an id, tag:, cap: or label:".into(),
                ))
            }
            Target::Agent(id) => {
                if id == from {
                    return Err(RelayError::Invalid(
                        "an agent cannot pair with itself".into(),
                    ));
                }
                vec![self.agent(&id).await?.id]
            }
            target => {
                let mut matching: Vec<Agent> = self
                    .agents()
                    .await?
                    .into_iter()
                    .filter(|a| {
                        a.id != from
                            && a.ready
                            && a.status != AgentStatus::Offline
                            && target.matches(a)
                    })
                    .collect();
                matching.sort_by_key(|a| std::cmp::Reverse(a.last_seen));
                if matching.is_empty() {
                    return Err(RelayError::NotFound(format!(
                        "no ready, online agent matches {}",
                        target.to_wire()
                    )));
                }
                matching.into_iter().map(|a| a.id).collect()
            }
        };
        let id = format!(
            "pair-{}",
            random_hex(8).map_err(|e| RelayError::Internal(e.to_string()))?
        );
        let pair = self
            .backend
            .create_pair(id, &from, &candidates, objective.clone(), now_ms())
            .await?;
        let body = objective.unwrap_or_else(|| format!("{from} would like to pair with you."));
        let notice = pair_notice(
            &pair,
            &from,
            &pair.to,
            "pair.invite",
            format!("Pair invite from {from}"),
            body,
        );
        self.backend.insert_message(notice, authenticated).await?;
        self.backend
            .publish(RelayEvent::PairInvited(pair.clone()))
            .await;
        Ok(pair)
    }

    pub async fn pair(&self, id: &str) -> Result<Pair> {
        self.view()
            .await?
            .pair(id)?
            .ok_or_else(|| RelayError::NotFound(format!("no pair {id}")))
    }

    pub async fn pairs(
        &self,
        agent: Option<&str>,
        status: Option<PairStatus>,
    ) -> Result<Vec<Pair>> {
        self.view().await?.pairs(agent, status)
    }

    /// Accept (`to` only), reject (`to` only) or hang up (either side).
    pub async fn answer_pair(
        &self,
        id: &str,
        agent: &str,
        next: PairStatus,
        authenticated: bool,
    ) -> Result<Pair> {
        let pair = self.pair(id).await?;
        let agent = check_id("agentId", agent)?;
        let member = agent == pair.from || agent == pair.to;
        let (allowed_from, may_act): (&[PairStatus], bool) = match next {
            PairStatus::Active | PairStatus::Rejected => (&[PairStatus::Pending], agent == pair.to),
            PairStatus::Ended => (&[PairStatus::Pending, PairStatus::Active], member),
            PairStatus::Pending => {
                return Err(RelayError::Invalid(
                    "a pair cannot go back to pending".into(),
                ))
            }
        };
        if !may_act {
            return Err(RelayError::Forbidden(format!(
                "{agent} may not {} pair {id}",
                verb(next)
            )));
        }
        let updated = self
            .backend
            .transition_pair(id, allowed_from, next, &agent, now_ms())
            .await?
            .ok_or_else(|| {
                RelayError::Conflict(format!(
                    "pair {id} is {}; it cannot be {}",
                    pair.status.as_str(),
                    past(next)
                ))
            })?;
        let other = if agent == pair.from {
            &pair.to
        } else {
            &pair.from
        };
        let (event, subject) = match next {
            PairStatus::Active => (
                RelayEvent::PairAccepted(updated.clone()),
                format!("{agent} accepted the pair"),
            ),
            PairStatus::Rejected => (
                RelayEvent::PairRejected(updated.clone()),
                format!("{agent} declined the pair"),
            ),
            _ => (
                RelayEvent::PairEnded(updated.clone()),
                format!("{agent} ended the pair"),
            ),
        };
        let notice = pair_notice(
            &updated,
            &agent,
            other,
            event.kind(),
            subject.clone(),
            subject,
        );
        self.backend.insert_message(notice, authenticated).await?;
        self.backend.publish(event).await;
        Ok(updated)
    }

    /// Pair chat: from one member to the other, on channel `pair:<id>`;
    /// `meta` is kept, with the relay's `pairId`.
    pub async fn pair_message(
        &self,
        id: &str,
        from: &str,
        body: &str,
        mut meta: Map<String, Value>,
        authenticated: bool,
    ) -> Result<Message> {
        check_meta("meta", &meta)?;
        let pair = self.pair(id).await?;
        let from = check_id("from", from)?;
        if from != pair.from && from != pair.to {
            return Err(RelayError::Forbidden(format!("{from} is not in pair {id}")));
        }
        if pair.status != PairStatus::Active {
            return Err(RelayError::Conflict(format!(
                "pair {id} is {}, not active",
                pair.status.as_str()
            )));
        }
        let to = if from == pair.from {
            pair.to
        } else {
            pair.from
        };
        meta.insert("pairId".into(), Value::from(id));
        self.backend
            .insert_message(
                NewMessage {
                    from,
                    to,
                    channel: Some(format!("pair:{id}")),
                    subject: None,
                    body: nonempty_body(body)?,
                    reply_to: None,
                    claimable: false,
                    kind: Some("pair.message".into()),
                    meta,
                    urgent: false,
                },
                authenticated,
            )
            .await
    }

    pub async fn pair_messages(&self, id: &str) -> Result<Vec<Message>> {
        self.pair(id).await?;
        let query = MessageQuery {
            channel: Some(format!("pair:{id}")),
            limit: Some(1000),
            ..Default::default()
        };
        self.view().await?.messages(&query, None)
    }
}

/// The message a pair's change posts on its channel, from the member who made it.
fn pair_notice(
    pair: &Pair,
    from: &str,
    to: &str,
    kind: &str,
    subject: String,
    body: String,
) -> NewMessage {
    let mut meta = Map::new();
    meta.insert("pairId".into(), Value::from(pair.id.clone()));
    meta.insert("pairStatus".into(), Value::from(pair.status.as_str()));
    NewMessage {
        from: from.to_string(),
        to: to.to_string(),
        channel: Some(format!("pair:{}", pair.id)),
        subject: Some(subject),
        body,
        reply_to: None,
        claimable: false,
        kind: Some(kind.to_string()),
        meta,
        urgent: false,
    }
}

fn verb(next: PairStatus) -> &'static str {
    match next {
        PairStatus::Active => "accept",
        PairStatus::Rejected => "reject",
        _ => "hang up",
    }
}

fn past(next: PairStatus) -> &'static str {
    match next {
        PairStatus::Active => "accepted",
        PairStatus::Rejected => "rejected",
        _ => "ended",
    }
}
