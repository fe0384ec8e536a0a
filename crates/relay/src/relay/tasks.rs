//! Integration tasks: ingest, claims, status, callbacks.

use super::*;

impl Relay {
    /// The integration this token belongs to (compared in constant time).
    pub fn integration_for_token(&self, token: &str) -> Option<&Integration> {
        self.settings
            .integrations
            .iter()
            .find(|i| ct_eq(&i.token, token))
    }

    /// One more event from `integration` this minute, or 429.
    async fn check_rate(&self, integration: &Integration) -> Result<()> {
        let limit = self.settings.integration_rate_limit_per_minute;
        match self.backend.count_event(&integration.name, limit).await? {
            None => Ok(()),
            Some(retry_after_secs) => Err(RelayError::RateLimited {
                integration: integration.name.clone(),
                limit,
                retry_after_secs,
            }),
        }
    }

    /// `POST /api/integrations/events`: creates a task (and its claimable
    /// message), counts a repeat of an active one, or resolves it. Returns
    /// the task and whether it was created.
    pub async fn ingest(
        &self,
        integration: &Integration,
        event: IntegrationEvent,
    ) -> Result<(Task, bool)> {
        if !integration.scopes.iter().any(|s| s == "tasks:create") {
            return Err(RelayError::Forbidden(format!(
                "integration {:?} lacks the tasks:create scope",
                integration.name
            )));
        }
        self.check_rate(integration).await?;
        check_meta("metadata", &event.metadata)?;
        let source = integration.name.clone();
        let dedupe_key = check_optional("dedupeKey", event.dedupe_key, MAX_SHORT_CHARS)?;
        if event.status.as_deref() == Some("resolved") {
            let key = dedupe_key.ok_or_else(|| {
                RelayError::Invalid("`status: resolved` needs the task's dedupeKey".into())
            })?;
            let task = self
                .view()
                .await?
                .active_task(&source, &key)?
                .ok_or_else(|| {
                    RelayError::NotFound(format!(
                        "no active task from {source} with dedupeKey {key:?}"
                    ))
                })?;
            let task = self
                .set_task_status(
                    task.id,
                    TaskStatus::Done,
                    Some("resolved by the source".into()),
                    None,
                    Some(&source),
                )
                .await?;
            return Ok((task, false));
        }
        if let Some(status) = event.status.as_deref().filter(|s| *s != "open") {
            return Err(RelayError::Invalid(format!(
                "`status` may be \"resolved\" (or omitted), not {status:?}"
            )));
        }
        let target = Target::parse(
            event
                .target
                .as_deref()
                .or(integration.targets.first().map(String::as_str))
                .ok_or_else(|| {
                    RelayError::Invalid(
                        "`target` is required (an id, tag:, cap:, label: or broadcast)".into(),
                    )
                })?,
        )?
        .to_wire();
        if !integration.targets.is_empty() && !integration.targets.contains(&target) {
            return Err(RelayError::Forbidden(format!(
                "integration {source:?} may target {:?}, not {target:?}",
                integration.targets
            )));
        }
        let channel = check_optional("channel", event.channel, MAX_SHORT_CHARS)?
            .or_else(|| integration.channels.first().cloned());
        if let Some(channel) = &channel {
            if !integration.channels.is_empty() && !integration.channels.contains(channel) {
                return Err(RelayError::Forbidden(format!(
                    "integration {source:?} may post in {:?}, not {channel:?}",
                    integration.channels
                )));
            }
        }
        let title = check_optional("title", event.title, MAX_SHORT_CHARS)?
            .ok_or_else(|| RelayError::Invalid("`title` is required".into()))?;
        let body = check_optional("body", event.body, MAX_BODY_CHARS)?;
        let kind =
            check_optional("type", event.kind, MAX_SHORT_CHARS)?.unwrap_or_else(|| "event".into());
        let severity = check_optional("severity", event.severity, MAX_SHORT_CHARS)?;
        let external_url = check_optional("externalUrl", event.external_url, 2_000)?;
        let message_body = [Some(title.clone()), body.clone(), external_url.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut meta = Map::new();
        meta.insert("source".into(), Value::from(source.clone()));
        if let Some(severity) = &severity {
            meta.insert("severity".into(), Value::from(severity.clone()));
        }
        let message = NewMessage {
            from: format!("integration:{source}"),
            to: target.clone(),
            channel: channel.clone(),
            subject: Some(title.clone()),
            body: message_body,
            reply_to: None,
            claimable: true,
            kind: Some("task".into()),
            meta,
            urgent: severity.as_deref() == Some("critical"),
        };
        let new = NewTask {
            source,
            kind,
            severity,
            dedupe_key,
            title,
            body,
            target,
            channel,
            external_url,
            metadata: event.metadata,
        };
        match self.backend.ingest_task(new, message, now_ms()).await? {
            Ingested::Created { task, .. } => {
                self.backend
                    .publish(RelayEvent::TaskCreated((*task).clone()))
                    .await;
                self.callback(integration, &task, "task.created").await;
                Ok((*task, true))
            }
            Ingested::Repeated(task) => {
                self.backend
                    .publish(RelayEvent::TaskUpdated((*task).clone()))
                    .await;
                Ok((*task, false))
            }
        }
    }

    pub async fn task(&self, id: i64) -> Result<Task> {
        self.view()
            .await?
            .task(id)?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))
    }

    pub async fn tasks(
        &self,
        status: Option<&str>,
        source: Option<&str>,
        target: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Task>> {
        let status = status
            .map(|s| TaskStatus::parse(s).ok_or_else(|| invalid_task_status(s)))
            .transpose()?;
        self.view()
            .await?
            .tasks(status, source, target, limit.unwrap_or(100).clamp(1, 1000))
    }

    pub async fn task_events(&self, id: i64) -> Result<Vec<TaskEvent>> {
        self.task(id).await?;
        self.view().await?.task_events(id)
    }

    pub async fn task_callbacks(&self, id: i64) -> Result<Vec<Callback>> {
        self.task(id).await?;
        self.view().await?.callbacks(id)
    }

    pub async fn claim_task(&self, id: i64, agent: &str, proof: &InstanceProof) -> Result<Task> {
        let agent = self.claimant(agent, proof).await?;
        let task = match self.backend.claim_task(id, &agent, now_ms()).await? {
            TaskClaim::Done(task) => *task,
            TaskClaim::NotFound => return Err(RelayError::NotFound(format!("no task {id}"))),
            TaskClaim::HeldBy(holder, status) => {
                return Err(RelayError::Conflict(format!(
                    "task {id} is {} (held by {})",
                    status.as_str(),
                    holder.as_deref().unwrap_or("nobody")
                )))
            }
        };
        self.backend
            .publish(RelayEvent::TaskClaimed(task.clone()))
            .await;
        self.callback_for_source(&task, "task.claimed").await;
        Ok(task)
    }

    pub async fn update_task(
        &self,
        id: i64,
        status: &str,
        result: Option<String>,
        progress: Option<String>,
        agent: Option<&str>,
    ) -> Result<Task> {
        let status = TaskStatus::parse(status).ok_or_else(|| invalid_task_status(status))?;
        let result = check_optional("result", result, MAX_BODY_CHARS)?;
        let progress = check_optional("progress", progress, MAX_SHORT_CHARS)?;
        let agent = agent.map(|a| check_id("agentId", a)).transpose()?;
        self.task(id).await?;
        self.set_task_status(id, status, result, progress, agent.as_deref())
            .await
    }

    async fn set_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
    ) -> Result<Task> {
        let task = self
            .backend
            .update_task_status(id, status, result, progress, actor, now_ms())
            .await?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))?;
        self.backend
            .publish(RelayEvent::TaskStatus(task.clone()))
            .await;
        self.callback_for_source(&task, "task.status").await;
        Ok(task)
    }

    async fn callback_for_source(&self, task: &Task, event: &str) {
        if let Some(integration) = self
            .settings
            .integrations
            .iter()
            .find(|i| i.name == task.source)
        {
            self.callback(integration, task, event).await;
        }
    }

    /// Has the backend record the callback and deliver it once; a failure
    /// to record it is logged (the task itself is stored).
    async fn callback(&self, integration: &Integration, task: &Task, event: &str) {
        let Some(url) = integration.callback_url.clone() else {
            return;
        };
        let job = CallbackJob {
            task: task.id,
            integration: integration.name.clone(),
            url,
            event: event.to_string(),
            payload: json!({ "event": event, "task": task }),
        };
        if let Err(err) = self.backend.queue_callback(job, now_ms()).await {
            tracing::error!(
                "relay: recording a callback for task {} failed: {err}",
                task.id
            );
        }
    }
}

fn invalid_task_status(s: &str) -> RelayError {
    RelayError::Invalid(format!(
        "task status {s:?} is not one of open, claimed, in_progress, blocked, done, failed, cancelled"
    ))
}
