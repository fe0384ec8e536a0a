//! What happens when Codex speaks: notifications become runtime state and
//! bus events; server requests become durable approvals; a dead child's
//! running turns become `interrupted` and its open approvals `expired`; a
//! restarted child gets its threads resumed.
//!
//! Invariants:
//! - Every server request gets exactly one answer: a person's, the timeout
//!   policy's, `cancel` on shutdown, or an error for kinds Perch does not
//!   handle. Only the one that removes it from `State::pending` answers.
//! - A turn whose child died is reported interrupted, never silently replaced.

use crate::error::{Error, Result};
use crate::model::*;
use crate::model::{Decision, TurnStatus};
use crate::runtime::{first_line, new_id, PendingRequest, Runtime};
use perch_codex::protocol::*;
use perch_codex::{RequestId, ServerMessage, SupervisorEvent};
use perch_protocol::events::{ProblemKind, TurnProblem};
use std::sync::Weak;
use std::time::{Duration, Instant};
use stdx::now_ms;
use stdx::RwLockExt;
use tokio::sync::mpsc;

pub(crate) fn spawn_event_loop(
    runtime: Weak<Runtime>,
    mut events: mpsc::Receiver<SupervisorEvent>,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let Some(rt) = runtime.upgrade() else { return };
            rt.handle(event).await;
        }
    });
}

impl Runtime {
    async fn handle(&self, event: SupervisorEvent) {
        match event {
            SupervisorEvent::Health(health) => {
                self.bus.publish(EventKind::CodexState {
                    state: codex_state(health.state),
                    detail: health.detail,
                });
            }
            SupervisorEvent::Ready {
                generation,
                restarted,
            } => {
                let to_resume: Vec<String> = {
                    let mut state = self.lock();
                    state.generation = generation;
                    state.loaded.clear();
                    state.to_resume.drain().collect()
                };
                if restarted && !to_resume.is_empty() {
                    self.resume_after_restart(to_resume);
                }
                self.refresh_account_later();
            }
            SupervisorEvent::Message {
                generation,
                message,
            } => match message {
                ServerMessage::Notification(notification) => self.on_notification(notification),
                ServerMessage::Request { id, request } => {
                    self.on_request(generation, id, request).await
                }
                ServerMessage::Closed { .. } => self.on_child_closed(generation),
            },
        }
    }

