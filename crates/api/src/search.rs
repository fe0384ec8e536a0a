//! `GET /api/search`: one search over session names, every session's
//! transcript (archived sessions' too), memories, plans and the Inbox. Each
//! source answers from its own index, newest matches first and bounded;
//! the results are ranked here, the same way for every source.

use crate::error::ApiError;
use crate::openapi::Protected;
use crate::routes::{ok, QueryOr, Reply};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use perch_agent::AgentState;
use perch_protocol::errors::ErrorBody;
use perch_protocol::search::{
    LineSpan, SearchHit, SearchQuery, SearchResults, SearchTarget, MAX_QUERY_CHARS,
};
use perch_runtime::Runtime;
use std::sync::Arc;
use stdx::search::{matching_line, Terms};

#[derive(Clone)]
pub struct SearchState {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) agent: Arc<AgentState>,
    pub(crate) peer: crate::peer::PeerLink,
}

/// Candidates each source gives at most: the newest that match.
const PER_SOURCE: usize = 200;

/// One search over sessions, messages, memories, plans and the Inbox.
#[utoipa::path(get, path = "/api/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchResults),
        (status = 400, body = ErrorBody, description = "A query parameter is wrong"),
        (status = 422, body = ErrorBody, description = "The query has no word or is too long"),
        Protected))]
pub async fn search(
    State(state): State<SearchState>,
    query: QueryOr<SearchQuery>,
) -> Reply<SearchResults> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(30);
    if !(1..=100).contains(&limit) {
        return Err(invalid(format!("limit must be 1–100, not {limit}")));
    }
    let chars = query.q.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "the query is {chars} characters; search takes at most {MAX_QUERY_CHARS}"
        )));
    }
    let terms = Terms::parse(&query.q).ok_or_else(|| {
        invalid("the query has no word to search for (letters or digits)".to_string())
    })?;
    let mut hits = Vec::new();
    let store = state.runtime.store();
    for session in store.search_session_names(&terms, PER_SOURCE)? {
        let name = session.name.clone().unwrap_or_default();
        hits.push(hit(
            &terms,
            SearchTarget::Session {
                session_id: session.id,
            },
            "Session".into(),
            &name,
            session.last_activity_at,
            session.archived,
        ));
    }
    for found in store.search_transcript(&terms, PER_SOURCE)? {
        let title = found
            .session_name
            .clone()
            .unwrap_or_else(|| "Untitled session".into());
        hits.push(hit(
            &terms,
            SearchTarget::Message {
                session_id: found.session_id,
                turn_id: found.line.turn_id,
                item_id: found.line.item_id,
                role: found.line.role.as_str().into(),
            },
            title,
            &found.line.text,
            found.line.at,
            found.archived,
        ));
    }
    let wanted = terms.words().len();
    for memory in state.agent.search_memory_words(&query.q, PER_SOURCE)? {
        // Memory ranks texts with some of the words too; here every word counts.
        if terms.count_in(&format!("{} {}", memory.text, memory.tags.join(" "))) < wanted {
            continue;
        }
        hits.push(hit(
            &terms,
            SearchTarget::Memory {
                memory_id: memory.id,
            },
            "Memory".into(),
            &memory.text,
            memory.updated_at,
            false,
        ));
    }
    for plan in state.agent.search_plans(&terms, PER_SOURCE)? {
        let (item_id, text) = match plan.item {
            Some((id, text)) => (Some(id), text),
            None => (None, plan.plan_name.clone()),
        };
        hits.push(hit(
            &terms,
            SearchTarget::Plan {
                plan_id: plan.plan_id,
                item_id,
            },
            format!("Plan: {}", plan.plan_name),
            &text,
            plan.updated_at,
            false,
        ));
    }
    let mut partial = Vec::new();
    match state.peer.peer().await {
        Some(peer) => {
            for message in peer.search_inbox(&terms, PER_SOURCE)? {
                let text = match &message.subject {
                    Some(subject) => format!("{subject}\n{}", message.body),
                    None => message.body.clone(),
                };
                hits.push(hit(
                    &terms,
                    SearchTarget::Inbox {
                        message_id: message.id,
                        thread_id: message.thread_id,
                    },
                    format!("Inbox: {} → {}", message.from, message.to),
                    &text,
                    message.created_at,
                    false,
                ));
            }
        }
        None => partial.push("the Inbox (the peer network is off)".into()),
    }
    hits.sort_by_cached_key(|h| std::cmp::Reverse(rank(&terms, h)));
    hits.truncate(limit as usize);
    ok(SearchResults { hits, partial })
}

fn hit(
    terms: &Terms,
    target: SearchTarget,
    title: String,
    text: &str,
    at: i64,
    archived: bool,
) -> SearchHit {
    let (spans, _) = matching_line(text, terms);
    SearchHit {
        target,
        title,
        line: spans
            .into_iter()
            .map(|s| LineSpan {
                text: s.text,
                matched: s.matched,
            })
            .collect(),
        at,
        archived,
    }
}

/// Higher first: more of the words in the line shown; a session's name
/// before what is said in it; more of the words in the title; a live
/// result before an archived one; newer.
fn rank(terms: &Terms, hit: &SearchHit) -> (usize, bool, usize, bool, i64) {
    let line: String = hit.line.iter().map(|s| s.text.as_str()).collect();
    (
        terms.count_in(&line),
        matches!(hit.target, SearchTarget::Session { .. }),
        terms.count_in(&hit.title),
        !hit.archived,
        hit.at,
    )
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
}
