//! Memory: short facts the agent or the person wants kept across sessions.
//!
//! Invariants:
//! - SQLite is the truth. Search goes through an in-memory BM25 index
//!   (`index.rs`, rows in `store.rs`) kept in step by every write here, inside the same
//!   connection lock, and rebuilt when another connection changed memories.
//! - Search works offline: BM25 over text and tags (tags weigh double),
//!   weighted by importance and recency; with embeddings
//!   configured, fused with vector similarity (`embeddings.rs`).
//! - Every change is published as `memory.changed`.

pub(crate) mod embeddings;
pub(crate) mod index;
mod io;
pub mod store;

use crate::AgentState;
pub use perch_protocol::memory::{
    ImportReport, Memory, MemoryAction, MemoryFormat, MemoryPatch, MemorySource, NewMemory,
};
use perch_runtime::model::{EventKind, TurnStatus};
use perch_runtime::seams::{TurnEnded, TurnObserver};
use perch_runtime::Runtime;
use perch_runtime::{Error, Result};
use serde::Serialize;
use stdx::now_ms;

pub const MAX_TEXT_CHARS: usize = 8000;
const MAX_TAGS: usize = 16;
const MAX_TAG_CHARS: usize = 40;
/// Search results a search box ranks (and counts as `total`).
pub const CANDIDATES: usize = 200;
pub const DEFAULT_IMPORTANCE: f64 = 0.5;

/// What [`AgentState::memories`] is asked (the API and the agent's tools build
/// it from their own query shapes).
#[derive(Debug, Clone, Default)]
pub struct MemoryQuery {
    /// Ranked full-text search; `None` lists the newest first.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// A ranked search.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySearch<'a> {
    pub text: &'a str,
    pub tag: Option<&'a str>,
    /// The last word is a prefix (typing in a search box).
    pub prefix: bool,
    pub offset: usize,
    pub limit: usize,
    /// Results ranked and counted in `total`: at least `offset + limit`
    /// (a search box wants a count; a turn's context only the best few).
    pub ranked: usize,
    /// The text's embedding and its model, when embeddings are configured:
    /// the full-text and vector rankings are fused.
    pub vector: Option<(&'a str, &'a [f32])>,
}

/// A memory without a vector for the configured model.
pub(crate) struct PendingEmbedding {
    pub id: i64,
    pub input: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryPage {
    pub memories: Vec<Memory>,
    /// All matches (for a search: the re-ranked candidates, at most 200).
    pub total: usize,
}

/// Where a memory came from, as recorded.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: MemorySource,
    pub source_ref: Option<String>,
    /// For a peer-driven turn's memory: who wrote its peer messages.
    pub senders: Vec<String>,
}

impl Origin {
    pub fn person() -> Self {
        Self {
            source: MemorySource::Person,
            source_ref: None,
            senders: Vec::new(),
        }
    }
}

/// A validated memory ready to store (what import produces; the bench
/// inserts these directly).
#[derive(Debug, Clone)]
pub struct MemoryRow {
    pub text: String,
    pub tags: Vec<String>,
    pub origin: Origin,
    pub importance: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) fn validate_text(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Invalid("a memory needs some text".into()));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::Invalid(format!(
            "a memory is at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text.to_string())
}

/// Lowercase, deduplicated; letters, digits and `-_:./` only.
pub(crate) fn validate_tags(tags: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS
            || !tag
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:./".contains(c))
        {
            return Err(Error::Invalid(format!(
                "tag {tag:?} is not valid: up to {MAX_TAG_CHARS} letters, digits, '-', '_', ':', '.' or '/'"
            )));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::Invalid(format!(
            "a memory has at most {MAX_TAGS} tags"
        )));
    }
    Ok(out)
}

pub(crate) fn validate_importance(importance: Option<f64>) -> Result<f64> {
    match importance {
        None => Ok(DEFAULT_IMPORTANCE),
        Some(i) if i.is_finite() && (0.0..=1.0).contains(&i) => Ok(i),
        Some(i) => Err(Error::Invalid(format!(
            "importance {i} is not between 0 and 1"
        ))),
    }
}

impl AgentState {
    pub fn add_memory(&self, new: NewMemory, origin: Origin) -> Result<Memory> {
        let now = now_ms();
        let row = MemoryRow {
            text: validate_text(&new.text)?,
            tags: validate_tags(new.tags)?,
            origin,
            importance: validate_importance(new.importance)?,
            created_at: now,
            updated_at: now,
        };
        let ids = self.memory_db.insert_memories(std::slice::from_ref(&row))?;
        self.embed_wake.notify_one();
        self.runtime.events().publish(EventKind::MemoryChanged {
            action: MemoryAction::Added,
            ids: ids.clone(),
        });
        ids.first()
            .map(|id| self.memory(*id))
            .unwrap_or_else(|| Err(Error::NotFound("the new memory".into())))
    }

    pub fn memory(&self, id: i64) -> Result<Memory> {
        self.memory_db
            .memory(id)?
            .ok_or_else(|| Error::NotFound(format!("no memory {id}")))
    }