    fn on_notification(&self, notification: ServerNotification) {
        self.codex_used();
        // Progress resets the stall watch and the unreachable watch; Codex's
        // retries and warnings are not progress (a turn that only retries
        // must be said stalled, and ended once the model stays unreachable).
        let trouble = matches!(
            notification,
            ServerNotification::Error(_) | ServerNotification::Warning(_)
        );
        if let (Some(thread_id), false) = (notification.thread_id(), trouble) {
            if let Some(active) = self.lock().active.get_mut(thread_id) {
                active.last_event = Instant::now();
                active.stalled = false;
                active.unreachable = None;
            }
        }
        let publish = |kind| {
            self.bus.publish(kind);
        };
        match notification {
            ServerNotification::TurnStarted(n) => {
                if let Err(err) = self.register_turn(&n.thread_id, &n.turn.id) {
                    tracing::error!("recording turn {}: {err}", n.turn.id);
                }
            }
            ServerNotification::TurnCompleted(n) => {
                let status = turn_status_of(n.turn.status);
                let error = n.turn.error.map(|e| e.message);
                self.finish_turn(&n.thread_id, &n.turn.id, status, error);
            }
            ServerNotification::ItemStarted(mut n) => {
                crate::seams::strip_context(&mut n.item);
                if let ThreadItem::FileChange { id, changes } = ThreadItem::read(&n.item) {
                    self.file_change_started(&n.thread_id);
                    self.lock()
                        .file_changes
                        .insert(id, describe_changes(&changes));
                }
                publish(EventKind::ItemStarted {
                    session_id: n.thread_id,
                    turn_id: n.turn_id,
                    item: item_of(n.item),
                });
            }
            ServerNotification::ItemCompleted(mut n) => {
                if n.item["status"] == "completed" {
                    if let ThreadItem::FileChange { changes, .. } = ThreadItem::read(&n.item) {
                        self.file_change_applied(&n.thread_id, &changes);
                    }
                }
                self.digest_item(&n.turn_id, &n.item);
                self.record_line(&n.thread_id, &n.turn_id, &n.item);
                crate::seams::strip_context(&mut n.item);
                if let Some(id) = ThreadItem::id(&n.item) {
                    let mut state = self.lock();
                    state.file_changes.remove(id);
                    if let Some(active) = state.active.get_mut(&n.thread_id) {
                        active.streamed.remove(id);
                    }
                }
                publish(EventKind::ItemCompleted {
                    session_id: n.thread_id,
                    turn_id: n.turn_id,
                    item: item_of(n.item),
                });
            }
            ServerNotification::AgentMessageDelta(d) => {
                self.keep_streamed(&d);
                publish(delta(d, DeltaKind::AgentMessage))
            }
            ServerNotification::ReasoningSummaryDelta(d)
            | ServerNotification::ReasoningTextDelta(d) => publish(delta(d, DeltaKind::Reasoning)),
            ServerNotification::CommandOutputDelta(d) => {
                publish(delta(d, DeltaKind::CommandOutput))
            }
            ServerNotification::FileChangeOutputDelta(d) => {
                publish(delta(d, DeltaKind::FileChange))
            }
            ServerNotification::TurnDiffUpdated(n) => publish(EventKind::TurnDiff {
                session_id: n.thread_id,
                turn_id: n.turn_id,
                diff: n.diff,
            }),
            ServerNotification::TokenUsageUpdated(n) => {
                let usage = TokenUsage {
                    total_tokens: n.token_usage.total.total_tokens,
                    input_tokens: n.token_usage.total.input_tokens,
                    output_tokens: n.token_usage.total.output_tokens,
                    last_turn_tokens: n.token_usage.last.total_tokens,
                    context_window: n.token_usage.model_context_window,
                };
                if let Err(err) = self.store.set_token_usage(&n.thread_id, &usage) {
                    tracing::warn!("storing token usage: {err}");
                }
                publish(EventKind::TokensUpdated {
                    session_id: n.thread_id,
                    usage,
                });
            }
            ServerNotification::Error(n) => {
                let class = n.error.class();
                let problem = TurnProblem {
                    kind: match class {
                        ErrorClass::Unreachable => ProblemKind::Unreachable,
                        ErrorClass::RateLimited => ProblemKind::RateLimited,
                        ErrorClass::Http(_) => ProblemKind::HttpError,
                        ErrorClass::Other => ProblemKind::Other,
                    },
                    http_status: n.error.http_status().or(match class {
                        ErrorClass::Http(status) => Some(status),
                        _ => None,
                    }),
                    message: match n.error.additional_details.filter(|d| !d.trim().is_empty()) {
                        Some(details) => format!("{} ({})", n.error.message, details.trim()),
                        None => n.error.message,
                    },
                    will_retry: n.will_retry,
                };
                self.turn_trouble(n.thread_id, n.turn_id, problem);
            }
            ServerNotification::Warning(n) => {
                let lower = n.message.to_ascii_lowercase();
                let kind =
                    if lower.contains("reconnecting") || lower.contains("waiting for network") {
                        ProblemKind::Unreachable
                    } else if lower.contains("falling back") {
                        ProblemKind::Fallback
                    } else {
                        ProblemKind::Other
                    };
                let problem = TurnProblem {
                    kind,
                    message: n.message,
                    will_retry: kind == ProblemKind::Unreachable,
                    http_status: None,
                };
                self.turn_trouble(n.thread_id, None, problem);
            }
            ServerNotification::RateLimitsUpdated(n) => self.usage_reported(n.rate_limits),
            ServerNotification::ServerRequestResolved(_)
            | ServerNotification::ThreadNameUpdated(_) => {}
            ServerNotification::Other { method, params } if method == "account/login/completed" => {
                self.lock().signing_in = false;
                publish(EventKind::LoginCompleted {
                    login_id: params["loginId"].as_str().map(String::from),
                    success: params["success"].as_bool().unwrap_or(false),
                    error: params["error"].as_str().map(String::from),
                });
                self.refresh_account_later()
            }
            ServerNotification::Other { method, .. } if method == "account/updated" => {
                self.refresh_account_later()
            }
            // Codex unloaded the thread (idle, or on its own): the next
            // message resumes it first instead of failing.
            ServerNotification::Other { method, params } if method == "thread/closed" => {
                if let Some(thread_id) = params["threadId"].as_str() {
                    self.lock().loaded.remove(thread_id);
                }
            }
            ServerNotification::Other { method, .. } => {
                tracing::trace!("codex notification {method}")
            }
        }
    }

