//! The relay on a 3-node NATS cluster, each frontend its own `perch relay
//! serve --nats` process: what a team relies on when a machine goes down.
//! A NATS node killed mid-flood, a frontend killed under its subscribers, a
//! rolling restart of every node, and a message posted on one frontend
//! pushed by another. (The contract, claim-race and key suites run on the
//! cluster too, with `PERCH_RELAY_TEST_BACKEND=nats`.)

mod common;

use common::{Relay, TestResult};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use perch_relay::RelaySettings;
use perch_test_support::nats::NatsCluster;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

/// Hang guard for waits on the cluster (an election, a backlog); not a figure.
const WITHIN: Duration = Duration::from_secs(120);

async fn cluster_relay() -> Result<Relay, Box<dyn std::error::Error>> {
    let cluster = NatsCluster::start(3).await?;
    Relay::on_cluster(cluster, 2, RelaySettings::default()).await
}

/// The `message.new` events (id, body) a subscriber of `agent` receives on
/// `base`, and whether the stream told it to resync.
struct Subscriber {
    received: Arc<std::sync::Mutex<Vec<(i64, String)>>>,
    resynced: Arc<AtomicBool>,
    count: tokio::sync::watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    async fn start(base: &str, agent: &str) -> Result<Self, Error> {
        let http = stdx_http::client_builder().build()?;
        let response = http
            .get(format!("{base}/api/events?agentId={agent}"))
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), 200);
        let mut events = response.bytes_stream().eventsource();
        let ready = events.next().await.ok_or("the stream ended")??;
        assert_eq!(ready.event, "ready");
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let resynced = Arc::new(AtomicBool::new(false));
        let (count, watch) = tokio::sync::watch::channel(0);
        let (sink, flag) = (received.clone(), resynced.clone());
        let task = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                match event.event.as_str() {
                    "message.new" => {
                        let Ok(message) = serde_json::from_str::<Value>(&event.data) else {
                            continue;
                        };
                        let entry = (
                            message["id"].as_i64().unwrap_or_default(),
                            message["body"].as_str().unwrap_or_default().to_string(),
                        );
                        let n = {
                            let mut sink = sink
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            sink.push(entry);
                            sink.len()
                        };
                        count.send_replace(n);
                    }
                    "resync" => flag.store(true, Ordering::Relaxed),
                    _ => {}
                }
            }
        });
        Ok(Self {
            received,
            resynced,
            count: watch,
            task,
        })
    }

    /// Waits until it has received `n` events.
    async fn wait_for(&mut self, n: usize) -> Result<(), Error> {
        tokio::time::timeout(WITHIN, self.count.wait_for(|c| *c >= n))
            .await
            .map_err(|_| format!("{n} events did not arrive within {WITHIN:?}"))??;
        Ok(())
    }

    fn received(&self) -> Vec<(i64, String)> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every message for `agent` after `since`, paged.
