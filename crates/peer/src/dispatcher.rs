//! Peer messages into the Codex thread, at least once.
//!
//! Invariants:
//! - A message is consumed when the turn that carried it completes; only
//!   then does its channel's watermark move (one ledger transaction), so a
//!   crash, a failed turn or a kill -9 leaves it to be delivered again.
//! - Messages that arrive together go in one turn: `turn/start` when the
//!   peer session is idle, `turn/steer` while a turn runs, and for an urgent
//!   one, interrupt and start anew with everything pending.
//! - A claimable message is claimed before it is delivered (one winner on
//!   the relay), its lease renewed while the turn runs, released on failure.
//! - A failed turn goes back to the front of the queue and is retried after
//!   `retry_secs × attempt`; after `max_retries` the failure is loud (status,
//!   a warning event that notifies), never silent.

use crate::error::PeerError;
use crate::peer::Peer;
use crate::prompt::turn_text;
use perch_agent::changes::PeerSender;
use perch_relay_protocol::Message;
use perch_runtime::model::{EventKind, NewSession, TurnStatus};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;
use stdx::MutexExt;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Messages for the agent, with an `[event: …]` line to put before them.
pub(crate) struct Dispatch {
    pub messages: Vec<Message>,
    pub note: Option<String>,
}

pub use perch_protocol::peer::{DeliveryState, DeliveryStatus};

/// Messages riding one turn.
struct Batch {
    turn_id: String,
    session: String,
    messages: Vec<Message>,
}

struct Dispatcher {
    peer: Weak<Peer>,
    queue: VecDeque<Message>,
    /// Ids queued, in flight or consumed during this run.
    known: HashSet<i64>,
    notes: Vec<String>,
    in_flight: Vec<Batch>,
    session: Option<String>,
    attempt: u32,
    retry_at: Option<Instant>,
    /// An urgent message interrupted the running turn; start once it ends.
    interrupting: bool,
    /// The last failure, while retrying; `failed` once retries ran out.
    last_error: Option<String>,
    failed: bool,
    /// Batches not yet sorted because the ledger could not be read; they
    /// are taken again at the next retry, never dropped.
    held: Vec<Dispatch>,
}

/// How soon a batch held back by a ledger error is tried again.
const LEDGER_RETRY: Duration = Duration::from_secs(5);

pub(crate) fn spawn(
    peer: Weak<Peer>,
    inbox: mpsc::Receiver<Dispatch>,
) -> tokio::task::JoinHandle<()> {
    // Wakeups aimed at the peer session need it before a peer writes, and
    // before the scheduler starts (which is after `Peer::start` returns).
    if let Some(peer) = peer.upgrade() {
        let known = peer
            .config
            .session
            .clone()
            .or_else(|| peer.ledger.get("session").ok().flatten());
        if let Some(id) = known.filter(|id| peer.runtime.session(id).is_ok_and(|s| !s.archived)) {
            // A failure here is met again (and stops dispatching) in `session`.
            if let Err(err) = peer.agent.set_peer_session(Some(id)) {
                tracing::error!("confining the peer session: {err}");
            }
        }
    }
    let dispatcher = Dispatcher {
        peer,
        queue: VecDeque::new(),
        known: HashSet::new(),
        notes: Vec::new(),
        in_flight: Vec::new(),
        session: None,
        attempt: 0,
        retry_at: None,
        interrupting: false,
        last_error: None,
        failed: false,
        held: Vec::new(),
    };
    tokio::spawn(dispatcher.run(inbox))
}

