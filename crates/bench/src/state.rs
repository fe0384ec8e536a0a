//! `perch-bench memory` and `perch-bench wakeups`: the figures issue 5 names.
//!
//! - Memory: insert throughput (one transaction per memory, as the API and
//!   the agent's tool add them, and batched, as import does) and search
//!   latency over N memories (default 100 000) of Zipf-distributed words:
//!   search-box queries (1-3 words, last one a prefix) and turn-context
//!   queries (a 12-word message, any word).
//! - Wakeups: an in-process Perch with the real Codex and the scripted
//!   model; N one-shot wakeups due a few hundred ms apart; fired time minus
//!   due time from the run log.
//!
//! They print figures; they assert nothing.

use crate::delivery::{start_scripted, WAIT};
use crate::BenchError;
use crate::{err, ms, percentile};
use perch_agent::memory::store::MemoryStore;
use perch_agent::memory::{MemoryRow, MemorySearch, MemorySource, Origin, CANDIDATES};
use perch_agent::wakeups::{
    CreatedBy, MillisOrText, Misfire, NewSchedule, NewWakeup, RunStatus, Target,
};
use perch_runtime::model::EventKind;
use perch_runtime::store::Database;
use perch_test_support::{CodexEnv, Script, ScriptedModel};
use std::time::Instant;
use tokio::sync::broadcast::error::RecvError;

const VOCABULARY: usize = 5_000;
const QUERIES: usize = 2_000;
const HTTP_QUERIES: usize = 500;

/// A small deterministic generator (xorshift): the corpus is the same on every run.
pub(crate) struct Words {
    state: u64,
    /// Cumulative Zipf weights of the vocabulary.
    cumulative: Vec<f64>,
}

impl Words {
    pub(crate) fn new() -> Self {
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
            cumulative,
        }
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A word; frequent ones (like real text) much more often.
    pub(crate) fn word(&mut self) -> String {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = self.uniform() * total;
        let rank = self.cumulative.partition_point(|c| *c < target);
        format!("w{rank}x")
    }

    pub(crate) fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn memory(&mut self, at: i64) -> MemoryRow {
        let words = 8 + (self.next() % 23) as usize;
        let tags = (0..self.next() % 3)
            .map(|_| format!("tag{}", self.next() % 50))
            .collect();
        MemoryRow {
            text: self.sentence(words),
            tags,
            origin: Origin {
                source: MemorySource::Session,
                source_ref: None,
                senders: Vec::new(),
            },
            importance: self.uniform(),
            created_at: at,
            updated_at: at,
        }
    }
}

pub(crate) fn report(what: &str, mut samples: Vec<f64>) {
    let (p50, p99) = (
        percentile(&mut samples, 50.0),
        percentile(&mut samples, 99.0),
    );
    let max = samples.iter().copied().fold(0.0, f64::max);
    println!(
        "{what}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({} samples)",
        samples.len()
    );
}

pub async fn memory(count: usize) -> Result<(), BenchError> {
    // A data dir `perch serve` runs on afterwards, for the HTTP figures.
    let env = CodexEnv::new().map_err(err)?;
    let path = env.data().join("perch.db");
    let store = MemoryStore::new(Database::open(&path).map_err(err)?).map_err(err)?;
    let mut words = Words::new();
    let now = stdx::now_ms();
    // As in a running Perch, the search index is live while memories come in.
    search(&store, "warm up", false, 0)?;

    let single = 2_000.min(count);
    let started = Instant::now();
    for i in 0..single {
        store
            .insert_memories(&[words.memory(now - i as i64 * 60_000)])
            .map_err(err)?;
    }
    let per_sec = single as f64 / started.elapsed().as_secs_f64();
    println!("insert, one transaction each (API, agent tool): {per_sec:.0} memories/s ({single} memories)");

    let started = Instant::now();
    let mut inserted = single;
    while inserted < count {
        let batch: Vec<MemoryRow> = (0..1_000.min(count - inserted))
            .map(|i| words.memory(now - (inserted + i) as i64 * 60_000))
            .collect();
        store.insert_memories(&batch).map_err(err)?;
        inserted += batch.len();
    }
    let batched = inserted - single;
    if batched > 0 {
        println!(
            "insert, 1000 per transaction (import): {:.0} memories/s ({batched} memories)",
            batched as f64 / started.elapsed().as_secs_f64()
        );
    }

    let mut search_box = Vec::with_capacity(QUERIES);
    let mut hits = 0;
    for _ in 0..QUERIES {
        let length = 1 + (words.next() % 3) as usize;
        let query = words.sentence(length);
        let started = Instant::now();
        hits += search(&store, &query, true, CANDIDATES)?;
        search_box.push(ms(started.elapsed()));
    }
    report(
        &format!("search box, {count} memories (1-3 words, prefix)"),
        search_box,
    );
    let mut context = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let message = words.sentence(12);
        let started = Instant::now();
        hits += search(&store, &message, false, 20)?;
        context.push(ms(started.elapsed()));
    }
    report(
        &format!("turn context, {count} memories (12-word message)"),
        context,
    );
    println!("({hits} results in all)");

    drop(store);
    let store = MemoryStore::new(Database::open(&path).map_err(err)?).map_err(err)?;
    let started = Instant::now();
    search(&store, "rebuild", false, 0)?;
    println!(
        "search index built from SQLite at start: {:.0} ms ({count} memories)",
        ms(started.elapsed())
    );
    drop(store);

    // What a person waits for: the search box through the API of a real
    // `perch serve` on these memories.
    let model = ScriptedModel::start().await.map_err(err)?;
    let (server, _, _) = crate::turns::Server::start(&env, &model).await?;
    let search_path =
        |query: &str| format!("/api/memories?q={}&limit=20", query.replace(' ', "%20"));
    let started = Instant::now();
    server.get(&search_path("first")).await?;
    println!(
        "first search through the API after start: {:.1} ms ({count} memories)",
        ms(started.elapsed())
    );
    let mut through_api = Vec::with_capacity(HTTP_QUERIES);
    let mut hits = 0;
    for _ in 0..HTTP_QUERIES {
        let length = 1 + (words.next() % 3) as usize;
        let query = words.sentence(length);
        let started = Instant::now();
        let page = server.get(&search_path(&query)).await?;
        through_api.push(ms(started.elapsed()));
        hits += page["data"].as_array().map_or(0, Vec::len);
    }
    report(
        &format!("search box through GET /api/memories?q=, {count} memories (1-3 words, prefix)"),
        through_api,
    );
    println!("({hits} results through the API)");
    server.stop().await
}

