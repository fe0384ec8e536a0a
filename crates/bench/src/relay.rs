//! `perch-bench relay`: the relay as its own process (`perch relay serve`),
//! N registered agents each with an SSE subscriber, and concurrent senders,
//! in three setups in the same run: SQLite on disk; one frontend on a
//! 3-node NATS JetStream cluster (R3, `nats-server` from PyPI); two
//! frontends on that cluster, senders and subscribers spread over both (a
//! message posted on one is pushed by the other). Prints durable throughput
//! (messages answered 201, so committed to SQLite or stored by a quorum),
//! delivery latency from send to the subscriber's event (p50/p99), lost or
//! doubled deliveries, and the frontend's RSS. It asserts nothing.

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
    /// Only the SQLite relay (no NATS cluster).
    pub sqlite_only: bool,
}

/// Where the relay under test keeps its state.
enum Setup {
    Sqlite,
    /// This many frontends on the cluster.
    Nats(usize),
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
    run_on(&args, Setup::Sqlite, None).await?;
    if args.sqlite_only {
        return Ok(());
    }
    let cluster = perch_test_support::nats::NatsCluster::start(3)
        .await
        .map_err(err)?;
    let urls: Vec<String> = (0..3).map(|i| cluster.url(i)).collect();
    jetstream_ceiling(&args, &urls).await?;
    run_on(&args, Setup::Nats(1), Some(&urls)).await?;
    // A frontend that starts on a cluster that holds messages replays them
    // into its view before it listens.
    let started = Instant::now();
    let (mut child, _, _dir) = frontend(Some((&urls, "bench1"))).await?;
    println!(
        "a new frontend on {} stored messages serves after {:.2} s (process start, connect, replay)",
        args.messages,
        started.elapsed().as_secs_f64()
    );
    let _ = child.kill().await;
    run_on(&args, Setup::Nats(2), Some(&urls)).await?;
    drop(cluster);
    Ok(())
}

/// What the cluster itself does, with no relay in front: `senders`
/// publishers, each waiting for its acknowledgement (as each HTTP sender
/// waits for its 201), to an R3 stream with message ids; then the same
/// messages published without waiting between them (the cluster's own
/// ceiling on this machine).
async fn jetstream_ceiling(args: &RelayBenchArgs, urls: &[String]) -> Result<(), BenchError> {
    use async_nats::jetstream::{self, message::PublishMessage, stream};
    let client = async_nats::connect(urls[0].as_str()).await.map_err(err)?;
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "BENCH-CEILING".into(),
        subjects: vec!["bench.ceiling".into()],
        num_replicas: 3,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(err)?;
    let publish = |i: usize| {
        PublishMessage::build()
            .message_id(format!("m{i}"))
            .payload(format!("message {i} from the bench, about as long as the relay's").into())
    };
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..args.senders {
        let js = js.clone();
        let count = args.messages / args.senders;
        senders.spawn(async move {
            for i in 0..count {
                let ack = js
                    .send_publish("bench.ceiling", publish(s * count + i))
                    .await
                    .map_err(|e| e.to_string())?;
                ack.await.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = senders.join_next().await {
        joined.map_err(err)?.map_err(err)?;
    }
    let waited =
        (args.messages / args.senders * args.senders) as f64 / started.elapsed().as_secs_f64();
    // At most this many acknowledgements outstanding: the client holds
    // back past its own in-flight limit until earlier ones are taken.
    const WINDOW: usize = 1_000;
    let started = Instant::now();
    let mut acks = std::collections::VecDeque::with_capacity(WINDOW);
    for i in 0..args.messages {
        if acks.len() == WINDOW {
            if let Some(ack) = acks.pop_front() {
                let ack: async_nats::jetstream::context::PublishAckFuture = ack;
                ack.await.map_err(err)?;
            }
        }
        acks.push_back(
            js.send_publish("bench.ceiling", publish(args.messages + i))
                .await
                .map_err(err)?,
        );
    }
    for ack in acks {
        ack.await.map_err(err)?;
    }
    let pipelined = args.messages as f64 / started.elapsed().as_secs_f64();
    println!(
        "JetStream alone (R3, 3 nodes): {waited:.0} messages/s with {} publishers each waiting for its ack, {pipelined:.0} messages/s pipelined (up to 1 000 unacknowledged)",
        args.senders
    );
    Ok(())
}

/// One `perch relay serve` process; `nats`: the cluster's URLs, and a
/// namespace of its own for this run.
async fn frontend(
    nats: Option<(&[String], &str)>,
) -> Result<(tokio::process::Child, String, tempfile::TempDir), BenchError> {
    let dir = tempfile::tempdir().map_err(err)?;
    let exe = crate::perch_bin()?;
    let mut command = tokio::process::Command::new(exe);
    command.args([
        "--data-dir",
        &dir.path().display().to_string(),
        "relay",
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    if let Some((urls, namespace)) = nats {
        command
            .args(["--nats", &urls.join(","), "--nats-namespace", namespace])
            .env("PERCH_SECRET_STORE", "file");
    }
    let mut child = command
        .env_remove("AGENT_RELAY_TOKEN")
        .env_remove("PERCH_RELAY_NATS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(err)?;
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
    Ok((child, url, dir))
}

async fn run_on(
    args: &RelayBenchArgs,
    setup: Setup,
    cluster: Option<&[String]>,
) -> Result<(), BenchError> {
    let (count, what) = match setup {
        Setup::Sqlite => (1, "SQLite on disk".to_string()),
        Setup::Nats(n) => (
            n,
            format!("{n} frontend(s) on a 3-node NATS JetStream cluster (R3)"),
        ),
    };
    let namespace = format!("bench{count}");
    let mut frontends = Vec::new();
    for i in 0..count {
        // Each frontend connects first to a node of its own.
        let urls: Option<Vec<String>> =
            cluster.map(|c| (0..c.len()).map(|j| c[(i + j) % c.len()].clone()).collect());
        frontends.push(frontend(urls.as_deref().map(|u| (u, namespace.as_str()))).await?);
    }
    let pid = frontends[0]
        .0
        .id()
        .ok_or_else(|| err("the relay exited at once"))?;
    let urls: Vec<String> = frontends.iter().map(|f| f.1.clone()).collect();
    let url = urls[0].clone();
    let http = stdx_http::client_builder()
        .pool_max_idle_per_host(args.senders * 2)
        .build()
        .map_err(err)?;

    println!(
        "relay bench: {} agents with an SSE subscriber each, {} messages from {} concurrent senders, {what}",
        args.agents, args.messages, args.senders
    );
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
            .get(format!(
                "{}/api/events?agentId=agent-{n}",
                urls[(n + 1) % urls.len()]
            ))
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
        // Senders and subscribers are spread over the frontends.
        let (http, url, sent) = (http.clone(), urls[s % urls.len()].clone(), sent.clone());
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
        "relay RSS                    {:.1} MB idle, {:.1} MB under load (first frontend)",
        idle_rss as f64 / 1024.0,
        loaded_rss as f64 / 1024.0
    );
    for (mut child, _, _) in frontends {
        let _ = child.kill().await;
    }
    Ok(())
}
