//! The NATS harness against what the relay will rely on: a 3-node
//! JetStream cluster forms on loopback, an R3 stream is placed on all three
//! nodes, every publish the cluster acknowledged survives a SIGKILL of the
//! stream's leader, exactly once and in order, a re-send under a message id
//! the stream has is recognised as a duplicate, and the killed node comes
//! back healthy (for nats-server: its replica of every stream current).

use async_nats::jetstream::{self, message::PublishMessage, stream};
use futures_util::StreamExt;
use perch_test_support::nats::NatsCluster;
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const MESSAGES: usize = 3_000;
const KILL_AT: usize = 1_000;
/// Hang guard for one election; not a figure.
const ELECTED_WITHIN: Duration = Duration::from_secs(60);

fn numbered(i: usize) -> PublishMessage {
    PublishMessage::build()
        .message_id(format!("m{i}"))
        .payload(i.to_string().into())
}

/// Asks again while JetStream answers 503 "temporarily unavailable"
/// (10008): what a node says while the cluster around it elects or catches
/// up after a kill or a restart, not an answer about the stream (bounded).
async fn settled<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    mut call: impl FnMut() -> F,
) -> Result<T, E> {
    let deadline = tokio::time::Instant::now() + ELECTED_WITHIN;
    loop {
        match call().await {
            Err(err)
                if format!("{err:?}").contains("ErrorCode(10008)")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Waits until a publish through `js`'s node reaches the new stream: the
/// stream's subject interest travels to the other nodes over the routes
/// after `create_stream` returns, and until then the node answers "no
/// responders" ("no stream found"). Message 0 under its id, so a repeat is a
/// duplicate, not a second copy (bounded).
async fn reachable(js: &jetstream::Context) -> TestResult {
    let deadline = tokio::time::Instant::now() + ELECTED_WITHIN;
    loop {
        match js.send_publish("harness.post", numbered(0)).await?.await {
            Err(err)
                if err.kind() == jetstream::context::PublishErrorKind::StreamNotFound
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.map(drop).map_err(Into::into),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_publishes_survive_a_killed_stream_leader() -> TestResult {
    let mut cluster = NatsCluster::start(3).await?;
    let setup = jetstream::new(async_nats::connect(cluster.url(0)).await?);
    let mut stream = setup
        .create_stream(stream::Config {
            name: "HARNESS".into(),
            subjects: vec!["harness.>".into()],
            num_replicas: 3,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await?;
    let info = stream.info().await?;
    let placed = info
        .cluster
        .as_ref()
        .ok_or("the stream has no cluster info")?;
    let leader = placed.leader.clone().ok_or("the stream has no leader")?;
    assert_eq!(
        placed.replicas.len(),
        2,
        "an R3 stream has two followers: {placed:?}"
    );
    let leader = cluster
        .index_of(&leader)
        .ok_or("the leader is not a node")?;
    // Publish through a follower, so the kill does not cut this connection
    // and the advisory of the next election reaches it.
    let follower = (leader + 1) % 3;
    let client = async_nats::connect(cluster.url(follower)).await?;
    let mut elections = client
        .subscribe("$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.HARNESS")
        .await?;
    let js = jetstream::new(client);
    reachable(&js).await?;

    for i in 0..MESSAGES {
        if i == KILL_AT {
            cluster.kill(leader).await?;
            tokio::time::timeout(ELECTED_WITHIN, elections.next())
                .await
                .map_err(|_| format!("no new stream leader within {ELECTED_WITHIN:?}"))?
                .ok_or("the advisory subscription ended")?;
            // The killed node may have led the meta group too: the JetStream
            // API answers 503 until the survivors elect another.
            cluster.wait_meta_leader(follower).await?;
            // Sent before the kill and acknowledged: the new leader knows it.
            let again = js
                .send_publish("harness.post", numbered(KILL_AT - 1))
                .await?
                .await?;
            assert!(
                again.duplicate,
                "message {} stored twice: {again:?}",
                KILL_AT - 1
            );
        }
        js.send_publish("harness.post", numbered(i))
            .await?
            .await
            .map_err(|e| format!("message {i} not acknowledged: {e}"))?;
    }

    let state = settled(|| stream.get_info()).await?.state;
    assert_eq!(state.messages as usize, MESSAGES);
    for seq in 1..=MESSAGES as u64 {
        let message = settled(|| stream.get_raw_message(seq)).await?;
        assert_eq!(
            std::str::from_utf8(&message.payload)?,
            (seq - 1).to_string(),
            "sequence {seq}"
        );
    }

    // Back on its ports and store; `restart` waits for its /healthz.
    cluster.restart(leader).await?;
    assert_eq!(
        settled(|| stream.get_info()).await?.state.messages as usize,
        MESSAGES
    );
    Ok(())
}
