//! The frontend's view of the cluster: three ordered consumers (the message
//! stream and the two state buckets) apply what the cluster stored, in its
//! order, to a SQLite [`Store`]; [`Barrier`] makes a read wait until the view
//! holds everything acknowledged before it.
//!
//! Invariants:
//! - Each source is applied in stream order, batch by batch, one
//!   transaction per batch; its watermark (the last sequence applied) moves
//!   only after the commit. When a consumer reports a problem (a node lost,
//!   heartbeats missed), or makes no progress for 5 s while a read (or the
//!   probe that runs a round every 5 s) waits on it, a new one follows the
//!   source from the watermark:
//!   nothing is applied twice or skipped, and `message.new` goes out only
//!   for a message new to the view.
//! - A claim or read marker names a message the stream stored before it, so
//!   it is applied only once the message source has passed that id.
//! - `message.new` is published after the message is in the view.

use super::cluster::patiently;
use super::records::*;
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use crate::store::{Change, Store};
use async_nats::jetstream::{self, consumer::push::OrderedConfig, stream::Stream};
use futures_util::StreamExt;
use perch_relay_protocol::{Callback, Pair, RelayEvent, Task, TaskEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};

/// The most changes applied in one transaction.
const BATCH: usize = 512;
/// How long a read waits for the view before it answers 503.
const SYNC_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a read waits for a source that makes no progress before its
/// consumer is replaced.
const STALL: Duration = Duration::from_secs(5);

/// Which of the three sources a change came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Messages,
    State,
    MessageState,
}

pub struct Sources {
    pub messages: Stream,
    pub state: Stream,
    pub message_state: Stream,
}

/// The last sequence applied, per source.
#[derive(Clone)]
pub struct Watermarks {
    pub messages: watch::Sender<u64>,
    pub state: watch::Sender<u64>,
    pub message_state: watch::Sender<u64>,
    /// Per source: a read waited for it without progress, so its consumer
    /// is replaced (one that the cluster forgot reports nothing).
    stalled: [Arc<Notify>; 3],
}

impl Watermarks {
    fn new() -> Self {
        Self {
            messages: watch::channel(0).0,
            state: watch::channel(0).0,
            message_state: watch::channel(0).0,
            stalled: Default::default(),
        }
    }

    fn stalled(&self, source: Source) -> &Arc<Notify> {
        &self.stalled[source as usize]
    }

    fn of(&self, source: Source) -> &watch::Sender<u64> {
        match source {
            Source::Messages => &self.messages,
            Source::State => &self.state,
            Source::MessageState => &self.message_state,
        }
    }
}

/// Starts applying each source to `view`; returns once the view holds what
/// the cluster held when this was called.
pub async fn start(
    client: &async_nats::Client,
    sources: Arc<Sources>,
    names: &Names,
    view: Arc<Store>,
    bus: Arc<EventBus>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<Barriers> {
    let marks = Watermarks::new();
    for (source, stream) in [
        (Source::Messages, sources.messages.clone()),
        (Source::State, sources.state.clone()),
        (Source::MessageState, sources.message_state.clone()),
    ] {
        let applier = Applier {
            source,
            subjects: (names.message_subject.clone(), names.deleted_subject.clone()),
            stream,
            client: client.clone(),
            view: view.clone(),
            bus: bus.clone(),
            marks: marks.clone(),
        };
        tasks.push(tokio::spawn(applier.run()));
    }
    let follow = |source: Source, stream: &Stream| {
        (
            stream.clone(),
            marks.of(source).clone(),
            marks.stalled(source).clone(),
        )
    };
    let everything = Barrier::new(vec![
        follow(Source::Messages, &sources.messages),
        follow(Source::State, &sources.state),
        follow(Source::MessageState, &sources.message_state),
    ]);
    let agents = Barrier::new(vec![follow(Source::State, &sources.state)]);
    tasks.push(tokio::spawn(everything.clone().run()));
    tasks.push(tokio::spawn(agents.clone().run()));
    // A source can stall with nobody reading (its SSE subscribers wait for
    // pushes): one round every STALL finds that out too.
    let probe = everything.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(STALL).await;
            if let Err(err) = probe.wait().await {
                tracing::warn!("relay view: {err}");
            }
        }
    }));
    everything.wait().await?;
    Ok(Barriers { everything, agents })
}

/// A barrier over every source, and one over the state bucket alone (what
/// a read of agent cards and keys needs: one request a round, not three).
pub struct Barriers {
    pub everything: Arc<Barrier>,
    pub agents: Arc<Barrier>,
}

pub fn unavailable(doing: &str, err: impl std::fmt::Display) -> RelayError {
    RelayError::Unavailable(format!(
        "the relay's NATS cluster did not answer while {doing} ({err}); retry in a moment"
    ))
}

struct Applier {
    source: Source,
    /// The message stream's subjects: messages, deletions.
    subjects: (String, String),
    stream: Stream,
    client: async_nats::Client,
    view: Arc<Store>,
    bus: Arc<EventBus>,
    marks: Watermarks,
}

