//! One search over everything the person has: `GET /api/search`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The longest query `GET /api/search` takes, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

/// The query of `GET /api/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SearchQuery {
    /// The words sought (each also as the start of a longer word), at most
    /// 500 characters; every word must occur.
    pub q: String,
    /// At most this many results (1–100, default 30).
    #[serde(default)]
    #[ts(optional, type = "number")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// What a result points at, and where the UI jumps to open it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SearchTarget {
    /// A session whose name matches.
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// A message of a session's transcript (the person's or the agent's).
    #[serde(rename_all = "camelCase")]
    Message {
        session_id: String,
        turn_id: String,
        item_id: String,
        /// `user` or `assistant`.
        role: String,
    },
    #[serde(rename_all = "camelCase")]
    Memory {
        #[ts(type = "number")]
        memory_id: i64,
    },
    /// A plan whose name or one of whose items matches.
    #[serde(rename_all = "camelCase")]
    Plan {
        #[ts(type = "number")]
        plan_id: i64,
        #[ts(type = "number | null")]
        #[schema(required = true)]
        item_id: Option<i64>,
    },
    /// A message of the Inbox (the peer network).
    #[serde(rename_all = "camelCase")]
    Inbox {
        #[ts(type = "number")]
        message_id: i64,
        #[ts(type = "number")]
        thread_id: i64,
    },
}

/// A piece of a result's matching line: a matched word or the text between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct LineSpan {
    pub text: String,
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub target: SearchTarget,
    /// What it belongs to: the session's name, "Memory", the plan's name,
    /// the sender of an Inbox message.
    pub title: String,
    /// The line that matches best, cut around the match, in spans.
    pub line: Vec<LineSpan>,
    /// When it was written or last changed (milliseconds since 1970).
    #[ts(type = "number")]
    pub at: i64,
    /// It belongs to an archived session.
    pub archived: bool,
}

/// `GET /api/search`: the best results first (more of the words, in the
/// title, then newer); `partial` names the sources that could not answer
/// (the peer network being off), the results being from the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub partial: Vec<String>,
}