    /// Says a turn's trouble with the model (live, typed), and starts the
    /// unreachable watch when Codex cannot reach the model. Trouble outside a
    /// turn is a plain warning.
    fn turn_trouble(
        &self,
        thread_id: Option<String>,
        turn_id: Option<String>,
        problem: TurnProblem,
    ) {
        let Some(session_id) = thread_id else {
            self.bus.publish(EventKind::Warning {
                session_id: None,
                message: problem.message,
            });
            return;
        };
        let turn_id = {
            let mut state = self.lock();
            let active = state.active.get_mut(&session_id);
            let running = active.as_ref().map(|a| a.turn_id.clone());
            if let (Some(active), ProblemKind::Unreachable, true) =
                (active, problem.kind, problem.will_retry)
            {
                let since = active
                    .unreachable
                    .as_ref()
                    .map_or_else(Instant::now, |(s, _)| *s);
                active.unreachable = Some((since, problem.message.clone()));
            }
            turn_id.or(running)
        };
        self.watchdog.notify_one();
        self.bus.publish(EventKind::TurnProblem {
            session_id,
            turn_id,
            problem,
        });
    }

    /// Keeps the completed item's line in the session's transcript.
    fn record_line(&self, session_id: &str, turn_id: &str, item: &serde_json::Value) {
        let (Some(item_id), Some((role, text))) = (
            ThreadItem::id(item),
            crate::transcript::line_of(ThreadItem::read(item)),
        ) else {
            return;
        };
        let line = crate::transcript::TranscriptLine {
            turn_id: turn_id.to_string(),
            item_id: item_id.to_string(),
            role,
            text,
            at: now_ms(),
        };
        if let Err(err) = self.store.record_line(session_id, &line) {
            tracing::error!("keeping the transcript of session {session_id}: {err}");
        }
    }

    /// Adds a delta to the text of its unfinished message (up to
    /// `MAX_STREAMED_BYTES` a turn).
    fn keep_streamed(&self, d: &DeltaNotification) {
        let mut state = self.lock();
        let Some(active) = state
            .active
            .get_mut(&d.thread_id)
            .filter(|a| a.turn_id == d.turn_id)
        else {
            return;
        };
        let kept: usize = active.streamed.values().map(String::len).sum();
        if kept + d.delta.len() <= crate::runtime::MAX_STREAMED_BYTES {
            active
                .streamed
                .entry(d.item_id.clone())
                .or_default()
                .push_str(&d.delta);
        }
    }

    /// Keeps the person's message and the agent's last message of a turn.
    fn digest_item(&self, turn_id: &str, item: &serde_json::Value) {
        let (text, by_person) = match ThreadItem::read(item) {
            ThreadItem::UserMessage { content } => (crate::seams::user_text(&content), true),
            ThreadItem::AgentMessage { text } => (Some(text), false),
            _ => return,
        };
        let Some(text) = text else { return };
        let mut state = self.lock();
        // Bounded: turns that never complete here (a child that died) are
        // dropped with the oldest.
        if state.digests.len() >= 256 && !state.digests.contains_key(turn_id) {
            state.digests.clear();
        }
        let digest = state.digests.entry(turn_id.to_string()).or_default();
        if by_person {
            digest.user.get_or_insert(text);
        } else {
            digest.agent = Some(text);
        }
    }