/// Why following a source stopped.
enum Stopped {
    /// The consumer reported a problem (a lost node, missed heartbeats) or
    /// could not be made: follow again from the watermark.
    Interrupted(String),
    /// The view could not be written: this frontend stops answering from it.
    Broken(String),
}

impl Applier {
    /// Follows the source for as long as the frontend runs, each time from
    /// the first sequence the view does not hold (so nothing is applied
    /// twice, and nothing is skipped, whatever the consumer went through).
    async fn run(self) {
        let mut pause = Duration::from_millis(50);
        loop {
            let from = *self.marks.of(self.source).borrow() + 1;
            match self.follow(from).await {
                Stopped::Interrupted(why) => {
                    tracing::warn!(
                        "relay view ({:?}): following the cluster from {from} stopped ({why}); again in {pause:?}",
                        self.source
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Stopped::Broken(why) => {
                    tracing::error!("relay view ({:?}): {why}", self.source);
                    return;
                }
            }
        }
    }

    /// Applies what the source stored from sequence `from` on, batch by
    /// batch, until the consumer reports a problem.
    async fn follow(&self, from: u64) -> Stopped {
        let deliver_policy = if from <= 1 {
            jetstream::consumer::DeliverPolicy::All
        } else {
            jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from,
            }
        };
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                description: Some("perch relay view".into()),
                deliver_policy,
                ..Default::default()
            })
            .await;
        let messages = match consumer {
            Ok(consumer) => consumer.messages().await,
            Err(err) => return Stopped::Interrupted(err.to_string()),
        };
        let mut batches = match messages {
            Ok(messages) => messages.ready_chunks(BATCH),
            Err(err) => return Stopped::Interrupted(err.to_string()),
        };
        let stalled = self.marks.stalled(self.source).clone();
        loop {
            let batch = tokio::select! {
                batch = batches.next() => batch,
                _ = stalled.notified() => {
                    return Stopped::Interrupted("a read waited for it without progress".into())
                }
            };
            let Some(batch) = batch else { break };
            let mut changes = Vec::with_capacity(batch.len());
            let mut last = None;
            let mut interrupted = None;
            for delivered in batch {
                let message = match delivered {
                    Ok(message) => message,
                    // What came after this is delivered again from the watermark.
                    Err(err) => {
                        interrupted = Some(err.to_string());
                        break;
                    }
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                last = Some(seq);
                match self.change(&message, seq).await {
                    Ok(Some(change)) => changes.push(change),
                    Ok(None) => {}
                    Err(err) => tracing::error!(
                        "relay view: {} (sequence {seq} of {:?}) is not readable, skipped: {err}",
                        message.subject,
                        self.source
                    ),
                }
            }
            let inserted = match self.view.apply(&changes) {
                Ok(inserted) => inserted,
                Err(err) => {
                    return Stopped::Broken(format!(
                        "applying {} changes failed: {err}",
                        changes.len()
                    ))
                }
            };
            for change in changes {
                if let Change::Message(message) = change {
                    if inserted.contains(&message.id) {
                        self.bus.publish(RelayEvent::MessageNew(*message));
                    }
                }
            }
            if let Some(seq) = last {
                self.marks.of(self.source).send_if_modified(|mark| {
                    let moved = seq > *mark;
                    *mark = (*mark).max(seq);
                    moved
                });
            }
            if let Some(why) = interrupted {
                return Stopped::Interrupted(why);
            }
        }
        Stopped::Interrupted("the cluster ended the consumer".into())
    }

    /// The change one stored message makes; `None` for keys the view does
    /// not keep (locks, counters).
    async fn change(&self, message: &jetstream::Message, seq: u64) -> Result<Option<Change>> {
        let subject = message.subject.as_str();
        let payload = &message.payload;
        let id = i64::try_from(seq).unwrap_or(i64::MAX);
        if self.source == Source::Messages {
            return Ok(if subject == self.subjects.0 {
                let stored: StoredMessage = parse(payload)?;
                Some(Change::Message(Box::new(stored.into_message(id))))
            } else if subject == self.subjects.1 {
                Some(Change::MessageDeleted(parse::<i64>(payload)?))
            } else {
                None
            });
        }
        let removed = message
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .is_some_and(|op| op.as_str() != "PUT");
        let key = subject.splitn(3, '.').nth(2).unwrap_or_default();
        let (kind, rest) = key.split_once('.').unwrap_or((key, ""));
        let value = |removed: bool| -> Result<Option<serde_json::Value>> {
            Ok(if removed { None } else { Some(parse(payload)?) })
        };
        Ok(match (self.source, kind) {
            (Source::MessageState, "claim") => {
                let message = number(rest)?;
                self.wait_for_message(message).await;
                let claim = match value(removed)? {
                    None => None,
                    Some(v) => {
                        let c: ClaimRecord = serde_json::from_value(v).map_err(bad)?;
                        Some((c.agent, c.claimed_at, c.expires_at))
                    }
                };
                Some(Change::Claim { message, claim })
            }
            (Source::MessageState, "read") if !removed => {
                let (message, agent) = rest.split_once('.').ok_or_else(|| bad("a read key"))?;
                let message = number(message)?;
                self.wait_for_message(message).await;
                let record: ReadRecord = parse(payload)?;
                Some(Change::Read {
                    message,
                    agent: id_of(agent).ok_or_else(|| bad("an agent key"))?,
                    at: record.at,
                })
            }
            (Source::State, "agent") => {
                let id = id_of(rest).ok_or_else(|| bad("an agent key"))?;
                let card = match removed {
                    true => None,
                    false => {
                        let record: AgentRecord = parse(payload)?;
                        Some(Box::new((record.card, record.credentials)))
                    }
                };
                Some(Change::Agent { id, card })
            }
            (Source::State, "pair") => Some(Change::Pair {
                id: id_of(rest).ok_or_else(|| bad("a pair key"))?,
                pair: (!removed)
                    .then(|| parse::<Pair>(payload))
                    .transpose()?
                    .map(Box::new),
            }),
            (Source::State, "task") => Some(Change::Task {
                id: number(rest)?,
                task: (!removed)
                    .then(|| parse::<Task>(payload))
                    .transpose()?
                    .map(Box::new),
            }),
            (Source::State, "taskevent") if !removed => {
                let mut event: TaskEvent = parse(payload)?;
                event.id = id;
                Some(Change::TaskEvent(Box::new(event)))
            }
            (Source::State, "callback") if !removed => {
                Some(Change::Callback(Box::new(parse::<Callback>(payload)?)))
            }
            _ => None,
        })
    }

