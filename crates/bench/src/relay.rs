//! `perch-bench relay`: the relay as its own process (`perch relay serve`,
//! SQLite on disk), N registered agents each with an SSE subscriber, and
//! concurrent senders. Prints durable throughput (messages answered 201,
//! so committed), delivery latency from send to the subscriber's event
//! (p50/p99), lost or doubled deliveries, and the relay's RSS. It asserts
//! nothing.

use crate::BenchError;
use crate::{err, ms, percentile, proc_usage};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

pub struct RelayBenchArgs {
    pub agents: usize,
    pub messages: usize,
    pub senders: usize,
}

type Seen = Arc<Mutex<HashMap<i64, Vec<Instant>>>>;

/// All the bench reads of a message (the relay's answer, the pushed event):
/// the client's own parsing stays small next to the relay's work.
#[derive(serde::Deserialize)]
struct MessageId {
    id: i64,
}

#[derive(serde::Serialize)]
struct Outgoing<'a> {
    from: &'a str,
    to: &'a str,
    body: String,
}

pub async fn run(args: RelayBenchArgs) -> Result<(), BenchError> {
    let dir = tempfile::tempdir().map_err(err)?;
    let exe = crate::perch_bin()?;
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--data-dir",
            &dir.path().display().to_string(),
            "relay",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("AGENT_RELAY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(err)?;
    let pid = child.id().ok_or_else(|| err("the relay exited at once"))?;
    let stdout = child.stdout.take().ok_or_else(|| err("no stdout"))?;
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .map_err(err)?
        .ok_or_else(|| err("the relay printed nothing"))?;
    let url = line
        .strip_prefix("listening ")
        .ok_or_else(|| err(format!("unexpected first line {line:?}")))?
        .to_string();
    let http = stdx_http::client_builder()
        .pool_max_idle_per_host(args.senders * 2)
        .build()
        .map_err(err)?;

    println!("relay bench: {} agents with an SSE subscriber each, {} messages from {} concurrent senders, SQLite on disk", args.agents, args.messages, args.senders);
    let (idle_rss, _) = proc_usage(pid).unwrap_or((0, 0));
    for n in 0..args.agents {
        let response = http
            .post(format!("{url}/api/agents"))
            .json(&json!({"id": format!("agent-{n}"), "capabilities": ["bench"]}))
            .send()
            .await
            .map_err(err)?;
        if !response.status().is_success() {
            return Err(err(format!("registering agent-{n}: {}", response.status())));
        }
    }
    let seen: Seen = Arc::default();
    let pushed = Arc::new(tokio::sync::Notify::new());
    let mut subscribers = Vec::new();
    for n in 0..args.agents {
        let response = http
            .get(format!("{url}/api/events?agentId=agent-{n}"))
            .send()
            .await
            .map_err(err)?;
        let mut events = response.bytes_stream().eventsource();
        // The first event (`ready`) means the subscription is live.
        events
            .next()
            .await
            .ok_or_else(|| err("a subscriber's stream ended"))?
            .map_err(err)?;
        let (seen, pushed) = (seen.clone(), pushed.clone());
        subscribers.push(tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                if event.event == "message.new" {
                    if let Ok(MessageId { id }) = serde_json::from_str(&event.data) {
                        if let Ok(mut seen) = seen.lock() {
                            seen.entry(id).or_default().push(Instant::now());
                        }
                        pushed.notify_one();
                    }
                }
            }
        }));
    }

    let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..args.senders {
        let (http, url, sent) = (http.clone(), url.clone(), sent.clone());
        let (agents, count) = (
            args.agents,
            args.messages / args.senders + usize::from(s < args.messages % args.senders),
        );
        senders.spawn(async move {
            for i in 0..count {
                let to = format!("agent-{}", (s * 7919 + i) % agents);
                let at = Instant::now();
                let response = http
                    .post(format!("{url}/api/messages"))
                    .json(&Outgoing {
                        from: "bench",
                        to: &to,
                        body: format!("message {i} from sender {s}"),
                    })
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().as_u16() != 201 {
                    return Err(format!("send answered {}", response.status()));
                }
                let MessageId { id } = response.json().await.map_err(|e| e.to_string())?;
                if let Ok(mut sent) = sent.lock() {
                    sent.insert(id, at);
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = senders.join_next().await {
        joined.map_err(err)?.map_err(err)?;
    }
    let elapsed = started.elapsed();
    let (loaded_rss, _) = proc_usage(pid).unwrap_or((0, 0));

    // Wait for the pushes to land, woken by each one (bounded: a lost one
    // must not hang us; it is counted below).
    let all_pushed = async {
        while seen.lock().map(|s| s.len()).unwrap_or(0) < args.messages {
            pushed.notified().await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), all_pushed).await;
    for subscriber in subscribers {
        subscriber.abort();
    }
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut latencies: Vec<f64> = Vec::with_capacity(sent.len());
    let (mut lost, mut doubled) = (0usize, 0usize);
    for (id, at) in &sent {
        match seen.get(id).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some([first, rest @ ..]) => {
                latencies.push(ms(first.saturating_duration_since(*at)));
                doubled += usize::from(!rest.is_empty());
            }
        }
    }
    let throughput = sent.len() as f64 / elapsed.as_secs_f64();
    println!(
        "durable throughput          {throughput:.0} messages/s ({} in {:.2} s)",
        sent.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "send → SSE delivery          p50 {:.2} ms, p99 {:.2} ms (n = {})",
        percentile(&mut latencies, 50.0),
        percentile(&mut latencies, 99.0),
        latencies.len()
    );
    println!("lost / doubled deliveries    {lost} / {doubled}");
    println!(
        "relay RSS                    {:.1} MB idle, {:.1} MB under load",
        idle_rss as f64 / 1024.0,
        loaded_rss as f64 / 1024.0
    );
    let _ = child.kill().await;
    Ok(())
}
