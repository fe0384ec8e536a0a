//! `perch-bench search`: `GET /api/search` through a real `perch serve` over
//! a data dir holding N sessions × M transcript lines (default 10 000 × 50)
//! of Zipf-distributed words, a tenth of the sessions archived. Queries are
//! what a person types into the palette: one to three words, the last cut
//! short (a prefix), rare and common ones alike. Prints p50/p99/max and the
//! server's RSS before and after, which shows the corpus stays on disk.

use crate::state::{report, Words};
use crate::turns::Server;
use crate::{err, ms, proc_usage, BenchError};
use perch_runtime::store::Store;
use perch_test_support::{CodexEnv, ScriptedModel};
use std::time::Instant;

const QUERIES: usize = 1_000;

pub async fn run(sessions: usize, lines: usize) -> Result<(), BenchError> {
    let env = CodexEnv::new().map_err(err)?;
    let model = ScriptedModel::start().await.map_err(err)?;
    let seeded = Instant::now();
    let mut words = Words::new();
    seed(&env, &mut words, sessions, lines)?;
    let db = std::fs::metadata(env.data().join("perch.db")).map_or(0, |m| m.len());
    println!(
        "perch-bench search: {sessions} sessions × {lines} lines seeded in {:.1} s (database {:.0} MB)",
        seeded.elapsed().as_secs_f64(),
        db as f64 / 1e6
    );

    let (server, _, _) = Server::start(&env, &model).await?;
    let pid = server.child.id().unwrap_or_default();
    let rss_before = proc_usage(pid).map_or(0, |(rss, _)| rss);
    // Warm the page cache and the connection, as a session that has been
    // running would have.
    for _ in 0..20 {
        server.get("/api/search?q=w1x").await?;
    }
    let mut samples = Vec::with_capacity(QUERIES);
    let mut found = 0usize;
    for _ in 0..QUERIES {
        let q = query(&mut words);
        let started = Instant::now();
        let answer = server.get(&format!("/api/search?q={q}")).await?;
        samples.push(ms(started.elapsed()));
        let hits = answer["hits"]
            .as_array()
            .ok_or_else(|| err(format!("no hits in {answer}")))?;
        found += usize::from(!hits.is_empty());
    }
    report(
        &format!("GET /api/search, {sessions} sessions × {lines} lines (1-3 words, last a prefix)"),
        samples,
    );
    let rss_after = proc_usage(pid).map_or(0, |(rss, _)| rss);
    println!(
        "queries with results: {found} of {QUERIES}; perch serve RSS {:.1} MB before, {:.1} MB after the queries",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    Ok(())
}

/// One to three words; the last one cut to a prefix half of the time.
fn query(words: &mut Words) -> String {
    let n = 1 + (words.next() % 3) as usize;
    let mut parts: Vec<String> = (0..n).map(|_| words.word()).collect();
    if words.next() % 2 == 0 {
        if let Some(last) = parts.last_mut() {
            let keep = (last.len() - 1).max(2);
            last.truncate(keep);
        }
    }
    parts.join("%20")
}

/// Writes the sessions and their transcripts straight into the data dir's
/// database (the schema made by the core's own migrations), in one
/// transaction: the index fills through its triggers as in a running Perch.
fn seed(
    env: &CodexEnv,
    words: &mut Words,
    sessions: usize,
    lines: usize,
) -> Result<(), BenchError> {
    let store = Store::open(&env.data().join("perch.db")).map_err(err)?;
    let mut conn = store.database().conn();
    let tx = conn.transaction().map_err(err)?;
    let now = stdx::now_ms();
    for s in 0..sessions {
        let id = format!("bench-session-{s:05}");
        let at = now - (sessions - s) as i64 * 60_000;
        let name = format!("Session {s} {}", words.sentence(2));
        tx.execute(
            "INSERT INTO sessions (id, name, preview, archived, created_at, last_activity_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (&id, &name, "", s % 10 == 0, at, at),
        )
        .map_err(err)?;
        for l in 0..lines {
            let role = if l % 2 == 0 { "user" } else { "assistant" };
            let len = 8 + (words.next() % 23) as usize;
            tx.execute(
                "INSERT INTO transcript (session_id, turn_id, item_id, role, text, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (&id, format!("turn-{}", l / 2), format!("item-{l}"), role, words.sentence(len), at + l as i64),
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    Ok(())
}