async fn backfill(r: &Relay, agent: &str, since: i64) -> Result<Vec<(i64, String)>, Error> {
    let mut all = Vec::new();
    let mut cursor = since;
    loop {
        let (status, page) = r
            .call(
                "GET",
                &format!("/api/messages?for={agent}&sinceId={cursor}&limit=1000"),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(status, 200, "{page}");
        let page: Vec<(i64, String)> = page
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["id"].as_i64().unwrap_or_default(),
                    m["body"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let Some(last) = page.last() else {
            return Ok(all);
        };
        cursor = last.0;
        all.extend(page);
    }
}

/// The node that leads the relay's message stream.
async fn message_leader(r: &Relay) -> Result<usize, Error> {
    let nodes = r
        .nats_urls(0)
        .iter()
        .map(|url| url.parse())
        .collect::<Result<Vec<async_nats::ServerAddr>, _>>()?;
    let js = async_nats::jetstream::new(async_nats::connect(nodes).await?);
    let mut stream = js.get_stream("perch-relay-messages").await?;
    let info = stream.info().await?;
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .ok_or("the stream has no leader")?;
    let cluster = r.cluster().await.map_err(|e| e.to_string())?;
    Ok(cluster.index_of(&leader).ok_or("the leader is no node")?)
}

/// Every message was received exactly once, and each sender's in the order
/// it sent them (bodies are `<sender>-<n>`).
fn assert_exactly_once_in_order(acked: &HashMap<i64, String>, received: &[(i64, String)]) {
    let mut seen = HashSet::new();
    for (id, _) in received {
        assert!(seen.insert(*id), "message {id} arrived twice");
    }
    let missing: Vec<&i64> = acked.keys().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never arrived: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let mut by_id: Vec<&(i64, String)> = received.iter().collect();
    by_id.sort_by_key(|(id, _)| *id);
    let mut last: HashMap<&str, u64> = HashMap::new();
    for (id, body) in by_id {
        assert_eq!(acked.get(id), Some(body), "message {id} changed");
        let (sender, n) = body.rsplit_once('-').unwrap_or_default();
        let n: u64 = n.parse().unwrap_or_default();
        if let Some(previous) = last.insert(sender, n) {
            assert!(n > previous, "{sender}'s {n} came after its {previous}");
        }
    }
}

const SENDERS: usize = 4;
const PER_SENDER: usize = 2_500;
const KILL_AFTER: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_ten_thousand_messages_are_posted_loses_and_doubles_none() -> TestResult
{
    let r = cluster_relay().await?;
    r.register("sink", json!({})).await?;
    let mut subscriber = Subscriber::start(&r.base_url(), "sink").await?;
    let r = Arc::new(r);
    let posted = Arc::new(AtomicUsize::new(0));
    let kill_now = Arc::new(tokio::sync::Notify::new());
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..SENDERS {
        let (r, posted, kill_now) = (r.clone(), posted.clone(), kill_now.clone());
        senders.spawn(async move {
            let mut acked = Vec::with_capacity(PER_SENDER);
            for n in 0..PER_SENDER {
                let body = format!("s{s}-{n}");
                let (status, message) = r
                    .call(
                        "POST",
                        "/api/messages",
                        Some(json!({"from": format!("s{s}"), "to": "sink", "body": body})),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if status != 201 {
                    return Err(format!("{body}: {status} {message}"));
                }
                acked.push((message["id"].as_i64().unwrap_or_default(), body));
                if posted.fetch_add(1, Ordering::Relaxed) + 1 == KILL_AFTER {
                    kill_now.notify_one();
                }
            }
            Ok::<_, String>(acked)
        });
    }
    kill_now.notified().await;
    let leader = message_leader(&r).await?;
    r.cluster().await?.kill(leader).await?;
    let mut acked = HashMap::new();
    while let Some(joined) = senders.join_next().await {
        for (id, body) in joined?? {
            assert!(
                acked.insert(id, body).is_none(),
                "id {id} acknowledged twice"
            );
        }
    }
    assert_eq!(acked.len(), SENDERS * PER_SENDER);
    let received = if subscriber.resynced.load(Ordering::Relaxed) {
        backfill(&r, "sink", 0).await?
    } else {
        subscriber.wait_for(acked.len()).await?;
        subscriber.received()
    };
    assert_exactly_once_in_order(&acked, &received);
    let stats = r.ok("GET", "/api/stats", None).await?;
    assert_eq!(
        stats["messages"]["total"].as_u64(),
        Some((SENDERS * PER_SENDER) as u64),
        "the stream holds each message once"
    );
    Ok(())
}

/// A subscriber on one frontend sees what is posted on the other; when its
/// frontend is killed (SIGKILL), it reconnects to the other one and
/// backfills from its cursor: nothing lost, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_frontends_subscribers_resume_on_another_from_their_cursor() -> TestResult {
    let mut r = cluster_relay().await?;
    r.register("reader", json!({})).await?;
    let (first, second) = (r.frontends()[0].url(), r.frontends()[1].url());
    let http = r.http.clone();
    let post = |n: usize| {
        let http = http.clone();
        let url = format!("{second}/api/messages");
        async move {
            let message: Value = http
                .post(url)
                .json(&json!({"from": "writer", "to": "reader", "body": format!("writer-{n}")}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, Error>((
                message["id"].as_i64().unwrap_or_default(),
                format!("writer-{n}"),
            ))
        }
    };
    let mut acked = HashMap::new();
    let mut subscriber = Subscriber::start(&first, "reader").await?;
    for n in 0..5 {
        let (id, body) = post(n).await?;
        acked.insert(id, body);
    }
    subscriber.wait_for(5).await?;
    let mut received = subscriber.received();
    let cursor = received.iter().map(|(id, _)| *id).max().unwrap_or_default();

    let killed = r.frontends().remove(0);
    killed.kill().await?;
    drop(subscriber);
    for n in 5..10 {
        let (id, body) = post(n).await?;
        acked.insert(id, body);
    }
    // Reconnect to the other frontend: the stream first, then the backfill
    // from the cursor (what came in between is on the stream, below the
    // backfill's end or after it, never in neither).
    let mut resumed = Subscriber::start(&second, "reader").await?;
    let missed = backfill(&r, "reader", cursor).await?;
    assert_eq!(missed.len(), 5, "{missed:?}");
    received.extend(missed);
    let (id, body) = post(10).await?;
    acked.insert(id, body);
    resumed.wait_for(1).await?;
    received.extend(resumed.received());
    assert_exactly_once_in_order(&acked, &received);
    assert_eq!(received.len(), acked.len());
    Ok(())
}

/// Every node restarted in turn while a writer posts and a worker claims:
/// the relay keeps answering, and every acknowledged message is there once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_node_keeps_every_message_once() -> TestResult {
    let r = Arc::new(cluster_relay().await?);
    r.register("worker", json!({})).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (r, stop) = (r.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = HashMap::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = format!("writer-{n}");
                let (status, message) = r
                    .call("POST", "/api/messages", Some(json!({"from": "writer", "to": "worker", "body": body, "claimable": true})))
                    .await
                    .map_err(|e| e.to_string())?;
                if status != 201 {
                    return Err(format!("{body}: {status} {message}"));
                }
                acked.insert(message["id"].as_i64().unwrap_or_default(), body);
                n += 1;
            }
            Ok::<_, String>(acked)
        })
    };
    for node in 0..3 {
        r.cluster().await?.restart(node).await?;
    }
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await??;
    assert!(!acked.is_empty());
    let stored = backfill(&r, "worker", 0).await?;
    assert_exactly_once_in_order(&acked, &stored);
    assert_eq!(stored.len(), acked.len());
    // Claims still have exactly one winner.
    let last = acked.keys().max().copied().unwrap_or_default();
    let first = r
        .call(
            "POST",
            &format!("/api/messages/{last}/claim"),
            Some(json!({"agentId": "worker"})),
        )
        .await?;
    r.register("rival", json!({})).await?;
    let second = r
        .call(
            "POST",
            &format!("/api/messages/{last}/claim"),
            Some(json!({"agentId": "rival"})),
        )
        .await?;
    assert_eq!((first.0, second.0), (200, 409), "{first:?} {second:?}");
    Ok(())
}

/// A cluster that serves clients over TLS only: a frontend with the
/// cluster's CA (`--nats-ca`) serves; without it, connecting fails and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_reaches_a_tls_only_cluster_with_its_ca() -> TestResult {
    let cluster = NatsCluster::start_tls(1).await?;
    let mut untrusted = perch_relay::NatsOptions::new(vec![cluster.url(0)]);
    untrusted.replicas = 1;
    let refused = perch_relay::Relay::connect(&untrusted, RelaySettings::default())
        .await
        .err()
        .ok_or("a frontend without the CA connected")?;
    assert!(
        refused.to_string().contains("connecting to NATS at tls://"),
        "{refused}"
    );
    let r = Relay::on_cluster(cluster, 1, RelaySettings::default()).await?;
    r.register("reader", json!({})).await?;
    let sent = r.send("writer", "reader", "over TLS").await?;
    let inbox = r.ok("GET", "/api/messages?for=reader", None).await?;
    assert_eq!(inbox[0]["id"], sent["id"]);
    assert_eq!(inbox[0]["body"], "over TLS");
    Ok(())
}
