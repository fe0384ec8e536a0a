//! Model servers asked by Perch itself before Codex is pointed at them: an
//! OpenAI API key is checked with OpenAI before Codex stores it, and an
//! OpenAI-compatible server (Ollama, vLLM) is tried before it becomes the
//! provider. A wrong key or a server that is not there is said at once and
//! nothing is stored, instead of every turn failing later. Both list the
//! models (`GET {base}/models`), which every such server answers.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::time::Duration;

/// Where Codex's built-in OpenAI provider goes unless `OPENAI_BASE_URL` says.
const OPENAI_API: &str = "https://api.openai.com/v1";
const MAX_MODELS: usize = 200;

/// Why a listing failed.
enum Failure {
    /// 401 or 403, with what the server said.
    Refused(u16, String),
    /// Not reached, or an answer that is not a listing.
    Unreachable(String),
}

async fn list_models(base: &str, key: Option<&str>) -> Result<Vec<String>, Failure> {
    let url = format!("{}/models", base.trim_end_matches('/'));
    let client = stdx_http::client_builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut request = client.get(&url);
    if let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Unreachable(format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if matches!(status, 401 | 403) {
        let said: String = body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        return Err(Failure::Refused(status, said));
    }
    let Some(data) = body["data"].as_array().filter(|_| status < 300) else {
        return Err(Failure::Unreachable(format!(
            "{url} answered HTTP {status}, not a model listing"
        )));
    };
    Ok(data
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .take(MAX_MODELS)
        .collect())
}

/// `Ok` when OpenAI (or `OPENAI_BASE_URL`) accepts `key`.
pub async fn check_openai_key(base_url: Option<&str>, key: &str) -> Result<(), ApiError> {
    match list_models(base_url.unwrap_or(OPENAI_API), Some(key)).await {
        Ok(_) => Ok(()),
        Err(Failure::Refused(status, said)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "api_key_refused",
            format!(
                "OpenAI refused this API key (HTTP {status}{}{said}); nothing was stored. Check the key and paste it again.",
                if said.is_empty() { "" } else { ": " }
            ),
        )),
        Err(Failure::Unreachable(why)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "api_key_unchecked",
            format!("Perch could not check the key with OpenAI ({why}); nothing was stored. Check the network, then try again."),
        )),
    }
}

/// The models an OpenAI-compatible server lists, or why it could not be used.
pub async fn check_server(base_url: &str, key: Option<&str>) -> Result<Vec<String>, ApiError> {
    let parsed = url::Url::parse(base_url.trim()).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host().is_some() && base_url.len() <= 2048
    });
    if parsed.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!(
                "{base_url:?} is not an http(s) address; it looks like http://127.0.0.1:11434/v1"
            ),
        ));
    }
    list_models(base_url.trim(), key).await.map_err(|failure| match failure {
        Failure::Refused(status, said) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_refused",
            format!(
                "{base_url} refused the request (HTTP {status}{}{said}): it wants an API key, or another one.",
                if said.is_empty() { "" } else { ": " }
            ),
        ),
        Failure::Unreachable(why) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_unreachable",
            format!("Perch could not use {base_url} as a model server ({why}). Check that the server runs at that address; the address usually ends in /v1."),
        ),
    })
}
