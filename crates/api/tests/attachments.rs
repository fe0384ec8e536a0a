//! Attachments and mentions: an image kept with `POST /api/attachments`
//! reaches the model as an image input of the message it went with (and
//! stays in the history); bad uploads are refused in words and keep
//! nothing; `GET /api/sessions/{id}/files` finds the folder's files for `@`.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use serde_json::{json, Value};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn upload(
    h: &Harness,
    mime: &str,
    body: Vec<u8>,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let response = h
        .http
        .post(h.url("/api/attachments"))
        .bearer_auth(&h.token)
        .header("content-type", mime)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn kept(h: &Harness) -> usize {
    std::fs::read_dir(h.env.data().join("attachments")).map_or(0, Iterator::count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_image_reaches_the_model_and_stays_in_the_history() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let session = h.new_session().await?;

    // Bad uploads: refused in words, nothing kept.
    let mut big = PNG.to_vec();
    big.resize(20 * 1024 * 1024 + 1, 0);
    for (mime, body, status, words) in [
        ("image/png", big, 413, "20 MB"),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            415,
            "only PNG, JPEG, GIF and WebP",
        ),
        (
            "image/jpeg",
            PNG.to_vec(),
            415,
            "declared as \"image/jpeg\" but is image/png",
        ),
        ("image/png", Vec::new(), 422, "empty"),
    ] {
        let (code, answer) = upload(&h, mime, body).await?;
        assert_eq!(code, status, "{mime}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{mime}: {message}");
    }
    assert_eq!(kept(&h), 0);

    let (code, image) = upload(&h, "image/png", PNG.to_vec()).await?;
    assert_eq!(code, 201, "{image}");
    assert_eq!(
        (image["mime"].as_str(), image["size"].as_u64()),
        (Some("image/png"), Some(PNG.len() as u64))
    );
    let id = image["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 32);
    // The same image again is the same attachment.
    let (_, again) = upload(&h, "image/png", PNG.to_vec()).await?;
    assert_eq!(again["id"], id.as_str());
    let served = h
        .http
        .get(h.url(&format!("/api/attachments/{id}")))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await?.as_ref(), PNG);
    for bad in [
        "not-an-id",
        "0123456789abcdef0123456789abcdef",
        "..%2F..%2Fperch.db",
    ] {
        let answer = h
            .http
            .get(h.url(&format!("/api/attachments/{bad}")))
            .bearer_auth(&h.token)
            .send()
            .await?;
        assert_eq!(answer.status().as_u16(), 404, "{bad}");
    }
    let unauthorized = h
        .http
        .post(h.url("/api/attachments"))
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await?;
    assert_eq!(unauthorized.status().as_u16(), 401);

    // A message with an unknown attachment, or too many, is refused whole.
    let messages = format!("/api/sessions/{session}/messages");
    let (code, answer) = h
        .post(
            &messages,
            json!({"text": "see", "attachments": ["0123456789abcdef0123456789abcdef"]}),
        )
        .await?;
    assert_eq!(code, 422, "{answer}");
    let (code, answer) = h
        .post(
            &messages,
            json!({"text": "see", "attachments": vec![id.clone(); 11]}),
        )
        .await?;
    assert_eq!(code, 422, "{answer}");
    assert!(h.model.requests().is_empty());

    let mut events = h.events(None).await?;
    h.model.enqueue(Script::text("A single pixel."));
    let (code, sent) = h
        .post(
            &messages,
            json!({"text": "What is in this picture?", "attachments": [id]}),
        )
        .await?;
    assert_eq!(code, 202, "{sent}");
    events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;
    let request = h.model.requests().pop().ok_or("no model request")?;
    let images: Vec<&Value> = request.body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["role"] == "user")
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter(|part| part["type"] == "input_image")
        .collect();
    assert_eq!(images.len(), 1, "{}", request.body);
    assert!(
        images[0]["image_url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("data:image/png;base64,"),
        "{}",
        images[0]
    );
    assert!(request.input_text().contains("What is in this picture?"));

    // An image alone is a message too.
    h.model.enqueue(Script::text("Still a pixel."));
    let (code, sent) = h
        .post(&messages, json!({"text": "", "attachments": [image["id"]]}))
        .await?;
    assert_eq!(code, 202, "{sent}");
    events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;

    let history = h.get(&format!("/api/sessions/{session}/history")).await?;
    let content = &history["data"][0]["items"][0]["content"];
    let path = content
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "localImage")
        .and_then(|c| c["path"].as_str())
        .ok_or_else(|| format!("no localImage in {content}"))?;
    assert!(
        path.ends_with(&format!(
            "attachments/{}.png",
            image["id"].as_str().unwrap_or_default()
        )),
        "{path}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_find_the_sessions_files() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let folder = tempfile::tempdir()?;
    std::fs::create_dir_all(folder.path().join("src/parser"))?;
    std::fs::write(folder.path().join("src/parser/lexer.rs"), "fn lex() {}\n")?;
    std::fs::write(folder.path().join("README.md"), "# hi\n")?;
    let (_, session) = h
        .post(
            "/api/sessions",
            json!({"cwd": folder.path().display().to_string()}),
        )
        .await?;
    let session = session["id"].as_str().unwrap_or_default().to_string();
    let files = h
        .get(&format!("/api/sessions/{session}/files?q=lexer"))
        .await?;
    let found = &files["data"][0];
    assert_eq!(found["path"], "src/parser/lexer.rs", "{files}");
    assert_eq!(found["fileName"], "lexer.rs");
    assert!(!found["indices"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(
        h.get(&format!("/api/sessions/{session}/files?q=")).await?["data"],
        json!([])
    );
    for (query, status) in [
        (format!("q={}", "x".repeat(201)), 422),
        ("q=a&limit=0".into(), 422),
        ("q=a&limit=51".into(), 422),
        ("limit=3".into(), 400),
    ] {
        let answer = h
            .http
            .get(h.url(&format!("/api/sessions/{session}/files?{query}")))
            .bearer_auth(&h.token)
            .send()
            .await?;
        assert_eq!(answer.status().as_u16(), status, "{query}");
    }
    let answer = h
        .http
        .get(h.url("/api/sessions/no-such/files?q=a"))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(answer.status().as_u16(), 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_says_why_an_api_key_account_has_none() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let usage = h.get("/api/account/usage").await?;
    assert_eq!(usage["primary"], Value::Null, "{usage}");
    let why = usage["unavailable"].as_str().unwrap_or_default();
    assert!(why.contains("ChatGPT plans"), "{usage}");
    Ok(())
}
