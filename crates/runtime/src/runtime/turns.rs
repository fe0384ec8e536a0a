//! Turns: a message starts or steers one (with the turn context), an
//! interrupt ends it.

use super::*;

impl Runtime {
    /// Confines a session for good: its turns run at most under the
    /// `guarded` approval policy, with a read-only sandbox and no network,
    /// whatever the configured policy (a session whose messages come from
    /// others, e.g. the peer network's).
    pub fn confine_session(&self, id: &str) -> Result<()> {
        self.store.confine(id)
    }

    /// Whether the session is confined (its turns are peer-driven).
    pub fn is_confined(&self, id: &str) -> Result<bool> {
        self.store.is_confined(id)
    }
    /// Sends a message: `turn/steer` while a turn runs, else `turn/start`.
    pub async fn send_message(&self, id: &str, text: &str) -> Result<Sent> {
        self.send_with_images(id, text, &[]).await
    }

    /// Sends a message with images kept by [`Runtime::save_attachment`]
    /// (their ids): the text may then be empty.
    pub async fn send_with_images(&self, id: &str, text: &str, images: &[String]) -> Result<Sent> {
        let images = self.attachment_paths(images)?;
        let text = message_text(text, !images.is_empty())?;
        self.require_sign_in().await?;
        let session = self.session(id)?;
        if session.archived {
            return Err(Error::Conflict(
                "this session is archived; unarchive it to continue it".into(),
            ));
        }
        if self.lock().compacting.contains(id) {
            return Err(Error::Conflict(
                "Codex is compacting this session's context; send the message when that is done (a moment)".into(),
            ));
        }
        // The session's thread, which may be a new one (see ensure_loaded).
        let thread_id = self.ensure_loaded(&session).await?;
        let id = thread_id.as_str();
        let mut input = Vec::new();
        if !text.is_empty() {
            input.push(UserInput::Text {
                text: text.to_string(),
            });
        }
        input.extend(
            images
                .into_iter()
                .map(|path| UserInput::LocalImage { path }),
        );
        let preview = if text.is_empty() { "(an image)" } else { text };
        if let Some(active) = session.active_turn_id.clone() {
            let params = TurnSteerParams {
                thread_id: id.into(),
                expected_turn_id: active,
                input: input.clone(),
            };
            match self.codex::<TurnSteer>(&params).await {
                Ok(result) => {
                    self.touch_session(id, Some(preview));
                    return Ok(Sent {
                        session_id: thread_id.clone(),
                        turn_id: result.turn_id,
                        mode: SendMode::Steer,
                    });
                }
                // The turn ended between our look and the steer: start a new one.
                Err(Error::Codex(perch_codex::Error::Server { .. })) => {}
                Err(other) => return Err(other),
            }
        }
        let changed = self.lock().settings_changed.remove(id);
        let (model, effort) = if changed {
            (session.model.clone(), session.effort.clone())
        } else {
            (None, None)
        };
        let context = self.context.read_unpoisoned().clone();
        if let Some(context) = context {
            if let Some(block) = context.before_turn(self, text).await {
                let text = crate::seams::context_input(&block);
                input.insert(0, UserInput::Text { text });
            }
        }
        // A confined session's turns ask before every untrusted command and
        // run read-only, offline, whatever the person's own policy.
        let confined = self.store.is_confined(id)?;
        let params = TurnStartParams {
            thread_id: id.into(),
            input,
            model,
            effort,
            approval_policy: confined.then_some(AskForApproval::Untrusted),
            sandbox_policy: confined.then_some(SandboxPolicy::ReadOnly {
                network_access: false,
            }),
        };
        let result = self.codex::<TurnStart>(&params).await?;
        let turn_id = result.turn.id;
        self.register_turn(id, &turn_id)?;
        self.touch_session(id, Some(preview));
        if session.name.is_none() && session.preview.is_empty() {
            // Codex names the thread after its first message, in the
            // background: the answer to the send does not wait for it.
            let (me, thread, name) = (self.me.clone(), id.to_string(), first_line(preview, 60));
            tokio::spawn(async move {
                if let Some(runtime) = me.upgrade() {
                    runtime.set_codex_name(&thread, &name).await;
                }
            });
        }
        Ok(Sent {
            session_id: thread_id.clone(),
            turn_id,
            mode: SendMode::Start,
        })
    }