    async fn wait_for_message(&self, id: i64) {
        let id = u64::try_from(id).unwrap_or(0);
        let mut mark = self.marks.messages.subscribe();
        let _ = mark.wait_for(|applied| *applied >= id).await;
    }
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload).map_err(bad)
}

fn number(text: &str) -> Result<i64> {
    text.parse()
        .map_err(|_| bad(format!("{text:?} as a number")))
}

fn bad(what: impl std::fmt::Display) -> RelayError {
    RelayError::Internal(format!("unreadable record in the cluster: {what}"))
}

/// Read-your-writes across frontends: a read waits until the view holds each
/// source's last sequence, as the cluster reports it after the read began.
/// Reads that arrive while a round is out share the next one, so a busy
/// frontend asks the cluster once per round, not once per read.
pub struct Barrier {
    /// Each source this barrier waits for, its watermark, and how to have
    /// its consumer replaced.
    sources: Vec<(Stream, watch::Sender<u64>, Arc<Notify>)>,
    waiting: std::sync::Mutex<Vec<oneshot::Sender<Result<(), String>>>>,
    wake: Notify,
}

impl Barrier {
    fn new(sources: Vec<(Stream, watch::Sender<u64>, Arc<Notify>)>) -> Arc<Self> {
        Arc::new(Self {
            sources,
            waiting: std::sync::Mutex::default(),
            wake: Notify::new(),
        })
    }

    pub async fn wait(&self) -> Result<()> {
        let (done, answer) = oneshot::channel();
        stdx::MutexExt::lock_unpoisoned(&self.waiting).push(done);
        self.wake.notify_one();
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(RelayError::Unavailable(why)),
            Err(_) => Err(RelayError::Unavailable(
                "this relay frontend is stopping".into(),
            )),
        }
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            loop {
                let round = std::mem::take(&mut *stdx::MutexExt::lock_unpoisoned(&self.waiting));
                if round.is_empty() {
                    break;
                }
                let outcome = tokio::time::timeout(SYNC_TIMEOUT, self.round())
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "this relay frontend's view of the NATS cluster is more than {} s behind; retry, or check the cluster (docs/relay.md)",
                            SYNC_TIMEOUT.as_secs()
                        ))
                    });
                for done in round {
                    let _ = done.send(outcome.clone());
                }
            }
        }
    }

    async fn round(&self) -> Result<(), String> {
        let targets = futures_util::future::join_all(
            self.sources
                .iter()
                .map(|(stream, _, _)| last_sequence(stream)),
        )
        .await;
        for (target, (_, mark, stalled)) in targets.into_iter().zip(&self.sources) {
            let target = target?;
            let mut mark = mark.subscribe();
            // No progress for a while: the consumer is replaced, and the
            // wait goes on (within SYNC_TIMEOUT).
            while tokio::time::timeout(STALL, mark.wait_for(|applied| *applied >= target))
                .await
                .map_err(|_| stalled.notify_one())
                .is_err()
            {}
            if *mark.borrow() < target {
                return Err("this relay frontend stopped following the cluster".to_string());
            }
        }
        Ok(())
    }
}

/// The sequence a view must reach to hold what `stream` holds now: its last
/// one, or 0 when it is empty (everything in it expired).
async fn last_sequence(stream: &Stream) -> Result<u64, String> {
    let info = patiently(|| stream.get_info(), |_| false)
        .await
        .map_err(|e| format!("the relay's NATS cluster did not answer ({e}); retry in a moment"))?;
    Ok(if info.state.messages == 0 {
        0
    } else {
        info.state.last_sequence
    })
}