impl Dispatcher {
    async fn run(mut self, mut inbox: mpsc::Receiver<Dispatch>) {
        let Some(peer) = self.peer.upgrade() else {
            return;
        };
        let mut events = peer.runtime.events().subscribe(None).live;
        let lease = Duration::from_secs(peer.config.claim_lease_secs.max(3));
        drop(peer);
        let mut renew = tokio::time::interval(lease / 3);
        loop {
            let retry_at = self.retry_at;
            tokio::select! {
                dispatch = inbox.recv() => {
                    let Some(dispatch) = dispatch else { return };
                    self.accept(dispatch);
                }
                event = events.recv() => match event {
                    Ok(event) => match &event.kind {
                        EventKind::TurnCompleted { session_id, turn_id, status, error } if Some(session_id) == self.session.as_ref() => {
                            self.settle(turn_id, *status, error.clone()).await;
                        }
                        // Only our turns' ends matter; anything else (our own
                        // status events included) must not wake the pump.
                        _ => continue,
                    },
                    Err(RecvError::Lagged(_)) => self.catch_up().await,
                    Err(RecvError::Closed) => return,
                },
                _ = async { if let Some(at) = retry_at { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {
                    self.retry_at = None;
                    for dispatch in std::mem::take(&mut self.held) {
                        self.accept(dispatch);
                    }
                }
                _ = renew.tick(), if self.in_flight.iter().any(|b| b.messages.iter().any(|m| m.claimable)) => {
                    self.renew_claims(lease).await;
                    continue;
                }
            }
            self.pump(lease).await;
        }
    }

    /// After the bus dropped events for us: settle in-flight turns that are
    /// no longer running by their recorded outcome.
    async fn catch_up(&mut self) {
        let (Some(peer), Some(session)) = (self.peer(), self.session.clone()) else {
            return;
        };
        let running = peer
            .runtime
            .session(&session)
            .ok()
            .and_then(|s| s.active_turn_id);
        let ended: Vec<String> = self
            .in_flight
            .iter()
            .map(|b| b.turn_id.clone())
            .filter(|t| Some(t) != running.as_ref())
            .collect();
        if ended.is_empty() {
            return;
        }
        let history = match peer.runtime.history(&session).await {
            Ok(history) => history,
            Err(err) => {
                // Settled as failed below: the messages are retried, not lost.
                tracing::warn!("reading the peer session's history to catch up: {err}");
                Vec::new()
            }
        };
        for turn in ended {
            // A turn the history does not show is retried like a failed one.
            let status = history
                .iter()
                .find(|t| t.id == turn)
                .map_or(TurnStatus::Failed, |t| t.status);
            self.settle(&turn, status, Some("Perch lost track of this turn".into()))
                .await;
        }
    }

    fn peer(&self) -> Option<Arc<Peer>> {
        self.peer.upgrade()
    }

    /// Queues what the agent has not consumed yet, in id order.
    fn accept(&mut self, dispatch: Dispatch) {
        let Some(peer) = self.peer() else { return };
        let read = peer.ledger.watermarks().and_then(|marks| {
            let floor = peer
                .ledger
                .get("floor")?
                .and_then(|f| f.parse::<i64>().ok());
            Ok((marks, floor.unwrap_or(0)))
        });
        let (marks, floor) = match read {
            Ok(read) => read,
            Err(err) => {
                // Without the watermarks new and consumed messages look
                // alike: hold the batch and try again, loudly.
                tracing::error!(
                    "reading the delivery ledger: {err}; trying again in {LEDGER_RETRY:?}"
                );
                self.last_error = Some(format!("reading the delivery ledger: {err}"));
                self.held.push(dispatch);
                self.retry_at
                    .get_or_insert_with(|| Instant::now() + LEDGER_RETRY);
                self.report(&peer);
                return;
            }
        };
        let mut fresh: Vec<Message> = dispatch
            .messages
            .into_iter()
            .filter(|m| m.id > marks.get(&Peer::channel_key(m)).copied().unwrap_or(floor))
            .filter(|m| {
                m.from != peer.identity.agent_id && peer.identity.listens_to(m.channel.as_deref())
            })
            .filter(|m| self.known.insert(m.id))
            .collect();
        if fresh.is_empty() {
            return;
        }
        fresh.sort_by_key(|m| m.id);
        self.notes.extend(dispatch.note);
        self.queue.extend(fresh);
        // New traffic gets a fresh set of attempts after a loud failure.
        if std::mem::take(&mut self.failed) {
            self.attempt = 0;
        }
        self.report(&peer);
    }

    /// Publishes the delivery state when it changed (publishing on every
    /// call would feed the bus an event per event).
    fn report(&self, peer: &Peer) {
        let state = match (self.failed, self.retry_at, self.in_flight.is_empty()) {
            (true, _, _) => DeliveryState::Failed,
            (false, Some(_), _) => DeliveryState::Retrying,
            (false, None, false) => DeliveryState::Delivering,
            (false, None, true) => DeliveryState::Idle,
        };
        let error = match state {
            DeliveryState::Idle | DeliveryState::Delivering => None,
            DeliveryState::Retrying | DeliveryState::Failed => self.last_error.clone(),
        };
        let status = DeliveryStatus {
            queued: self.queue.len(),
            state,
            attempt: self.attempt,
            error,
        };
        {
            let mut shown = peer.delivery.lock_unpoisoned();
            if *shown == status {
                return;
            }
            *shown = status;
        }
        peer.publish_status();
    }

    /// The session peer traffic goes to: `[peer] session`, the one made
    /// before, or a new one named "Peers".
    async fn session(&mut self, peer: &Peer) -> crate::Result<String> {
        if let Some(id) = &self.session {
            return Ok(id.clone());
        }
        let usable = |id: &String| peer.runtime.session(id).is_ok_and(|s| !s.archived);
        let configured = peer.config.session.clone().filter(usable);
        if let Some(id) = &peer.config.session {
            if configured.is_none() {
                tracing::warn!("[peer] session {id} is missing or archived; peer messages go to the Peers session");
            }
        }
        let chosen = configured.or(peer.ledger.get("session")?.filter(usable));
        let id = match chosen {
            Some(id) => id,
            None => {
                // A folder of its own: what other agents ask for never runs
                // in one of the person's repositories unless they chose it.
                let cwd = match &peer.config.cwd {
                    Some(cwd) => cwd.clone(),
                    None => {
                        let own = peer.runtime.data_dir().join("peers");
                        std::fs::create_dir_all(&own).map_err(|source| crate::PeerError::Io {
                            context: format!("creating {}", own.display()),
                            source,
                        })?;
                        own
                    }
                };
                let new = NewSession {
                    name: Some("Peers".into()),
                    cwd: Some(cwd.to_string_lossy().into_owned()),
                    ..NewSession::default()
                };
                peer.runtime.create_session(new).await?.id
            }
        };
        peer.ledger.set("session", &id)?;
        // Confined before the first peer message reaches it.
        peer.agent.set_peer_session(Some(id.clone()))?;
        self.session = Some(id.clone());
        Ok(id)
    }

    async fn pump(&mut self, lease: Duration) {
        let Some(peer) = self.peer() else { return };
        if self.queue.is_empty() || self.retry_at.is_some() || self.interrupting || self.failed {
            self.report(&peer);
            return;
        }
        let session = match self.session(&peer).await {
            Ok(session) => session,
            Err(err) => return self.fail(&peer, Vec::new(), err.to_string()).await,
        };
        let mut batch: Vec<Message> = Vec::new();
        let mut rest = Vec::from(std::mem::take(&mut self.queue)).into_iter();
        while let Some(message) = rest.next() {
            if !message.claimable || message.claimed_by.as_deref() == Some(peer.agent_id()) {
                batch.push(message);
                continue;
            }
            // Someone else's win is not ours to deliver; a relay that did
            // not answer is asked again with the next attempt.
            match peer
                .client
                .claim(
                    message.id,
                    "claim",
                    peer.agent_id(),
                    &peer.agent_proof(),
                    lease,
                )
                .await
            {
                Ok(claimed) => batch.push(claimed),
                Err(PeerError::Relay { status: 409, .. }) => {
                    tracing::info!("message {} was claimed by another agent", message.id)
                }
                Err(err) => {
                    batch.push(message);
                    batch.extend(rest);
                    return self
                        .fail(&peer, batch, format!("claiming a message: {err}"))
                        .await;
                }
            }
        }
        if batch.is_empty() {
            return self.report(&peer);
        }
        let running = peer
            .runtime
            .session(&session)
            .ok()
            .and_then(|s| s.active_turn_id);
        if running.is_some() && batch.iter().any(|m| m.urgent) {
            match peer.runtime.interrupt(&session).await {
                Ok(_) => {
                    self.interrupting = true;
                    self.requeue(batch);
                    return self.report(&peer);
                }
                Err(err) => tracing::warn!("interrupting for an urgent peer message: {err}"),
            }
        }
        // Opened only now: a claim answers the relay's (sealed) copy again.
        let (readable, withheld): (Vec<_>, Vec<_>) = peer
            .open_all(&batch)
            .await
            .into_iter()
            .partition(|(_, seal)| seal.withheld.is_none());
        for (message, seal) in withheld.iter().filter(|(_, seal)| seal.tampered) {
            // The person saw it withheld (`peer.message`); the agent never does.
            tracing::warn!(
                "not delivering message {} from {} to the agent: {}",
                message.id,
                message.from,
                seal.withheld.as_deref().unwrap_or_default()
            );
        }
        if readable.is_empty() {
            self.consume(&peer, &batch).await;
            return self.report(&peer);
        }
        let text = turn_text(&self.notes, &readable, peer.person_id());
        // What the turn may do depends on who wrote to it (the MCP tools ask).
        let senders = self.senders(batch.iter());
        peer.agent.set_turn_senders(&session, senders);
        match peer.runtime.send_message(&session, &text).await {
            Ok(sent) => {
                self.notes.clear();
                self.in_flight.push(Batch {
                    turn_id: sent.turn_id,
                    session: session.clone(),
                    messages: batch,
                });
                self.report(&peer);
            }
            Err(err) => self.fail(&peer, batch, err.to_string()).await,
        }
    }

    /// The senders of `messages` and of every batch still in flight (a
    /// steered turn answers all of them), each once, with whether the relay
    /// authenticated every line it sent.
    fn senders<'a>(&'a self, messages: impl Iterator<Item = &'a Message>) -> Vec<PeerSender> {
        let mut senders: Vec<PeerSender> = Vec::new();
        let in_flight = self.in_flight.iter().flat_map(|b| b.messages.iter());
        for message in in_flight.chain(messages) {
            match senders.iter_mut().find(|s| s.id == message.from) {
                Some(known) => known.authenticated &= message.authenticated,
                None => senders.push(PeerSender {
                    id: message.from.clone(),
                    authenticated: message.authenticated,
                }),
            }
        }
        senders
    }

    fn requeue(&mut self, mut messages: Vec<Message>) {
        messages.extend(std::mem::take(&mut self.queue));
        messages.sort_by_key(|m| m.id);
        self.queue = messages.into();
    }

    async fn settle(&mut self, turn_id: &str, status: TurnStatus, error: Option<String>) {
        let Some(peer) = self.peer() else { return };
        let ours = self.interrupting && status == TurnStatus::Interrupted;
        self.interrupting = false;
        let (done, rest): (Vec<Batch>, Vec<Batch>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|b| b.turn_id == turn_id);
        self.in_flight = rest;
        // The turn is over: its senders no longer speak through the session.
        for batch in &done {
            let senders = self.senders(std::iter::empty());
            peer.agent.set_turn_senders(&batch.session, senders);
        }
        let messages: Vec<Message> = done.into_iter().flat_map(|b| b.messages).collect();
        if messages.is_empty() {
            return;
        }
        if status == TurnStatus::Completed {
            self.attempt = 0;
            self.last_error = None;
            self.consume(&peer, &messages).await;
        } else if ours {
            // Our own interrupt for an urgent message: no failed attempt.
            self.requeue(messages);
        } else {
            let why = error.unwrap_or_else(|| format!("the turn ended {}", status.as_str()));
            self.fail(&peer, messages, why).await;
        }
        self.report(&peer);
    }

    async fn consume(&mut self, peer: &Peer, messages: &[Message]) {
        let mut newest: HashMap<String, i64> = HashMap::new();
        for m in messages {
            let id = newest.entry(Peer::channel_key(m)).or_insert(m.id);
            *id = (*id).max(m.id);
        }
        let consumed: Vec<(String, i64)> = newest.into_iter().collect();
        if let Err(err) = peer.ledger.advance(&consumed) {
            // Delivered but not recorded: it will be delivered again; say so.
            tracing::error!("recording consumed peer messages: {err}");
        }
        for m in messages {
            if let Err(err) = peer.client.mark_read(m.id, peer.agent_id()).await {
                tracing::warn!("marking message {} read: {err}", m.id);
            }
        }
    }

    async fn fail(&mut self, peer: &Peer, messages: Vec<Message>, why: String) {
        for m in messages
            .iter()
            .filter(|m| m.claimable && m.claimed_by.as_deref() == Some(peer.agent_id()))
        {
            let released = peer
                .client
                .claim(
                    m.id,
                    "claim/release",
                    peer.agent_id(),
                    &peer.agent_proof(),
                    Duration::ZERO,
                )
                .await;
            if let Err(err) = released {
                tracing::warn!("releasing message {}: {err}", m.id);
            }
        }
        self.requeue(messages);
        self.attempt += 1;
        let max = peer.config.max_retries;
        self.last_error = Some(why.clone());
        if self.attempt > max {
            let message =
                format!("Peer messages could not be delivered to Codex after {max} retries: {why}");
            tracing::error!("{message}");
            self.failed = true;
            peer.runtime.events().publish(EventKind::Warning {
                session_id: self.session.clone(),
                message,
            });
            peer.runtime
                .events()
                .publish(EventKind::PeerDeliveryFailed {
                    error: why,
                    queued: self.queue.len(),
                });
        } else {
            let wait = Duration::from_secs(peer.config.retry_secs) * self.attempt;
            tracing::warn!(
                "peer delivery failed ({why}); retry {}/{max} in {wait:?}",
                self.attempt
            );
            self.retry_at = Some(Instant::now() + wait);
            self.notes.push(format!(
                "retry {}/{max} of a turn that failed; the same messages follow",
                self.attempt
            ));
        }
        self.report(peer);
    }

    async fn renew_claims(&self, lease: Duration) {
        let Some(peer) = self.peer() else { return };
        for m in self
            .in_flight
            .iter()
            .flat_map(|b| &b.messages)
            .filter(|m| m.claimable)
        {
            if let Err(err) = peer
                .client
                .claim(
                    m.id,
                    "claim/renew",
                    peer.agent_id(),
                    &peer.agent_proof(),
                    lease,
                )
                .await
            {
                tracing::warn!("renewing the claim on message {}: {err}", m.id);
            }
        }
    }
}
