//! Sessions: a Codex thread plus Perch's metadata; create, list, rename,
//! fork, compact, history.

use super::*;
use crate::transcript::TranscriptLine;

/// What Codex calls a Perch session that has no name and no message yet.
const UNNAMED_THREAD: &str = "New Perch session";

impl Runtime {
    pub(super) fn with_active(&self, mut session: Session) -> Session {
        session.active_turn_id = self
            .lock()
            .active
            .get(&session.id)
            .map(|a| a.turn_id.clone());
        session
    }

    pub fn sessions(&self, filter: &crate::store::SessionFilter) -> Result<Vec<Session>> {
        Ok(self
            .store
            .sessions(filter)?
            .into_iter()
            .map(|s| self.with_active(s))
            .collect())
    }

    pub fn session(&self, id: &str) -> Result<Session> {
        let session = self
            .store
            .session(id)?
            .ok_or_else(|| Error::NotFound(format!("no session {id:?}")))?;
        Ok(self.with_active(session))
    }

    pub fn latest_session(&self) -> Result<Option<Session>> {
        Ok(self.store.latest_session()?.map(|s| self.with_active(s)))
    }

    fn thread_overrides(&self, cwd: Option<String>, model: Option<String>) -> ThreadOverrides {
        let (approval_policy, sandbox) =
            crate::config::codex_policy(self.config().codex.approval_policy);
        ThreadOverrides {
            cwd: cwd.or_else(|| self.default_cwd()),
            model,
            approval_policy: Some(approval_policy),
            sandbox: Some(sandbox),
            ..ThreadOverrides::default()
        }
    }

    fn default_cwd(&self) -> Option<String> {
        self.config()
            .codex
            .cwd
            .or_else(dirs::home_dir)
            .map(|p| p.display().to_string())
    }

