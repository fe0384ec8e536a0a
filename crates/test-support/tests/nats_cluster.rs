//! The NATS harness against what the relay will rely on: a 3-node
//! JetStream cluster forms on loopback, an R3 stream is placed on all three
//! nodes, and every publish the cluster acknowledged survives a SIGKILL of
//! the stream's leader mid-run, exactly once and in order, when the
//! publisher re-sends what was not acknowledged under the same message id.

use async_nats::jetstream::{self, message::PublishMessage, stream};
use perch_test_support::nats::NatsCluster;
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const MESSAGES: usize = 3_000;
const KILL_AT: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_publishes_survive_a_killed_stream_leader() -> TestResult {
    let mut cluster = NatsCluster::start(3).await?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(cluster.urls().split(',').collect::<Vec<_>>().as_slice())
        .await?;
    let js = jetstream::new(client);
    let mut stream = js
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

    let mut resent = 0usize;
    for i in 0..MESSAGES {
        if i == KILL_AT {
            let node = cluster
                .index_of(&leader)
                .ok_or("the leader is not a node")?;
            cluster.kill(node).await?;
        }
        // What the relay does: re-send under the same id until acknowledged;
        // JetStream's duplicate window makes that exactly once.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let publish = PublishMessage::build()
                .message_id(format!("m{i}"))
                .payload(i.to_string().into());
            let acked = async { js.send_publish("harness.post", publish).await?.await }.await;
            match acked {
                Ok(_) => break,
                Err(err) if tokio::time::Instant::now() < deadline => {
                    // Until a new leader is elected.
                    if resent == 0 {
                        eprintln!("message {i} not acknowledged ({err}); sending it again");
                    }
                    resent += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => return Err(format!("message {i} never acknowledged: {err}").into()),
            }
        }
    }

    eprintln!("{resent} re-sends while the leader was gone");
    let state = stream.info().await?.state.clone();
    assert_eq!(state.messages as usize, MESSAGES, "resent {resent} times");
    for seq in 1..=MESSAGES as u64 {
        let message = stream.get_raw_message(seq).await?;
        assert_eq!(
            std::str::from_utf8(&message.payload)?,
            (seq - 1).to_string(),
            "sequence {seq}"
        );
    }

    // The killed node comes back on its store and catches up: all three
    // replicas current again.
    let node = cluster
        .index_of(&leader)
        .ok_or("the leader is not a node")?;
    cluster.restart(node).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let info = stream.info().await?;
        let placed = info
            .cluster
            .as_ref()
            .ok_or("the stream has no cluster info")?;
        if placed.replicas.len() == 2 && placed.replicas.iter().all(|r| r.current) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the restarted node never caught up: {placed:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