    pub fn update_memory(&self, id: i64, patch: MemoryPatch) -> Result<Memory> {
        let current = self.memory(id)?;
        let text = match patch.text {
            Some(text) => validate_text(&text)?,
            None => current.text,
        };
        let tags = match patch.tags {
            Some(tags) => validate_tags(tags)?,
            None => current.tags,
        };
        let importance = match patch.importance {
            Some(i) => validate_importance(Some(i))?,
            None => current.importance,
        };
        if !self
            .memory_db
            .update_memory(id, &text, &tags, importance, now_ms())?
        {
            return Err(Error::NotFound(format!("no memory {id}")));
        }
        self.embed_wake.notify_one();
        self.runtime.events().publish(EventKind::MemoryChanged {
            action: MemoryAction::Updated,
            ids: vec![id],
        });
        self.memory(id)
    }

    /// Deletes what exists of `ids`; returns the ids deleted.
    pub fn delete_memories(&self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.len() > 10_000 {
            return Err(Error::Invalid(
                "delete at most 10000 memories at once".into(),
            ));
        }
        let deleted = self.memory_db.delete_memories(ids)?;
        if !deleted.is_empty() {
            self.runtime.events().publish(EventKind::MemoryChanged {
                action: MemoryAction::Deleted,
                ids: deleted.clone(),
            });
        }
        Ok(deleted)
    }

    /// A search (ranked) or the newest memories. `used` marks the results as
    /// used now (the agent searched; a person browsing does not count).
    pub async fn memories(&self, query: MemoryQuery, used: bool) -> Result<MemoryPage> {
        let limit = query.limit.clamp(1, 500);
        let tag = query
            .tag
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase);
        let page = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            None => self
                .memory_db
                .list_memories(tag.as_deref(), limit, query.offset)?,
            Some(q) => {
                let vector = self.query_vector(q).await;
                self.memory_db.search_memories(&MemorySearch {
                    text: q,
                    tag: tag.as_deref(),
                    prefix: true,
                    offset: query.offset,
                    limit,
                    ranked: CANDIDATES,
                    vector: vector.as_ref().map(|(m, v)| (m.as_str(), v.as_slice())),
                })?
            }
        };
        if used && !page.memories.is_empty() {
            let ids: Vec<i64> = page.memories.iter().map(|m| m.id).collect();
            self.memory_db.touch_memories(&ids, now_ms())?;
        }
        Ok(page)
    }

    /// The best `limit` memories for `q` by their words alone (no
    /// embeddings: search everywhere answers without the network).
    pub fn search_memory_words(&self, q: &str, limit: usize) -> Result<Vec<Memory>> {
        Ok(self
            .memory_db
            .search_memories(&MemorySearch {
                text: q,
                tag: None,
                prefix: true,
                offset: 0,
                limit,
                ranked: limit,
                vector: None,
            })?
            .memories)
    }

    pub fn export_memories(&self, format: MemoryFormat) -> Result<String> {
        let memories = self.memory_db.all_memories()?;
        Ok(match format {
            MemoryFormat::Jsonl => io::to_jsonl(&memories),
            MemoryFormat::Markdown => io::to_markdown(&memories),
        })
    }

    pub fn import_memories(&self, format: MemoryFormat, text: &str) -> Result<ImportReport> {
        let parsed = match format {
            MemoryFormat::Jsonl => io::from_jsonl(text),
            MemoryFormat::Markdown => io::from_markdown(text),
        };
        let ids = self.memory_db.insert_memories(&parsed.rows)?;
        if !ids.is_empty() {
            self.embed_wake.notify_one();
            self.runtime.events().publish(EventKind::MemoryChanged {
                action: MemoryAction::Imported,
                ids: ids.clone(),
            });
        }
        Ok(ImportReport {
            imported: ids.len(),
            skipped: parsed.skipped,
            errors: parsed.errors,
        })
    }
}

/// With `[memory] auto_archive`, a completed exchange becomes a memory
/// tagged `archive`.
pub(crate) struct AutoArchive(pub std::sync::Weak<AgentState>);

impl TurnObserver for AutoArchive {
    fn turn_ended(&self, runtime: &Runtime, ended: &TurnEnded<'_>) {
        if ended.status != TurnStatus::Completed || !runtime.config().memory.auto_archive {
            return;
        }
        let Some(me) = self.0.upgrade() else {
            return;
        };
        let (Some(user), Some(agent)) = (ended.user_text, ended.agent_text) else {
            return;
        };
        // A peer-driven turn is not archived: its text is the peers', and a
        // memory enters later turns' context (issue 14: peers plant nothing).
        let peer_driven = me.peer_session().as_deref() == Some(ended.session_id)
            || runtime.is_confined(ended.session_id).unwrap_or(true);
        if peer_driven {
            return;
        }
        let source = MemorySource::Session;
        let clip = |s: &str, n: usize| -> String { s.chars().take(n).collect() };
        let new = NewMemory {
            text: format!(
                "Asked: {}\nAnswered: {}",
                clip(user.trim(), 1500),
                clip(agent.trim(), 4000)
            ),
            tags: vec!["archive".into()],
            importance: Some(0.3),
        };
        let origin = Origin {
            source,
            source_ref: Some(ended.session_id.to_string()),
            senders: Vec::new(),
        };
        if let Err(err) = me.add_memory(new, origin) {
            tracing::warn!("archiving turn {} into memory: {err}", ended.turn_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_text_are_validated() {
        assert!(validate_text("   ").is_err());
        assert!(validate_tags(vec!["ok".into(), "not ok".into()]).is_err());
        assert_eq!(
            validate_tags(vec!["#Ops".into(), "ops".into(), " ".into()]).ok(),
            Some(vec!["ops".to_string()])
        );
        assert!(validate_importance(Some(1.5)).is_err());
        assert!(validate_importance(Some(f64::NAN)).is_err());
    }
}
