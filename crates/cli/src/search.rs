//! `perch search`: one search over sessions, messages, memories, plans and
//! the Inbox (`GET /api/search`).

use crate::client::{print_json, Client};
use crate::peer::urlencode;
use crate::CliError;
use perch_protocol::search::{SearchHit, SearchResults, SearchTarget};

pub async fn search(
    client: &Client,
    words: Vec<String>,
    limit: u32,
    as_json: bool,
) -> Result<(), CliError> {
    let query = words.join(" ");
    let results: SearchResults = client
        .get(&format!(
            "/api/search?q={}&limit={limit}",
            urlencode(&query)
        ))
        .await?;
    if as_json {
        print_json(&results);
        return Ok(());
    }
    if results.hits.is_empty() {
        println!("Nothing has every word of {query:?}.");
    }
    for hit in &results.hits {
        println!("{}  {}", where_it_is(hit), hit.title);
        let line: String = hit
            .line
            .iter()
            .map(|s| {
                if s.matched {
                    format!("*{}*", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect();
        println!("    {line}");
    }
    for source in &results.partial {
        eprintln!("not searched: {source}");
    }
    Ok(())
}

/// What to type to open the result.
fn where_it_is(hit: &SearchHit) -> String {
    let archived = if hit.archived { " (archived)" } else { "" };
    match &hit.target {
        SearchTarget::Session { session_id } => format!("session {session_id}{archived}"),
        SearchTarget::Message {
            session_id, role, ..
        } => {
            format!("{role} in session {session_id}{archived}")
        }
        SearchTarget::Memory { memory_id } => format!("memory {memory_id}"),
        SearchTarget::Plan {
            plan_id,
            item_id: Some(item),
        } => format!("plan {plan_id} item {item}"),
        SearchTarget::Plan {
            plan_id,
            item_id: None,
        } => format!("plan {plan_id}"),
        SearchTarget::Inbox { message_id, .. } => format!("inbox message {message_id}"),
    }
}