    pub async fn create_session(&self, new: NewSession) -> Result<Session> {
        let name = validate_name(new.name)?;
        let model = validate_word("model", new.model)?;
        let effort = validate_word("effort", new.effort.or_else(|| self.config().codex.effort))?;
        if let Some(cwd) = &new.cwd {
            if !Path::new(cwd).is_dir() {
                return Err(Error::Invalid(format!("cwd {cwd:?} is not a directory")));
            }
        }
        let params = ThreadStartParams {
            overrides: self.thread_overrides(new.cwd.clone(), model.clone()),
        };
        let result = self.codex::<ThreadStart>(&params).await?;
        let now = now_ms();
        let session = Session {
            id: result.thread.id.clone(),
            name,
            preview: String::new(),
            pinned: false,
            archived: false,
            created_at: now,
            last_activity_at: now,
            model: result.model.or(model),
            effort: effort.clone().or(result.reasoning_effort),
            cwd: result.thread.cwd.or(new.cwd),
            active_turn_id: None,
            token_usage: None,
        };
        self.store.insert_session(&session)?;
        // A new thread: Perch sees every item of it stream.
        self.store.mark_transcript_complete(&session.id)?;
        {
            let mut state = self.lock();
            state.loaded.insert(session.id.clone());
            // thread/start takes no effort: the first turn carries it.
            if effort.is_some() {
                state.settings_changed.insert(session.id.clone());
            }
        }
        // A name writes the thread to disk in Codex: a thread that has none
        // and no message yet cannot be resumed after Codex restarts (its
        // first message then names it after itself).
        let codex_name = session.name.as_deref().unwrap_or(UNNAMED_THREAD);
        self.set_codex_name(&session.id, codex_name).await;
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    pub(crate) async fn set_codex_name(&self, thread_id: &str, name: &str) {
        let params = ThreadNameSetParams {
            thread_id: thread_id.into(),
            name: name.into(),
        };
        if let Err(err) = self.codex::<ThreadNameSet>(&params).await {
            tracing::warn!("could not name thread {thread_id} in Codex: {err}");
        }
    }

    /// Loads the thread into the current child if it is not loaded yet, and
    /// answers the session's id: a new one when a session without any
    /// message could not be resumed and moved to a new thread.
    pub(crate) async fn ensure_loaded(&self, session: &Session) -> Result<String> {
        if self.lock().loaded.contains(&session.id) {
            return Ok(session.id.clone());
        }
        let mut overrides = self.thread_overrides(session.cwd.clone(), session.model.clone());
        // A thread keeps the provider it started with; after the person
        // set Perch's provider, their sessions go on with it. (Without one,
        // the thread's own stays: Codex's config may name another.)
        let provider = self.config().provider.map(|p| p.id);
        overrides.model_provider = provider.clone();
        let params = ThreadResumeParams {
            thread_id: session.id.clone(),
            overrides,
        };
        match self.codex::<ThreadResume>(&params).await {
            Ok(_) => {
                self.lock().loaded.insert(session.id.clone());
                Ok(session.id.clone())
            }
            // Nothing said in it yet: nothing to lose by a new thread.
            Err(Error::Codex(perch_codex::Error::Server { .. }))
                if !self.store.has_turns(&session.id)?
                    && session.preview.is_empty()
                    && !self.store.is_confined(&session.id)? =>
            {
                Ok(self.replace_thread(session).await?.id)
            }
            Err(Error::Codex(perch_codex::Error::Server { message, .. }))
                if message.contains("model provider") =>
            {
                Err(Error::Conflict(format!(
                    "this session was started with another model provider, and Codex cannot move it to {}; start a new session to use it ({message})",
                    provider.as_deref().unwrap_or("the current one")
                )))
            }
            Err(other) => Err(other),
        }
    }

    /// A new thread for a session that has no message yet, under the
    /// session's name and settings (the configured model, since the old one
    /// may belong to another provider); published as `session.replaced`.
    async fn replace_thread(&self, old: &Session) -> Result<Session> {
        let params = ThreadStartParams {
            overrides: self.thread_overrides(old.cwd.clone(), None),
        };
        let result = self.codex::<ThreadStart>(&params).await?;
        let new_id = result.thread.id;
        self.store.rekey_session(&old.id, &new_id)?;
        let mut session = self.session(&new_id)?;
        session.model = result.model.or_else(|| old.model.clone());
        self.store.update_session(&session)?;
        {
            let mut state = self.lock();
            state.loaded.insert(new_id.clone());
            if state.settings_changed.remove(&old.id) {
                state.settings_changed.insert(new_id.clone());
            }
        }
        let name = session.name.as_deref().unwrap_or(UNNAMED_THREAD);
        self.set_codex_name(&new_id, name).await;
        tracing::info!("session {} moved to the new thread {new_id}", old.id);
        self.bus.publish(EventKind::SessionReplaced {
            previous_id: old.id.clone(),
            session: session.clone(),
        });
        Ok(session)
    }

    pub async fn update_session(&self, id: &str, patch: SessionPatch) -> Result<Session> {
        let mut session = self.session(id)?;
        if let Some(name) = patch.name {
            let name = validate_name(Some(name))?;
            if let Some(name) = &name {
                self.set_codex_name(id, name).await;
            }
            session.name = name;
        }
        if let Some(pinned) = patch.pinned {
            session.pinned = pinned;
        }
        if let Some(model) = patch.model {
            session.model = validate_word("model", Some(model))?;
            self.lock().settings_changed.insert(id.to_string());
        }
        if let Some(effort) = patch.effort {
            session.effort = validate_word("effort", Some(effort))?;
            self.lock().settings_changed.insert(id.to_string());
        }
        if let Some(archived) = patch.archived.filter(|a| *a != session.archived) {
            if archived && session.active_turn_id.is_some() {
                return Err(Error::Conflict(
                    "a turn is running in this session; interrupt it before archiving".into(),
                ));
            }
            let params = ThreadIdParams {
                thread_id: id.into(),
            };
            let result = if archived {
                self.codex::<ThreadArchive>(&params).await
            } else {
                self.codex::<ThreadUnarchive>(&params).await
            };
            if let Err(err) = result {
                tracing::warn!(
                    "Codex could not (un)archive thread {id}: {err}; keeping Perch's flag"
                );
            }
            self.lock().loaded.remove(id);
            session.archived = archived;
        }
        self.store.update_session(&session)?;
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    /// A new session with this one's history, up to and including
    /// `last_turn_id` when given (a turn that is not running).
    pub async fn fork_session(&self, id: &str, last_turn_id: Option<String>) -> Result<Session> {
        let source = self.session(id)?;
        if let Some(turn) = &last_turn_id {
            if source.active_turn_id.as_deref() == Some(turn.as_str()) {
                return Err(Error::Conflict(
                    "that turn is still running; fork from it when it is done".into(),
                ));
            }
            if !self.history(id).await?.iter().any(|t| &t.id == turn) {
                return Err(Error::NotFound(format!("no turn {turn} in session {id}")));
            }
        }
        let params = ThreadForkParams {
            thread_id: id.into(),
            last_turn_id,
            overrides: self.thread_overrides(source.cwd.clone(), source.model.clone()),
        };
        let result = self.codex::<ThreadFork>(&params).await?;
        let now = now_ms();
        let label = source
            .name
            .clone()
            .unwrap_or_else(|| first_line(&source.preview, 60));
        let session = Session {
            id: result.thread.id,
            name: Some(format!("{label} (fork)")),
            preview: source.preview.clone(),
            pinned: false,
            archived: false,
            created_at: now,
            last_activity_at: now,
            model: result.model.or(source.model),
            effort: source.effort,
            cwd: result.thread.cwd.or(source.cwd),
            active_turn_id: None,
            token_usage: None,
        };
        self.store.insert_session(&session)?;
        self.lock().loaded.insert(session.id.clone());
        self.bus.publish(EventKind::SessionUpdated {
            session: session.clone(),
        });
        Ok(session)
    }

    pub async fn compact_session(&self, id: &str) -> Result<()> {
        let session = self.session(id)?;
        if session.active_turn_id.is_some() {
            return Err(Error::Conflict(
                "a turn is running; compact when it is done".into(),
            ));
        }
        if !self.lock().compacting.insert(id.to_string()) {
            return Err(Error::Conflict(
                "this session is being compacted already".into(),
            ));
        }
        let started = match self.ensure_loaded(&session).await {
            Ok(thread_id) => self
                .codex::<ThreadCompactStart>(&ThreadIdParams { thread_id })
                .await
                .map(drop),
            Err(err) => Err(err),
        };
        if started.is_err() {
            self.lock().compacting.remove(id);
        }
        started
    }

    /// The session's text as Perch keeps it (`transcript.rs`).
    pub fn transcript(&self, id: &str) -> Result<Vec<TranscriptLine>> {
        self.session(id)?;
        self.store.transcript(id)
    }

    pub async fn history(&self, id: &str) -> Result<Vec<HistoryTurn>> {
        self.session(id)?;
        let mut turns = Vec::new();
        let mut cursor = None;
        loop {
            let params = ThreadTurnsListParams {
                thread_id: id.into(),
                cursor: cursor.clone(),
                limit: Some(100),
                items_view: "full",
                sort_direction: "asc",
            };
            let page = match while_settling(|| self.codex::<ThreadTurnsList>(&params)).await {
                Ok(page) => page,
                // A thread with no message yet has no rollout to list.
                Err(Error::Codex(perch_codex::Error::Server { message, .. }))
                    if message.contains("not materialized") =>
                {
                    break;
                }
                Err(other) => return Err(other),
            };
            turns.extend(page.data);
            cursor = page.next_cursor;
            if cursor.is_none() || turns.len() >= MAX_HISTORY_TURNS {
                break;
            }
        }
        self.backfill_transcript(id, &turns)?;
        // The agent's text in messages a turn never finished (interrupted,
        // Codex crashed) is in Perch's transcript only.
        let mut cut_off: std::collections::HashMap<String, Vec<TranscriptLine>> =
            Default::default();
        for line in self.store.transcript(id)? {
            if line.role == crate::transcript::Role::Assistant {
                cut_off.entry(line.turn_id.clone()).or_default().push(line);
            }
        }
        // The running turn, before Codex has written it where it lists turns.
        let running = self
            .lock()
            .active
            .get(id)
            .map(|a| a.turn_id.clone())
            .filter(|running| !turns.iter().any(|t| &t.id == running));
        let mut history: Vec<HistoryTurn> = turns
            .into_iter()
            .map(|t| {
                let mut turn = self.history_turn(t);
                if turn.status == perch_protocol::sessions::TurnStatus::Completed {
                    return turn;
                }
                let shown: std::collections::HashSet<String> =
                    turn.items.iter().map(|i| i.id().to_string()).collect();
                turn.items.extend(
                    cut_off
                        .remove(&turn.id)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|line| !shown.contains(&line.item_id))
                        .map(|line| perch_protocol::items::Item::AgentMessage {
                            id: line.item_id,
                            text: line.text,
                            phase: None,
                        }),
                );
                turn
            })
            .collect();
        history.extend(running.map(|id| HistoryTurn {
            id,
            status: perch_protocol::sessions::TurnStatus::InProgress,
            error: None,
            items: Vec::new(),
        }));
        Ok(history)
    }

    fn history_turn(&self, t: Turn) -> HistoryTurn {
        HistoryTurn {
            // Codex keeps no reason for an interruption; Perch recorded one.
            error: t.error.map(|e| e.message).or_else(|| {
                self.store
                    .turn_outcome(&t.id)
                    .ok()
                    .flatten()
                    .and_then(|(_, error)| error)
            }),
            id: t.id,
            status: turn_status_of(t.status),
            items: t
                .items
                .into_iter()
                .map(|mut item| {
                    crate::seams::strip_context(&mut item);
                    item_of(item)
                })
                .collect(),
        }
    }
}

impl Runtime {
    /// The first history read of a session Perch did not see stream writes
    /// its finished turns into the transcript.
    fn backfill_transcript(&self, id: &str, turns: &[Turn]) -> Result<()> {
        if self.store.transcript_complete(id)? {
            return Ok(());
        }
        let now = now_ms();
        for turn in turns
            .iter()
            .filter(|t| t.status != perch_codex::protocol::TurnStatus::InProgress)
        {
            for item in &turn.items {
                let (Some(item_id), Some((role, text))) = (
                    ThreadItem::id(item),
                    crate::transcript::line_of(ThreadItem::read(item)),
                ) else {
                    continue;
                };
                let line = TranscriptLine {
                    turn_id: turn.id.clone(),
                    item_id: item_id.to_string(),
                    role,
                    text,
                    at: now,
                };
                self.store.record_line(id, &line)?;
            }
        }
        if turns.len() < MAX_HISTORY_TURNS {
            self.store.mark_transcript_complete(id)?;
        }
        Ok(())
    }
}

fn validate_name(name: Option<String>) -> Result<Option<String>> {
    let Some(name) = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "the name contains control characters".into(),
        ));
    }
    Ok(Some(name))
}

fn validate_word(what: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.len() > 100 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(format!(
            "{what} {value:?} is not a valid {what} name"
        )));
    }
    Ok(Some(value))
}
