//! Optional vector ranking for memories: an OpenAI-compatible `/embeddings`
//! endpoint, vectors kept in SQLite (`memory_embeddings`) and in the search
//! index, fused with BM25 by reciprocal rank fusion (`memory_index::fuse`).
//!
//! Invariants:
//! - Only with `[memory] embeddings_url` and `embeddings_model` set. Search
//!   never fails for it: an endpoint that errs or takes longer than
//!   `QUERY_TIMEOUT` leaves that search full-text only.
//! - A memory's vector goes when its text or tags change (a trigger) and the
//!   backfill makes a new one; a vector is saved only if the memory is still
//!   as it was embedded.
//! - The provider's API key (Settings) is sent only to an endpoint with the
//!   provider's own origin; a key is never sent anywhere else.

use crate::AgentState;
use perch_runtime::host::{secret_names, BoxFuture};
use perch_runtime::{Error, Result};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A search waits this long for its query's vector, then goes on without.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Memories embedded per request by the backfill.
const BATCH: usize = 32;
/// The backfill tries again this long after an endpoint error.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// A memory's text and tags, cut to what an embedding model takes.
const MAX_INPUT_CHARS: usize = 8000;

/// One call to an OpenAI-compatible `POST {endpoint}` for embeddings.
pub struct EmbeddingsRequest<'a> {
    /// The full URL (`…/embeddings`).
    pub endpoint: &'a str,
    pub model: &'a str,
    /// A bearer token, sent only when Perch decided the endpoint may see it.
    pub key: Option<&'a str>,
    pub inputs: &'a [String],
}

/// Embeddings over the network. An implementation returns one vector per
/// input, in the inputs' order, or says in words what failed (Perch
/// names the endpoint around it).
pub trait EmbeddingsClient: Send + Sync {
    fn embed<'a>(
        &'a self,
        request: EmbeddingsRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, String>>;
}

pub(crate) struct Embedder {
    client: Arc<dyn EmbeddingsClient>,
    endpoint: String,
    pub model: String,
    key: Option<String>,
}

/// `scheme://host:port` of a URL, to compare origins.
fn origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

impl Embedder {
    /// The vectors of `inputs`, in order, each scaled to length 1.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>> {
        let failed = |what: String| {
            Error::Upstream(format!("the embeddings endpoint {}: {what}", self.endpoint))
        };
        let request = EmbeddingsRequest {
            endpoint: &self.endpoint,
            model: &self.model,
            key: self.key.as_deref(),
            inputs,
        };
        let vectors = self.client.embed(request).await.map_err(failed)?;
        if vectors.len() != inputs.len() {
            return Err(failed(format!(
                "{} vectors for {} inputs",
                vectors.len(),
                inputs.len()
            )));
        }
        Ok(vectors.into_iter().map(normalized).collect())
    }
}

pub(crate) fn normalized(mut vector: Vec<f32>) -> Vec<f32> {
    let length = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if length > 0.0 {
        vector.iter_mut().for_each(|x| *x /= length);
    }
    vector
}

/// What a memory's vector is made from.
pub(crate) fn embedding_input(text: &str, tags: &[String]) -> String {
    let input = if tags.is_empty() {
        text.to_string()
    } else {
        format!("{text}\n{}", tags.join(" "))
    };
    input.chars().take(MAX_INPUT_CHARS).collect()
}

impl AgentState {
    /// The configured embeddings endpoint, if any.
    pub(crate) async fn embedder(&self) -> Option<Embedder> {
        let config = self.runtime.config();
        let base = config.memory.embeddings_url.clone()?;
        let model = config.memory.embeddings_model.clone()?;
        let same_origin = config
            .provider
            .as_ref()
            .is_some_and(|p| origin(&p.base_url).is_some() && origin(&p.base_url) == origin(&base));
        let key = if same_origin {
            self.runtime
                .secret(secret_names::PROVIDER_API_KEY)
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        let Some(client) = self.embeddings.clone() else {
            tracing::warn!("embeddings are configured but this host offers no embeddings client; searching by full text");
            return None;
        };
        Some(Embedder {
            client,
            endpoint: format!("{}/embeddings", base.trim_end_matches('/')),
            model,
            key,
        })
    }

    /// The vector of a search's text, when embeddings are configured and
    /// the endpoint answers in time; else none (full-text search only).
    pub(crate) async fn query_vector(&self, text: &str) -> Option<(String, Vec<f32>)> {
        let embedder = self.embedder().await?;
        let input = [text.chars().take(MAX_INPUT_CHARS).collect::<String>()];
        match tokio::time::timeout(QUERY_TIMEOUT, embedder.embed(&input)).await {
            Ok(Ok(mut vectors)) => vectors.pop().map(|v| (embedder.model, v)),
            Ok(Err(err)) => {
                tracing::warn!("searching memories by full text only: {err}");
                None
            }
            Err(_) => {
                tracing::warn!("searching memories by full text only: the embeddings endpoint took over {QUERY_TIMEOUT:?}");
                None
            }
        }
    }

    /// Embeds memories that have no vector for the configured model, a
    /// batch at a time, until none is left.
    async fn backfill_embeddings(&self) -> Result<usize> {
        let Some(embedder) = self.embedder().await else {
            return Ok(0);
        };
        let mut embedded = 0;
        loop {
            let pending = self.memory_db.memories_to_embed(&embedder.model, BATCH)?;
            if pending.is_empty() {
                return Ok(embedded);
            }
            let inputs: Vec<String> = pending.iter().map(|p| p.input.clone()).collect();
            let vectors = embedder.embed(&inputs).await?;
            let saved = pending
                .into_iter()
                .zip(vectors)
                .map(|(p, vector)| (p.id, p.updated_at, vector))
                .collect::<Vec<_>>();
            let ids = self.memory_db.save_embeddings(&embedder.model, &saved)?;
            embedded += ids.len();
            if !ids.is_empty() {
                self.runtime
                    .events()
                    .publish(perch_runtime::model::EventKind::MemoryChanged {
                        action: super::MemoryAction::Embedded,
                        ids,
                    });
            }
        }
    }
}

/// Memory changes and settings changes wake the backfill; after an endpoint
/// error it waits `RETRY_AFTER` (or the next wake).
pub(crate) fn spawn_backfill(
    agent: Weak<AgentState>,
    wake: Arc<tokio::sync::Notify>,
    mut settings: tokio::sync::watch::Receiver<perch_runtime::Config>,
) {
    tokio::spawn(async move {
        let mut retry: Option<Duration> = None;
        loop {
            // A new endpoint or model: embed what has no vector for it.
            let woken = async {
                tokio::select! {
                    _ = wake.notified() => true,
                    changed = settings.changed() => changed.is_ok(),
                }
            };
            let go_on = match retry {
                Some(delay) => tokio::time::timeout(delay, woken).await.unwrap_or(true),
                None => woken.await,
            };
            let Some(agent) = agent.upgrade().filter(|_| go_on) else {
                return;
            };
            retry = match agent.backfill_embeddings().await {
                Ok(0) => None,
                Ok(count) => {
                    tracing::info!("embedded {count} memories");
                    None
                }
                Err(err) => {
                    tracing::warn!("embedding memories: {err}; trying again in {RETRY_AFTER:?}");
                    Some(RETRY_AFTER)
                }
            };
        }
    });
}