    /// Marks a turn as running, unless its completion was already processed.
    pub(crate) fn register_turn(&self, session_id: &str, turn_id: &str) -> Result<bool> {
        let mut state = self.lock();
        if state
            .active
            .get(session_id)
            .is_some_and(|a| a.turn_id == turn_id)
        {
            return Ok(false);
        }
        let now = now_ms();
        if self.store.begin_turn(session_id, turn_id, now)? != TurnStatus::InProgress {
            return Ok(false);
        }
        state.active.insert(
            session_id.to_string(),
            Active {
                turn_id: turn_id.to_string(),
                started_at: now,
                last_event: Instant::now(),
                stalled: false,
                unreachable: None,
                end_reason: None,
                streamed: Default::default(),
            },
        );
        drop(state);
        self.watchdog.notify_one();
        self.bus.publish(EventKind::TurnStarted {
            session_id: session_id.into(),
            turn_id: turn_id.into(),
        });
        Ok(true)
    }

    /// Records activity (and the first message as preview) on a session.
    pub(crate) fn touch_session(&self, id: &str, first_text: Option<&str>) {
        let Ok(Some(mut session)) = self.store.session(id) else {
            return;
        };
        session.last_activity_at = now_ms();
        if session.preview.is_empty() {
            if let Some(text) = first_text {
                session.preview = first_line(text, 140);
            }
        }
        if self.store.update_session(&session).is_ok() {
            let session = self.with_active(session);
            self.bus.publish(EventKind::SessionUpdated { session });
        }
    }

    /// Takes back `turn_id` and every turn after it (Codex's
    /// `thread/revert`: they leave the thread's history and so the model's
    /// context; files they changed stay as they are), then sends `text` as
    /// the next turn: an edited message, or the same one to retry.
    pub async fn resend(
        &self,
        id: &str,
        turn_id: &str,
        text: &str,
        images: &[String],
    ) -> Result<Sent> {
        message_text(text, !self.attachment_paths(images)?.is_empty())?;
        self.require_sign_in().await?;
        let session = self.session(id)?;
        if session.archived {
            return Err(Error::Conflict(
                "this session is archived; unarchive it to continue it".into(),
            ));
        }
        if session.active_turn_id.is_some() {
            return Err(Error::Conflict(
                "a turn is running; interrupt it or let it finish, then edit or retry".into(),
            ));
        }
        let turns = self.history(id).await?;
        let from = turns
            .iter()
            .position(|t| t.id == turn_id)
            .ok_or_else(|| Error::NotFound(format!("no turn {turn_id} in session {id}")))?;
        let thread_id = self.ensure_loaded(&session).await?;
        self.codex::<ThreadRevert>(&ThreadRevertParams {
            thread_id: thread_id.clone(),
            before_turn_id: turn_id.into(),
        })
        .await?;
        let gone: Vec<String> = turns[from..].iter().map(|t| t.id.clone()).collect();
        self.store.forget_turns(id, &gone)?;
        self.bus.publish(EventKind::SessionRewound {
            session_id: id.into(),
            turn_ids: gone,
        });
        self.send_with_images(&thread_id, text, images).await
    }

    pub async fn interrupt(&self, id: &str) -> Result<String> {
        let session = self.session(id)?;
        let turn_id = session
            .active_turn_id
            .ok_or_else(|| Error::Conflict("no turn is running in this session".into()))?;
        let params = TurnInterruptParams {
            thread_id: id.into(),
            turn_id: turn_id.clone(),
        };
        while_settling(|| self.codex::<TurnInterrupt>(&params)).await?;
        Ok(turn_id)
    }
}

/// A message as sent: trimmed, not empty (unless images go with it), not
/// too long.
fn message_text(text: &str, has_images: bool) -> Result<&str> {
    let text = text.trim();
    if text.is_empty() && !has_images {
        return Err(Error::Invalid("the message is empty".into()));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::Invalid(format!(
            "the message is longer than {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(text)
}