    /// Tells every observer (wakeup runs, auto-archiving) that a turn ended.
    fn after_turn(&self, session_id: &str, turn_id: &str, status: TurnStatus, error: Option<&str>) {
        let digest = self.lock().digests.remove(turn_id).unwrap_or_default();
        let ended = crate::seams::TurnEnded {
            session_id,
            turn_id,
            status,
            error,
            user_text: digest.user.as_deref(),
            agent_text: digest.agent.as_deref(),
        };
        let observers = self.observers.read_unpoisoned().clone();
        for observer in observers {
            observer.turn_ended(self, &ended);
        }
    }

    pub(crate) fn finish_turn(
        &self,
        session_id: &str,
        turn_id: &str,
        status: TurnStatus,
        error: Option<String>,
    ) {
        let error = {
            let mut state = self.lock();
            // Perch's own reason for ending it says more than Codex's.
            let (ours, streamed) = match state.active.get(session_id) {
                Some(active) if active.turn_id == turn_id => state
                    .active
                    .remove(session_id)
                    .map(|a| (a.end_reason, a.streamed))
                    .unwrap_or_default(),
                _ => Default::default(),
            };
            // Text the agent streamed in messages the turn never finished:
            // the transcript keeps it, and history shows it.
            let at = now_ms();
            for (item_id, text) in streamed.into_iter().filter(|(_, t)| !t.trim().is_empty()) {
                let line = crate::transcript::TranscriptLine {
                    turn_id: turn_id.to_string(),
                    item_id,
                    role: crate::transcript::Role::Assistant,
                    text,
                    at,
                };
                if let Err(err) = self.store.record_line(session_id, &line) {
                    tracing::error!("keeping the streamed text of turn {turn_id}: {err}");
                }
            }
            let error = if status == TurnStatus::Completed {
                error
            } else {
                ours.or(error)
            };
            // A compaction is a turn too: when one ends, it has.
            state.compacting.remove(session_id);
            if let Err(err) =
                self.store
                    .finish_turn(session_id, turn_id, status, error.as_deref(), at)
            {
                // Kept, and written again until the store takes it: a turn
                // that completed while the disk was full must not read as
                // interrupted later.
                let message = format!(
                    "Perch could not record that turn {turn_id} ended ({err}); it keeps the outcome and writes it again every few seconds. If the disk is full, free some space."
                );
                tracing::error!("{message}");
                state.unrecorded.push(crate::runtime::UnrecordedTurn {
                    session_id: session_id.to_string(),
                    turn_id: turn_id.to_string(),
                    status,
                    error: error.clone(),
                    at,
                });
                let start = !std::mem::replace(&mut state.recording, true);
                drop(state);
                self.bus.publish(EventKind::Warning {
                    session_id: Some(session_id.to_string()),
                    message,
                });
                if start {
                    self.spawn_recorder();
                }
            }
            error
        };
        self.after_turn(session_id, turn_id, status, error.as_deref());
        self.bus.publish(EventKind::TurnCompleted {
            session_id: session_id.into(),
            turn_id: turn_id.into(),
            status,
            error,
        });
        self.touch_session(session_id, None);
    }

