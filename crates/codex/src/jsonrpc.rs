//! The JSON-RPC envelope as `codex app-server` speaks it on stdio: one JSON
//! object per line, no `"jsonrpc":"2.0"` field, integer or string ids.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Int(n) => write!(f, "{n}"),
            RequestId::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// One line read from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Response {
        id: RequestId,
        result: Value,
    },
    Error {
        id: RequestId,
        error: RpcError,
    },
    Request {
        id: RequestId,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a JSON-RPC message must be an object with an id or a method")]
    Shape,
}

impl Incoming {
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let Value::Object(mut obj) = serde_json::from_str::<Value>(line)? else {
            return Err(ParseError::Shape);
        };
        let id = obj
            .remove("id")
            .map(serde_json::from_value::<RequestId>)
            .transpose()?;
        let method = obj
            .remove("method")
            .and_then(|m| m.as_str().map(str::to_string));
        let params = obj.remove("params").unwrap_or(Value::Null);
        match (id, method) {
            (Some(id), Some(method)) => Ok(Incoming::Request { id, method, params }),
            (None, Some(method)) => Ok(Incoming::Notification { method, params }),
            (Some(id), None) => match obj.remove("error") {
                Some(error) => Ok(Incoming::Error {
                    id,
                    error: serde_json::from_value(error)?,
                }),
                None => Ok(Incoming::Response {
                    id,
                    result: obj.remove("result").unwrap_or(Value::Null),
                }),
            },
            (None, None) => Err(ParseError::Shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_kinds_of_line() {
        let cases = [
            (
                r#"{"id":1,"result":{"a":1}}"#,
                Incoming::Response {
                    id: RequestId::Int(1),
                    result: serde_json::json!({"a":1}),
                },
            ),
            (
                r#"{"id":"x","error":{"code":-32600,"message":"Not initialized"}}"#,
                Incoming::Error {
                    id: RequestId::Str("x".into()),
                    error: RpcError {
                        code: -32600,
                        message: "Not initialized".into(),
                        data: None,
                    },
                },
            ),
            (
                r#"{"id":0,"method":"item/fileChange/requestApproval","params":{"threadId":"t"}}"#,
                Incoming::Request {
                    id: RequestId::Int(0),
                    method: "item/fileChange/requestApproval".into(),
                    params: serde_json::json!({"threadId":"t"}),
                },
            ),
            (
                r#"{"method":"warning","params":{"message":"m"},"emittedAtMs":1}"#,
                Incoming::Notification {
                    method: "warning".into(),
                    params: serde_json::json!({"message":"m"}),
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(Incoming::parse(line).ok(), Some(expected), "{line}");
        }
        assert!(Incoming::parse("[1]").is_err());
        assert!(Incoming::parse("{}").is_err());
        assert!(Incoming::parse("nope").is_err());
    }
}