/// How many memories a search returned: the best 20 of `ranked`.
fn search(
    store: &MemoryStore,
    text: &str,
    prefix: bool,
    ranked: usize,
) -> Result<usize, BenchError> {
    Ok(store
        .search_memories(&MemorySearch {
            text,
            prefix,
            limit: 20,
            ranked,
            ..Default::default()
        })
        .map_err(err)?
        .memories
        .len())
}

/// Wakeups: how late they fire (claimed) and how long until their turn
/// started (Codex answered `turn/start`), with Codex awake; then a few with
/// Codex asleep before each (`sleep_after = "1s"`), where waking it is on
/// the path.
pub async fn wakeups(count: usize, spacing_ms: i64) -> Result<(), BenchError> {
    let awake = wakeup_runs(count, spacing_ms, "").await?;
    awake.report(&format!(
        "{count} wakeups {spacing_ms} ms apart, Codex awake"
    ));
    const ASLEEP: usize = 5;
    let asleep = wakeup_runs(ASLEEP, 3_000, "sleep_after = \"1s\"\n").await?;
    asleep.report(&format!(
        "{ASLEEP} wakeups 3 s apart, Codex asleep before each"
    ));
    Ok(())
}

struct WakeupFigures {
    /// Claimed minus due, ms.
    fired: Vec<f64>,
    /// `turn.started` (Codex answered `turn/start`) minus due, ms.
    started: Vec<f64>,
    completed: usize,
    count: usize,
}

impl WakeupFigures {
    fn report(self, what: &str) {
        report(&format!("wakeup fired minus due ({what})"), self.fired);
        report(
            &format!("wakeup due to turn/start answered ({what})"),
            self.started,
        );
        println!("runs completed: {} of {}", self.completed, self.count);
    }
}

async fn wakeup_runs(
    count: usize,
    spacing_ms: i64,
    codex_keys: &str,
) -> Result<WakeupFigures, BenchError> {
    let env = CodexEnv::new().map_err(err)?;
    let model = ScriptedModel::start().await.map_err(err)?;
    let server = start_scripted(&env, &model, "off", codex_keys).await?;
    let rt = server.agent.runtime().clone();
    let agent = server.agent.clone();
    for _ in 0..count {
        model.enqueue(Script::text("Done."));
    }
    let mut live = rt.events().subscribe(None).live;
    let first = stdx::now_ms() + spacing_ms.max(1_000);
    let mut ids = Vec::new();
    for i in 0..count {
        let at = first + i as i64 * spacing_ms;
        let new = NewWakeup {
            prompt: format!("Bench wakeup {i}."),
            label: None,
            schedule: NewSchedule::At {
                at: MillisOrText::Millis(at),
            },
            target: Some(Target::New { cwd: None }),
            misfire: Some(Misfire::Once),
            grace_ms: None,
            notify: Some(false),
        };
        ids.push(agent.create_wakeup(new, CreatedBy::Person).map_err(err)?.id);
    }
    let mut turn_started = std::collections::HashMap::new();
    let mut finished = 0;
    let deadline = tokio::time::Instant::now()
        + WAIT
        + std::time::Duration::from_millis((first - stdx::now_ms()).max(0) as u64)
        + std::time::Duration::from_millis((count as i64 * spacing_ms) as u64);
    while finished < count {
        match tokio::time::timeout_at(deadline, live.recv()).await {
            Ok(Ok(event)) => match &event.kind {
                EventKind::WakeupRun { run, .. } => {
                    finished += usize::from(run.status.is_final());
                }
                EventKind::TurnStarted { turn_id, .. } => {
                    turn_started.insert(turn_id.clone(), event.at);
                }
                _ => {}
            },
            Ok(Err(RecvError::Lagged(_))) => {}
            _ => break,
        }
    }
    let mut figures = WakeupFigures {
        fired: Vec::new(),
        started: Vec::new(),
        completed: 0,
        count,
    };
    for id in &ids {
        for run in agent.wakeup_runs(Some(*id), 10).map_err(err)? {
            figures
                .fired
                .extend(run.fired_at.map(|fired| (fired - run.scheduled_at) as f64));
            let started = run.turn_id.as_ref().and_then(|t| turn_started.get(t));
            figures
                .started
                .extend(started.map(|at| (at - run.scheduled_at) as f64));
            figures.completed += usize::from(run.status == RunStatus::Completed);
        }
    }
    server.stop().await;
    Ok(figures)
}