    /// Writes the outcomes the store refused; answers how many it still refuses.
    pub(crate) fn record_unrecorded(&self) -> usize {
        let mut written = Vec::new();
        let left = {
            let mut state = self.lock();
            let waiting = std::mem::take(&mut state.unrecorded);
            for turn in waiting {
                match self.store.finish_turn(
                    &turn.session_id,
                    &turn.turn_id,
                    turn.status,
                    turn.error.as_deref(),
                    turn.at,
                ) {
                    Ok(()) => written.push(turn),
                    Err(_) => state.unrecorded.push(turn),
                }
            }
            state.unrecorded.len()
        };
        // Said, as the refusal was: the earlier warning no longer holds.
        for turn in written {
            let message = format!(
                "Perch recorded that turn {} ended {}; the store had refused it before",
                turn.turn_id,
                turn.status.as_str()
            );
            tracing::info!("{message}");
            self.bus.publish(EventKind::Warning {
                session_id: Some(turn.session_id),
                message,
            });
        }
        left
    }

    /// Retries the refused outcomes with a growing pause (1 s to 30 s)
    /// until every one is written.
    fn spawn_recorder(&self) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let mut pause = std::time::Duration::from_secs(1);
            loop {
                tokio::time::sleep(pause).await;
                let Some(runtime) = me.upgrade() else { return };
                if runtime.record_unrecorded() == 0 {
                    let mut state = runtime.lock();
                    // Another refusal may have come in between.
                    if state.unrecorded.is_empty() {
                        state.recording = false;
                        return;
                    }
                }
                pause = (pause * 2).min(std::time::Duration::from_secs(30));
            }
        });
    }

    async fn on_request(&self, generation: u64, rpc_id: RequestId, request: ServerRequest) {
        let approval = new_id("ap").map(|id| new_approval(id, &request, &self.lock().file_changes));
        let approval = match approval {
            Ok(Some(approval)) => approval,
            Err(err) => {
                // Without an id there is no record to answer later: refuse now.
                tracing::error!("{err}; declining the request");
                if let Ok((_, connection)) = self
                    .supervisor()
                    .and_then(|s| s.connection().map_err(Error::from_codex))
                {
                    let _ = connection
                        .respond(
                            &rpc_id,
                            perch_codex::protocol::Decision::Decline.response_for(&request),
                        )
                        .await;
                }
                return;
            }
            Ok(None) => {
                let ServerRequest::Other { method, .. } = &request else {
                    return;
                };
                tracing::warn!("refusing codex request {method}: Perch does not handle it");
                if let Ok((_, connection)) = self
                    .supervisor()
                    .and_then(|s| s.connection().map_err(Error::from_codex))
                {
                    let message = format!("Perch does not handle {method}");
                    let _ = connection.respond_error(&rpc_id, -32601, &message).await;
                }
                return;
            }
        };
        if let Err(err) = self.store.insert_approval(&approval) {
            // Without a durable record nobody could answer it later: refuse now.
            tracing::error!("storing approval: {err}; declining the request");
            if let Ok((_, connection)) = self
                .supervisor()
                .and_then(|s| s.connection().map_err(Error::from_codex))
            {
                let _ = connection
                    .respond(
                        &rpc_id,
                        perch_codex::protocol::Decision::Decline.response_for(&request),
                    )
                    .await;
            }
            return;
        }
        let id = approval.id.clone();
        self.lock().pending.insert(
            id.clone(),
            PendingRequest {
                generation,
                rpc_id,
                request,
            },
        );
        self.bus.publish(EventKind::ApprovalRequested { approval });
        self.spawn_approval_timeout(id);
    }

    fn spawn_approval_timeout(&self, id: String) {
        let codex = self.config().codex;
        let timeout = Duration::from_secs(codex.approval_timeout_secs.max(1));
        let decision = codex.approval_timeout_decision;
        let rt = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(rt) = rt.upgrade() else { return };
            if rt.lock().pending.contains_key(&id) {
                tracing::info!(
                    "approval {id} timed out; answering {}",
                    ApprovalStatus::from(decision).as_str()
                );
                if let Err(err) = rt.resolve_approval(&id, decision, "timeout").await {
                    tracing::warn!("answering timed-out approval {id}: {err}");
                }
            }
        });
    }

    /// A person's answer.
    pub async fn answer_approval(&self, id: &str, decision: Decision) -> Result<Approval> {
        let approval = self
            .store
            .approval(id)?
            .ok_or_else(|| Error::NotFound(format!("no approval {id:?}")))?;
        if approval.status != ApprovalStatus::Pending {
            return Err(Error::Conflict(format!(
                "this approval was already answered ({} by {})",
                approval.status.as_str(),
                approval.answered_by.as_deref().unwrap_or("someone")
            )));
        }
        self.resolve_approval(id, decision, "person").await
    }

    pub fn approvals(&self, pending_only: bool) -> Result<Vec<Approval>> {
        self.store.approvals(pending_only)
    }

    /// Answers Codex and records the answer. Whoever removes the request from
    /// `pending` first is the only one to answer it.
    pub(crate) async fn resolve_approval(
        &self,
        id: &str,
        decision: Decision,
        by: &str,
    ) -> Result<Approval> {
        let (pending, generation) = {
            let mut state = self.lock();
            (state.pending.remove(id), state.generation)
        };
        let Some(pending) = pending else {
            return Err(Error::Conflict(
                "this approval is no longer waiting for an answer".into(),
            ));
        };
        let mut status = ApprovalStatus::from(decision);
        let mut answered_by = by.to_string();
        let live = self
            .supervisor()
            .ok()
            .and_then(|s| s.connection().ok())
            .filter(|(g, _)| *g == pending.generation);
        match live {
            Some((_, connection)) if generation == pending.generation => {
                connection
                    .respond(
                        &pending.rpc_id,
                        codex_decision(decision).response_for(&pending.request),
                    )
                    .await
                    .map_err(Error::from_codex)?;
            }
            _ => {
                status = ApprovalStatus::Expired;
                answered_by = "codex-restart".into();
            }
        }
        self.store
            .answer_approval(id, status, &answered_by, now_ms())?;
        let approval = self
            .store
            .approval(id)?
            .ok_or_else(|| Error::NotFound(format!("no approval {id:?}")))?;
        self.bus.publish(EventKind::ApprovalResolved {
            approval: approval.clone(),
        });
        if status == ApprovalStatus::Expired {
            return Err(Error::Conflict(
                "the Codex process that asked has stopped; its turn was interrupted, so there is nothing to answer".into(),
            ));
        }
        Ok(approval)
    }

    fn on_child_closed(&self, generation: u64) {
        let expired: Vec<String> = {
            let mut state = self.lock();
            if generation != state.generation {
                return;
            }
            let loaded: Vec<String> = state.loaded.drain().collect();
            // Put to sleep: its threads are resumed when next used.
            if !state.sleeping {
                state.to_resume.extend(loaded);
            }
            state.compacting.clear();
            let ids: Vec<String> = state
                .pending
                .iter()
                .filter(|(_, p)| p.generation == generation)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &ids {
                state.pending.remove(id);
            }
            ids
        };
        for id in expired {
            if let Ok(true) =
                self.store
                    .answer_approval(&id, ApprovalStatus::Expired, "codex-restart", now_ms())
            {
                if let Ok(Some(approval)) = self.store.approval(&id) {
                    self.bus.publish(EventKind::ApprovalResolved { approval });
                }
            }
        }
        let reason = self
            .supervisor()
            .ok()
            .and_then(|s| s.hung(generation))
            .map(|hung| format!("{hung} during this turn"))
            .unwrap_or_else(|| {
                "the Codex app-server stopped during this turn; Perch restarted it".into()
            });
        interrupt_running_turns(self, &reason);
    }

    fn resume_after_restart(&self, threads: Vec<String>) {
        let rt = self.me.clone();
        tokio::spawn(async move {
            let Some(rt) = rt.upgrade() else { return };
            let mut resumed = 0;
            for id in &threads {
                let Ok(session) = rt.session(id) else {
                    continue;
                };
                match rt.ensure_loaded(&session).await {
                    Ok(_) => resumed += 1,
                    Err(err) => {
                        rt.bus.publish(EventKind::Warning {
                            session_id: Some(id.clone()),
                            message: format!(
                                "could not resume this session after Codex restarted: {err}"
                            ),
                        });
                    }
                }
            }
            tracing::info!(
                "resumed {resumed} of {} sessions after a Codex restart",
                threads.len()
            );
        });
    }
}

