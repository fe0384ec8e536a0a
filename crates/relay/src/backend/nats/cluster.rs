//! The connection to the cluster and the two loops every frontend runs on
//! it besides its view: events from other frontends, and callbacks.

use super::cas::{modify, Bucket, Step};
use super::records::*;
use super::{CallbackClient, NatsOptions};
use crate::error::{RelayError, Result};
use crate::events::EventBus;
use async_nats::jetstream::{self, stream};
use perch_relay_protocol::{Callback, RelayEvent};
use std::sync::Arc;
use std::time::Duration;
use stdx::now_ms;

/// How long an operation on the cluster is retried: a node going down
/// leaves its streams without a leader for the seconds an election takes.
pub(super) const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `attempt` until it succeeds, fails for good (`settled`), or
/// [`PATIENCE`] ran out; then the last error is the answer.
pub(super) async fn patiently<T, E, F>(
    mut attempt: impl FnMut() -> F,
    settled: impl Fn(&E) -> bool,
) -> std::result::Result<T, E>
where
    F: std::future::Future<Output = std::result::Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut pause = Duration::from_millis(20);
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(err) if settled(&err) || tokio::time::Instant::now() + pause >= deadline => {
                return Err(err)
            }
            Err(err) => {
                tracing::debug!("relay: the cluster did not answer ({err}); trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

pub(super) fn callback_record(
    id: i64,
    job: &CallbackJobRecord,
    status: &str,
    attempts: i64,
    error: Option<String>,
) -> Callback {
    Callback {
        id,
        task_id: job.task,
        integration: job.integration.clone(),
        url: job.url.clone(),
        event: job.event.clone(),
        payload: job.payload.clone(),
        status: status.into(),
        attempts,
        delivered_at: (status == "delivered").then(now_ms),
        last_error: error,
        created_at: job.created_at,
    }
}

pub(super) async fn connect_client(options: &NatsOptions) -> Result<async_nats::Client> {
    if options.urls.is_empty() {
        return Err(RelayError::Invalid(
            "no NATS server given (--nats nats://host:4222)".into(),
        ));
    }
    let mut connect = async_nats::ConnectOptions::new()
        .name("perch-relay")
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            tracing::info!("relay: NATS connection: {event}");
        });
    if let Some(creds) = &options.credentials {
        connect = connect.credentials(creds).map_err(|e| {
            RelayError::Invalid(format!("the NATS credentials are not a .creds file: {e}"))
        })?;
    }
    if let Some(ca) = &options.ca_file {
        connect = connect.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &options.client_cert {
        connect = connect.add_client_certificate(cert.clone(), key.clone());
    }
    let mut addrs = Vec::new();
    for url in &options.urls {
        addrs.push(url.parse::<async_nats::ServerAddr>().map_err(|e| {
            RelayError::Invalid(format!(
                "NATS server {url:?} is not a URL like nats://host:4222: {e}"
            ))
        })?);
    }
    connect.connect(addrs).await.map_err(|e| {
        RelayError::Unavailable(format!(
            "connecting to NATS at {}: {e}; is the cluster running and reachable? (docs/relay.md)",
            options.urls.join(", ")
        ))
    })
}

/// Events other frontends published, to this frontend's subscribers.
pub(super) async fn forward_events(
    client: async_nats::Client,
    subject: String,
    bus: Arc<EventBus>,
) {
    use futures_util::StreamExt;
    let mut events = match client.subscribe(subject).await {
        Ok(events) => events,
        Err(err) => {
            tracing::error!("relay: subscribing to the cluster's events failed: {err}");
            return;
        }
    };
    while let Some(message) = events.next().await {
        let Some(kind) = message.headers.as_ref().and_then(|h| h.get(EVENT_HEADER)) else {
            continue;
        };
        let data = String::from_utf8_lossy(&message.payload);
        match RelayEvent::parse(kind.as_str(), &data) {
            Ok(Some(event)) => bus.publish(event),
            Ok(None) => {}
            Err(err) => tracing::warn!("relay: an unreadable {kind} event: {err}"),
        }
    }
}

/// Takes callbacks off the work queue (shared by every frontend, so each
/// goes to exactly one), acknowledges each before it POSTs it (at most once,
/// as the embedded relay does) and records the outcome.
pub(super) async fn deliver_callbacks(queue: stream::Stream, name: String, state: Bucket) {
    use futures_util::StreamExt;
    let config = jetstream::consumer::pull::Config {
        durable_name: Some(name.clone()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    // A frontend that starts while the cluster elects keeps trying.
    let mut jobs = loop {
        let opened = match queue.get_or_create_consumer(&name, config.clone()).await {
            Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match opened {
            Ok(jobs) => break jobs,
            Err(err) => {
                tracing::warn!("relay: opening the callback queue failed ({err}); trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let client = CallbackClient::default();
    while let Some(job) = jobs.next().await {
        let Ok(job) = job else { continue };
        let Ok(info) = job.info() else { continue };
        let seq = info.stream_sequence;
        if job.double_ack().await.is_err() {
            continue; // another frontend has it (or will)
        }
        let record: CallbackJobRecord = match serde_json::from_slice(&job.payload) {
            Ok(record) => record,
            Err(err) => {
                tracing::error!("relay: callback {seq} is unreadable: {err}");
                continue;
            }
        };
        let error = client.deliver(&record.url, &record.payload).await;
        let status = if error.is_none() {
            "delivered"
        } else {
            "failed"
        };
        let outcome = callback_record(
            i64::try_from(seq).unwrap_or(i64::MAX),
            &record,
            status,
            1,
            error,
        );
        let key = format!("callback.{}.{seq}", record.task);
        if let Err(err) = modify(&state, &key, |_: Option<Callback>| {
            Ok(Step::Put(outcome.clone(), ()))
        })
        .await
        {
            tracing::error!("relay: recording callback {seq}'s outcome failed: {err}");
        }
    }
}
