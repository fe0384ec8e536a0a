//! Compare-and-set on KV keys: every change that must not race reads the
//! key from its stream's leader, decides, and writes only if the key is
//! still at the revision it read (`Nats-Expected-Last-Subject-Sequence`).

use super::cluster::patiently;
use super::view::unavailable;
use crate::error::{RelayError, Result};
use async_nats::jetstream::{self, context::PublishErrorKind, kv, message::PublishMessage, stream};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// How many times a compare-and-set is retried against concurrent writers.
const CAS_ATTEMPTS: usize = 64;

/// The bucket `config` names, created if it is not there. A cluster too
/// busy to answer in time is asked again (see [`patiently`]).
pub(super) async fn key_value(
    js: &jetstream::Context,
    config: kv::Config,
) -> std::result::Result<Bucket, jetstream::context::CreateKeyValueError> {
    let kv = patiently(
        || async {
            match js.get_key_value(config.bucket.clone()).await {
                Ok(store) => Ok(store),
                Err(_) => js.create_key_value(config.clone()).await,
            }
        },
        |e| e.kind() != jetstream::context::CreateKeyValueErrorKind::TimedOut,
    )
    .await?;
    Ok(Bucket { kv, js: js.clone() })
}

/// The stream `config` names, created if it is not there; asked again
/// while the cluster is too busy (or electing) to answer.
pub(super) async fn stream_named(
    js: &jetstream::Context,
    config: stream::Config,
) -> std::result::Result<stream::Stream, jetstream::context::CreateStreamError> {
    use jetstream::context::CreateStreamErrorKind::{JetStreamUnavailable, TimedOut};
    patiently(
        || js.get_or_create_stream(config.clone()),
        |e| !matches!(e.kind(), TimedOut | JetStreamUnavailable),
    )
    .await
}

/// A KV bucket, and the context its compare-and-set writes go through.
#[derive(Clone)]
pub(super) struct Bucket {
    pub kv: kv::Store,
    pub js: jetstream::Context,
}

/// What a [`modify`] decides, given the current value.
pub(super) enum Step<T, R> {
    Put(T, R),
    Remove(R),
    Keep(R),
}

/// A key's value (`None`: never written, or deleted) and its revision (0:
/// never written).
pub(super) struct Versioned<T> {
    pub value: Option<T>,
    pub revision: u64,
}

/// Reads `key` from the bucket's stream leader.
pub(super) async fn read<T: DeserializeOwned>(bucket: &Bucket, key: &str) -> Result<Versioned<T>> {
    let subject = format!("{}{key}", bucket.kv.prefix);
    let not_found = |err: &stream::LastRawMessageError| {
        err.kind() == stream::LastRawMessageErrorKind::NoMessageFound
    };
    match patiently(
        || bucket.kv.stream.get_last_raw_message_by_subject(&subject),
        not_found,
    )
    .await
    {
        Ok(message) => {
            let removed = message
                .headers
                .get("KV-Operation")
                .is_some_and(|op| op.as_str() != "PUT");
            let value = if removed {
                None
            } else {
                Some(serde_json::from_slice::<T>(&message.payload).map_err(|e| {
                    RelayError::Internal(format!("{key} in the cluster is unreadable: {e}"))
                })?)
            };
            Ok(Versioned {
                value,
                revision: message.sequence,
            })
        }
        Err(err) if err.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            Ok(Versioned {
                value: None,
                revision: 0,
            })
        }
        Err(err) => Err(unavailable(&format!("reading {key}"), err)),
    }
}

/// Writes `value` if `key` is still at `revision`; `None` if it moved on.
pub(super) async fn write<T: Serialize>(
    bucket: &Bucket,
    key: &str,
    value: &T,
    revision: u64,
) -> Result<Option<u64>> {
    let payload = serde_json::to_vec(value)
        .map_err(|e| RelayError::Internal(format!("encoding {key}: {e}")))?;
    let message = PublishMessage::build()
        .payload(payload.into())
        .expected_last_subject_sequence(revision);
    cas_publish(bucket, key, message).await
}

async fn cas_publish(bucket: &Bucket, key: &str, message: PublishMessage) -> Result<Option<u64>> {
    let subject = format!("{}{key}", bucket.kv.prefix);
    // A retry after a lost acknowledgement finds the key moved on (by this
    // very write): the caller reads again and decides again.
    let acked = patiently(
        || async {
            match bucket
                .js
                .send_publish(subject.clone(), message.clone())
                .await
            {
                Ok(ack) => ack.await,
                Err(err) => Err(err),
            }
        },
        moved_on,
    )
    .await;
    match acked {
        Ok(ack) => Ok(Some(ack.sequence)),
        Err(err) if moved_on(&err) => Ok(None),
        Err(err) => Err(unavailable(&format!("writing {key}"), err)),
    }
}

/// Whether a compare-and-set lost to another writer. nats-server answers
/// 10164 (not the 10071 async-nats maps) when the subject's sequence moved.
fn moved_on(err: &jetstream::context::PublishError) -> bool {
    use jetstream::ErrorCode;
    err.kind() == PublishErrorKind::WrongLastSequence
        || std::error::Error::source(err)
            .and_then(|source| source.downcast_ref::<jetstream::Error>())
            .is_some_and(|e| {
                matches!(
                    e.error_code(),
                    ErrorCode::STREAM_WRONG_LAST_SEQUENCE
                        | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
                )
            })
}

/// Reads `key`, lets `decide` choose, and writes (or deletes) only if the
/// key did not change in between; retried against concurrent writers.
pub(super) async fn modify<T, R>(
    bucket: &Bucket,
    key: &str,
    mut decide: impl FnMut(Option<T>) -> Result<Step<T, R>>,
) -> Result<R>
where
    T: Serialize + DeserializeOwned,
{
    for attempt in 0..CAS_ATTEMPTS {
        let current = read::<T>(bucket, key).await?;
        let revision = current.revision;
        let done = match decide(current.value)? {
            Step::Keep(result) => return Ok(result),
            Step::Put(value, result) => write(bucket, key, &value, revision).await?.map(|_| result),
            Step::Remove(result) => {
                let message = PublishMessage::build()
                    .header("KV-Operation", "DEL")
                    .expected_last_subject_sequence(revision);
                cas_publish(bucket, key, message).await?.map(|_| result)
            }
        };
        if let Some(result) = done {
            return Ok(result);
        }
        // Someone else wrote in between: read again, after a pause that
        // grows with the contention.
        let pause = 1 + u64::try_from(attempt).unwrap_or(0) * 2;
        tokio::time::sleep(Duration::from_millis(pause.min(50))).await;
    }
    Err(RelayError::Unavailable(format!(
        "{key} changed {CAS_ATTEMPTS} times while this frontend tried to change it; retry"
    )))
}
