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

    fn check_rate(&self, integration: &Integration) -> Result<()> {
        let limit = self.settings.integration_rate_limit_per_minute;
        let mut rate = self.rate.lock_unpoisoned();
        let now = Instant::now();
        let entry = rate.entry(integration.name.clone()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let retry_after_secs = 60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1);
            return Err(RelayError::RateLimited {
                integration: integration.name.clone(),
                limit,
                retry_after_secs,
            });
        }
        entry.1 += 1;
        Ok(())
    }

    /// `POST /api/integrations/events`: creates a task (and its claimable
    /// message), counts a repeat of an active one, or resolves it. Returns
    /// the task and whether it was created.
    pub fn ingest(
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
        self.check_rate(integration)?;
        check_meta("metadata", &event.metadata)?;
        let source = integration.name.clone();
        let dedupe_key = check_optional("dedupeKey", event.dedupe_key, MAX_SHORT_CHARS)?;
        if event.status.as_deref() == Some("resolved") {
            let key = dedupe_key.ok_or_else(|| {
                RelayError::Invalid("`status: resolved` needs the task's dedupeKey".into())
            })?;
            let task = self.store.active_task(&source, &key)?.ok_or_else(|| {
                RelayError::NotFound(format!(
                    "no active task from {source} with dedupeKey {key:?}"
                ))
            })?;
            let task = self.set_task_status(
                task.id,
                TaskStatus::Done,
                Some("resolved by the source".into()),
                None,
                Some(&source),
            )?;
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
        match self.store.ingest_task(new, message, now_ms())? {
            Ingested::Created { task, message } => {
                self.bus.publish(RelayEvent::MessageNew((*message).clone()));
                self.bus.publish(RelayEvent::TaskCreated((*task).clone()));
                self.callback(integration, &task, "task.created");
                Ok((*task, true))
            }
            Ingested::Repeated(task) => {
                self.bus.publish(RelayEvent::TaskUpdated((*task).clone()));
                Ok((*task, false))
            }
        }
    }

    pub fn task(&self, id: i64) -> Result<Task> {
        self.store
            .task(id)?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))
    }

    pub fn tasks(
        &self,
        status: Option<&str>,
        source: Option<&str>,
        target: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Task>> {
        let status = status
            .map(|s| TaskStatus::parse(s).ok_or_else(|| invalid_task_status(s)))
            .transpose()?;
        self.store
            .tasks(status, source, target, limit.unwrap_or(100).clamp(1, 1000))
    }

    pub fn task_events(&self, id: i64) -> Result<Vec<TaskEvent>> {
        self.task(id)?;
        self.store.task_events(id)
    }

    pub fn task_callbacks(&self, id: i64) -> Result<Vec<Callback>> {
        self.task(id)?;
        self.store.callbacks(id)
    }

    pub fn claim_task(&self, id: i64, agent: &str, proof: &InstanceProof) -> Result<Task> {
        let agent = self.claimant(agent, proof)?;
        let task = match self.store.claim_task(id, &agent, now_ms())? {
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
        self.bus.publish(RelayEvent::TaskClaimed(task.clone()));
        self.callback_for_source(&task, "task.claimed");
        Ok(task)
    }

    pub fn update_task(
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
        self.task(id)?;
        self.set_task_status(id, status, result, progress, agent.as_deref())
    }

    fn set_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        result: Option<String>,
        progress: Option<String>,
        actor: Option<&str>,
    ) -> Result<Task> {
        let task = self
            .store
            .update_task_status(id, status, result, progress, actor, now_ms())?
            .ok_or_else(|| RelayError::NotFound(format!("no task {id}")))?;
        self.bus.publish(RelayEvent::TaskStatus(task.clone()));
        self.callback_for_source(&task, "task.status");
        Ok(task)
    }

    fn callback_for_source(&self, task: &Task, event: &str) {
        if let Some(integration) = self
            .settings
            .integrations
            .iter()
            .find(|i| i.name == task.source)
        {
            self.callback(integration, task, event);
        }
    }

    /// Records the callback in SQLite, then POSTs it once in the background.
    fn callback(&self, integration: &Integration, task: &Task, event: &str) {
        let Some(url) = integration.callback_url.clone() else {
            return;
        };
        let payload = json!({ "event": event, "task": task });
        let id = match self.store.insert_callback(
            task.id,
            &integration.name,
            &url,
            event,
            &payload,
            now_ms(),
        ) {
            Ok(id) => id,
            Err(err) => {
                tracing::error!(
                    "relay: recording a callback for task {} failed: {err}",
                    task.id
                );
                return;
            }
        };
        let http = match self.callback_http() {
            Ok(http) => http.clone(),
            Err(err) => {
                if let Err(err) = self
                    .store
                    .finish_callback(id, Some(&err.to_string()), now_ms())
                {
                    tracing::error!("relay: recording callback {id}'s outcome failed: {err}");
                }
                return;
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let relay_store = Arc::downgrade(&self.store);
        runtime.spawn(async move {
            let outcome = match http.post(&url).json(&payload).send().await {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some(format!("HTTP {}", response.status())),
                Err(err) => Some(err.to_string()),
            };
            if let Some(store) = relay_store.upgrade() {
                if let Err(err) = store.finish_callback(id, outcome.as_deref(), now_ms()) {
                    tracing::error!("relay: recording callback {id}'s outcome failed: {err}");
                }
            }
        });
    }
}

fn invalid_task_status(s: &str) -> RelayError {
    RelayError::Invalid(format!(
        "task status {s:?} is not one of open, claimed, in_progress, blocked, done, failed, cancelled"
    ))
}