/// Records every running turn as interrupted, with `reason`.
pub(crate) fn interrupt_running_turns(runtime: &Runtime, reason: &str) {
    let active: Vec<(String, String)> = runtime
        .lock()
        .active
        .iter()
        .map(|(s, a)| (s.clone(), a.turn_id.clone()))
        .collect();
    for (session_id, turn_id) in active {
        runtime.finish_turn(
            &session_id,
            &turn_id,
            TurnStatus::Interrupted,
            Some(reason.to_string()),
        );
    }
}

fn delta(d: DeltaNotification, kind: DeltaKind) -> EventKind {
    EventKind::ItemDelta {
        session_id: d.thread_id,
        turn_id: d.turn_id,
        item_id: d.item_id,
        kind,
        delta: d.delta,
    }
}

fn describe_changes(changes: &[FileUpdateChange]) -> String {
    let mut out = String::new();
    for change in changes {
        out.push_str(&format!("{} {}\n", change.kind.as_str(), change.path));
        out.push_str(&change.diff);
        if !change.diff.is_empty() && !change.diff.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn new_approval(
    id: String,
    request: &ServerRequest,
    file_changes: &std::collections::HashMap<String, String>,
) -> Option<Approval> {
    let mut dangers = Vec::new();
    let (session_id, turn_id, item_id, kind, title, detail) = match request {
        ServerRequest::CommandApproval(r) => {
            let command = r.command.clone().unwrap_or_else(|| "a command".into());
            // Shown once, as the person would type it.
            let command = crate::command_risk::unwrap_shell(&command).unwrap_or(command);
            dangers =
                crate::command_risk::dangers(&command, r.cwd.as_deref().map(std::path::Path::new));
            let mut detail = command.clone();
            if let Some(cwd) = &r.cwd {
                detail.push_str(&format!("\nin {cwd}"));
            }
            if let Some(reason) = &r.reason {
                detail.push_str(&format!("\nreason: {reason}"));
            }
            let title = format!("Run {}", first_line(&command, 100));
            (
                &r.thread_id,
                Some(r.turn_id.clone()),
                Some(r.item_id.clone()),
                ApprovalKind::Command,
                title,
                Some(detail),
            )
        }
        ServerRequest::FileChangeApproval(r) => {
            let mut detail = file_changes.get(&r.item_id).cloned().unwrap_or_default();
            if let Some(reason) = &r.reason {
                detail.push_str(&format!("reason: {reason}\n"));
            }
            let detail = Some(detail).filter(|d| !d.is_empty());
            let title = "Apply file changes".to_string();
            (
                &r.thread_id,
                Some(r.turn_id.clone()),
                Some(r.item_id.clone()),
                ApprovalKind::FileChange,
                title,
                detail,
            )
        }
        ServerRequest::Elicitation(r) => {
            let tool = r.meta.get("tool_name").and_then(|t| t.as_str());
            let params = r
                .meta
                .get("tool_params")
                .map(std::string::ToString::to_string);
            let title = match tool {
                Some(tool) => format!("Let {} run tool {tool}", r.server_name),
                None => first_line(&r.message, 100),
            };
            let detail = Some(match params {
                Some(params) => format!("{}\narguments: {params}", r.message),
                None => r.message.clone(),
            });
            (
                &r.thread_id,
                r.turn_id.clone(),
                None,
                ApprovalKind::McpElicitation,
                title,
                detail,
            )
        }
        ServerRequest::Other { .. } => return None,
    };
    Some(Approval {
        id,
        session_id: session_id.clone(),
        turn_id,
        item_id,
        kind,
        title,
        detail,
        status: ApprovalStatus::Pending,
        created_at: now_ms(),
        answered_at: None,
        answered_by: None,
        dangers,
    })
}
