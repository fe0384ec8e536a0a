//! The agent's embeddings client over HTTP: an OpenAI-compatible
//! `POST …/embeddings`. The engine decides which endpoint, model and key;
//! this only carries the request.

use perch_agent::{EmbeddingsClient, EmbeddingsRequest};
use perch_runtime::host::BoxFuture;
use serde::Deserialize;
use std::time::Duration;

#[derive(Default)]
pub struct HttpEmbeddings {
    /// Built on the first call: building a client loads the system's TLS
    /// roots (tens of ms, MBs), and most people configure no embeddings.
    http: std::sync::OnceLock<reqwest::Client>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

impl HttpEmbeddings {
    /// One client for every call.
    fn http(&self) -> Result<&reqwest::Client, String> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = stdx_http::client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("no HTTP client for embeddings: {e}"))?;
        Ok(self.http.get_or_init(|| http))
    }
}

impl EmbeddingsClient for HttpEmbeddings {
    fn embed<'a>(
        &'a self,
        request: EmbeddingsRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, String>> {
        Box::pin(async move {
            let mut call = self
                .http()?
                .post(request.endpoint)
                .json(&serde_json::json!({ "model": request.model, "input": request.inputs }));
            if let Some(key) = request.key {
                call = call.bearer_auth(key);
            }
            let response = call.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            if !status.is_success() {
                let body = response
                    .text()
                    .await
                    .unwrap_or_else(|e| format!("(the body could not be read: {e})"));
                return Err(format!("{status}: {}", stdx::ellipsize(&body, 300)));
            }
            let mut parsed: EmbeddingsResponse = response
                .json()
                .await
                .map_err(|e| format!("not an embeddings response ({e})"))?;
            parsed.data.sort_by_key(|item| item.index);
            Ok(parsed.data.into_iter().map(|item| item.embedding).collect())
        })
    }
}
