//! The scripts the model follows and the Responses API SSE they become.
//! Shapes follow `shared/reference/codex-app-server/sse_examples.txt`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What the model does for one request. Fields combine: a script can stream
/// text, call functions, or fail; `hang` keeps the stream open afterwards.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Script {
    /// A text reply, streamed as deltas.
    pub text: Option<String>,
    /// How `text` is cut into deltas; default: word by word.
    pub chunks: Option<Vec<String>>,
    /// Pause between SSE events.
    pub delay_ms: Option<u64>,
    /// Function calls the model makes (shell, MCP tools, ...).
    pub function_calls: Vec<FunctionCall>,
    /// Answer with this HTTP status and `body` instead of a stream.
    pub http_status: Option<u16>,
    pub body: Option<String>,
    /// Send `response.failed` with this message instead of `response.completed`.
    pub fail: Option<String>,
    /// Send the opening events, then stay silent with the stream open.
    pub hang: bool,
    /// Raw SSE event objects, sent as they are (each needs a `type`).
    pub events: Vec<Value>,
    /// The input tokens `response.completed` reports (default 10): how
    /// full the context is, as Codex then tells Perch.
    pub input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// A JSON object (sent to Codex as a JSON string).
    #[serde(default)]
    pub arguments: Value,
    #[serde(default)]
    pub call_id: Option<String>,
}

impl Script {
    pub fn text(text: &str) -> Self {
        Self {
            text: Some(text.to_string()),
            ..Self::default()
        }
    }

    pub fn chunks(chunks: &[&str], delay_ms: u64) -> Self {
        Self {
            text: Some(chunks.concat()),
            chunks: Some(
                chunks
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect(),
            ),
            delay_ms: Some(delay_ms),
            ..Self::default()
        }
    }

    pub fn shell(cmd: &str, call_id: &str) -> Self {
        Self {
            function_calls: vec![FunctionCall {
                name: "exec_command".into(),
                namespace: None,
                arguments: json!({ "cmd": cmd, "yield_time_ms": 2000 }),
                call_id: Some(call_id.into()),
            }],
            ..Self::default()
        }
    }

    pub fn mcp_call(server: &str, tool: &str, arguments: Value, call_id: &str) -> Self {
        Self {
            function_calls: vec![FunctionCall {
                name: tool.into(),
                namespace: Some(format!("mcp__{server}")),
                arguments,
                call_id: Some(call_id.into()),
            }],
            ..Self::default()
        }
    }

    pub fn http_error(status: u16) -> Self {
        Self {
            http_status: Some(status),
            ..Self::default()
        }
    }

    pub fn hanging() -> Self {
        Self {
            hang: true,
            ..Self::default()
        }
    }

    /// A few words for the log: what this script answers.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.http_status {
            parts.push(format!("HTTP {status}"));
        }
        if let Some(text) = &self.text {
            parts.push(format!(
                "text {:?}",
                text.chars().take(40).collect::<String>()
            ));
        }
        for call in &self.function_calls {
            parts.push(format!("call {}", call.name));
        }
        if self.fail.is_some() {
            parts.push("failed".into());
        }
        if self.hang {
            parts.push("then hangs".into());
        }
        if parts.is_empty() {
            parts.push("nothing".into());
        }
        parts.join(", ")
    }

    /// The SSE frames (`event: …\ndata: …\n\n`) for this script.
    pub fn sse_events(&self) -> Vec<String> {
        let mut events = vec![json!({
            "type": "response.created",
            "response": {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}
        })];
        let mut index = 0;
        if let Some(text) = &self.text {
            let item_id = format!("msg_{index}");
            events.push(json!({
                "type": "response.output_item.added", "output_index": index,
                "item": {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}
            }));
            let chunks = self.chunks.clone().unwrap_or_else(|| split_words(text));
            for delta in chunks {
                events.push(json!({
                    "type": "response.output_text.delta", "item_id": item_id,
                    "output_index": index, "content_index": 0, "delta": delta
                }));
            }
            if !self.hang {
                events.push(json!({
                    "type": "response.output_item.done", "output_index": index,
                    "item": {"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                             "content": [{"type": "output_text", "text": text, "annotations": []}]}
                }));
            }
            index += 1;
        }
        for (n, call) in self.function_calls.iter().enumerate() {
            let call_id = call.call_id.clone().unwrap_or_else(|| format!("call_{n}"));
            let mut item = json!({
                "type": "function_call", "id": format!("fc_{index}"), "call_id": call_id,
                "name": call.name, "arguments": call.arguments.to_string(), "status": "completed"
            });
            if let (Some(ns), Some(obj)) = (&call.namespace, item.as_object_mut()) {
                obj.insert("namespace".into(), json!(ns));
            }
            events.push(
                json!({"type": "response.output_item.done", "output_index": index, "item": item}),
            );
            index += 1;
        }
        events.extend(self.events.iter().cloned());
        if self.hang {
            if self.text.is_none() {
                events.push(json!({
                    "type": "response.output_item.added", "output_index": index,
                    "item": {"type": "message", "id": "msg_hang", "role": "assistant", "status": "in_progress", "content": []}
                }));
            }
        } else if let Some(message) = &self.fail {
            events.push(json!({
                "type": "response.failed",
                "response": {"id": "resp_1", "status": "failed", "error": {"code": "server_error", "message": message}}
            }));
        } else {
            let input_tokens = self.input_tokens.unwrap_or(10);
            events.push(json!({
                "type": "response.completed",
                "response": {"id": "resp_1", "object": "response", "status": "completed", "output": [],
                  "usage": {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                            "total_tokens": input_tokens + 5}}
            }));
        }
        events
            .into_iter()
            .map(|event| {
                let kind = event
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message")
                    .to_string();
                format!("event: {kind}\ndata: {event}\n\n")
            })
            .collect()
    }
}

fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if ch == ' ' {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
