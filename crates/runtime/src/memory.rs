//! Memory: short facts the agent or the person wants kept across sessions.
//!
//! Invariants:
//! - SQLite is the truth; `memories_fts` (FTS5, external content) is kept in
//!   step by triggers, so a row and its index entry change in one statement.
//! - Search works offline: BM25 over text and tags (tags weigh double),
//!   then re-ranked by importance and recency (`rank_score`). Only the best
//!   `CANDIDATES` BM25 matches are re-ranked, which bounds the cost.
//! - Every change is published as `memory.changed`.

use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::now_ms;
use crate::runtime::Runtime;
use crate::store::Store;
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

pub(crate) const MIGRATION: &str = r#"
CREATE TABLE memories (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    source_ref TEXT,
    importance REAL NOT NULL DEFAULT 0.5,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX memories_by_updated ON memories(updated_at);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, tags, content='memories', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
END;
CREATE TRIGGER memories_au AFTER UPDATE OF text, tags ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    INSERT INTO memories_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
"#;

pub const MAX_TEXT_CHARS: usize = 8000;
const MAX_TAGS: usize = 16;
const MAX_TAG_CHARS: usize = 40;
const MAX_QUERY_TERMS: usize = 16;
/// BM25 matches re-ranked by importance and recency.
const CANDIDATES: usize = 200;
/// A query matching this many memories or more is "broad": BM25 over all
/// of them would cost too much, so its newest `CANDIDATES` are scored.
const BROAD: usize = 1000;
pub const DEFAULT_IMPORTANCE: f64 = 0.5;
/// Recency halves its weight every this many days.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemorySource {
    /// The agent, in a session.
    Session,
    /// The agent, handling peer messages.
    Peer,
    /// The person (UI, CLI, import).
    Person,
}

impl MemorySource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Peer => "peer",
            Self::Person => "person",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "session" => Self::Session,
            "peer" => Self::Peer,
            _ => Self::Person,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub id: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub source: MemorySource,
    /// The session (or peer agent) it came from, when known.
    pub source_ref: Option<String>,
    /// 0 to 1.
    pub importance: f64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    /// Only in search results: higher is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMemory {
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub importance: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryPatch {
    pub text: Option<String>,
    pub tags: Option<Vec<String>>,
    pub importance: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryQuery {
    /// Ranked full-text search; `None` lists the newest first.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
    pub offset: usize,
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
}

impl Origin {
    pub fn person() -> Self {
        Self {
            source: MemorySource::Person,
            source_ref: None,
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

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "our", "so", "that", "the", "their", "them", "then", "there", "these",
    "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "you", "your",
];

/// The distinct words of `text` worth searching for, lowercased, in order.
pub(crate) fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if word.chars().count() < 2 || STOPWORDS.contains(&word.as_str()) || terms.contains(&word) {
            continue;
        }
        terms.push(word);
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    terms
}

/// An FTS5 query of quoted terms (nothing a person types can be FTS5
/// syntax). `prefix` lets the last term match as a prefix, for a search box.
fn fts_query(terms: &[String], all: bool, prefix: bool) -> String {
    let last = terms.len().saturating_sub(1);
    let quoted: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let star = if prefix && i == last && t.chars().count() >= 3 {
                "*"
            } else {
                ""
            };
            format!("\"{}\"{star}", t.replace('"', ""))
        })
        .collect();
    quoted.join(if all { " AND " } else { " OR " })
}

/// BM25 relevance weighted by importance (×0.5 to ×1.5) and recency
/// (×1 fresh, toward ×0.5 as the last update or use ages).
fn rank_score(bm25: f64, importance: f64, last_touched: i64, now: i64) -> f64 {
    let relevance = -bm25;
    let age_days = ((now - last_touched).max(0) as f64) / 86_400_000.0;
    let recency = 0.5 + 0.5 * (-age_days / RECENCY_HALF_LIFE_DAYS).exp2();
    relevance * (0.5 + importance) * recency
}

const COLUMNS: &str = "m.id, m.text, m.tags, m.source, m.source_ref, m.importance, m.created_at, m.updated_at, m.last_used_at";

fn memory_from_row(row: &Row<'_>) -> rusqlite::Result<Memory> {
    let tags: String = row.get(2)?;
    Ok(Memory {
        id: row.get(0)?,
        text: row.get(1)?,
        tags: tags.split_whitespace().map(str::to_string).collect(),
        source: MemorySource::parse(&row.get::<_, String>(3)?),
        source_ref: row.get(4)?,
        importance: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        last_used_at: row.get(8)?,
        score: None,
    })
}

impl Store {
    pub fn insert_memories(&self, rows: &[MemoryRow]) -> Result<Vec<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(rows.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO memories (text, tags, source, source_ref, importance, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for row in rows {
                insert.execute(params![
                    row.text,
                    row.tags.join(" "),
                    row.origin.source.as_str(),
                    row.origin.source_ref,
                    row.importance,
                    row.created_at,
                    row.updated_at
                ])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    pub fn memory(&self, id: i64) -> Result<Option<Memory>> {
        let sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [id], memory_from_row)
            .optional()?)
    }

    fn update_memory(
        &self,
        id: i64,
        text: &str,
        tags: &[String],
        importance: f64,
        at: i64,
    ) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE memories SET text = ?2, tags = ?3, importance = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, text, tags.join(" "), importance, at],
        )?;
        Ok(changed == 1)
    }

    fn delete_memories(&self, ids: &[i64]) -> Result<Vec<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut deleted = Vec::new();
        {
            let mut delete = tx.prepare_cached("DELETE FROM memories WHERE id = ?1")?;
            for id in ids {
                if delete.execute([id])? == 1 {
                    deleted.push(*id);
                }
            }
        }
        tx.commit()?;
        Ok(deleted)
    }

    pub(crate) fn touch_memories(&self, ids: &[i64], at: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut touch =
                tx.prepare_cached("UPDATE memories SET last_used_at = ?2 WHERE id = ?1")?;
            for id in ids {
                touch.execute(params![id, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Newest first.
    fn list_memories(&self, tag: Option<&str>, limit: usize, offset: usize) -> Result<MemoryPage> {
        let conn = self.conn();
        let filter = "(?1 IS NULL OR instr(' ' || m.tags || ' ', ' ' || ?1 || ' ') > 0)";
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM memories m WHERE {filter}"),
            [tag],
            |r| r.get(0),
        )?;
        let sql = format!("SELECT {COLUMNS} FROM memories m WHERE {filter} ORDER BY m.updated_at DESC, m.id DESC LIMIT ?2 OFFSET ?3");
        let mut stmt = conn.prepare_cached(&sql)?;
        let memories = stmt
            .query_map(params![tag, limit as i64, offset as i64], memory_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(MemoryPage {
            memories,
            total: total.max(0) as usize,
        })
    }

    /// How many memories an FTS5 query matches, counted up to `cap`.
    fn match_count(&self, query: &str, cap: usize) -> Result<usize> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ?1 LIMIT ?2)")?;
        Ok(stmt
            .query_row(params![query, cap as i64], |r| r.get::<_, i64>(0))?
            .max(0) as usize)
    }

    /// Candidates for an FTS5 query with their BM25 (lower is better): the
    /// best by BM25 when the query is selective, else its newest matches.
    fn fts_candidates(&self, query: &str, tag: Option<&str>) -> Result<Vec<(Memory, f64)>> {
        let order = if self.match_count(query, BROAD)? < BROAD {
            "rank"
        } else {
            "memories_fts.rowid DESC"
        };
        let conn = self.conn();
        let sql = format!(
            "SELECT {COLUMNS}, bm25(memories_fts, 1.0, 2.0) AS rank FROM memories_fts
             JOIN memories m ON m.id = memories_fts.rowid
             WHERE memories_fts MATCH ?1 AND (?2 IS NULL OR instr(' ' || m.tags || ' ', ' ' || ?2 || ' ') > 0)
             ORDER BY {order} LIMIT ?3"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![query, tag, CANDIDATES as i64], |row| {
                Ok((memory_from_row(row)?, row.get::<_, f64>(9)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Ranked search: every term first; when that finds fewer than `limit`,
    /// any term. `prefix` makes the last term a prefix (typing in a search box).
    pub fn search_memories(
        &self,
        text: &str,
        tag: Option<&str>,
        limit: usize,
        prefix: bool,
    ) -> Result<Vec<Memory>> {
        let terms = query_terms(text);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut candidates = self.fts_candidates(&fts_query(&terms, true, prefix), tag)?;
        if candidates.len() < limit && terms.len() > 1 {
            let seen: std::collections::HashSet<i64> =
                candidates.iter().map(|(m, _)| m.id).collect();
            // Any term: the selective ones carry the relevance; broad ones
            // only when no term is selective.
            let mut selective = Vec::new();
            for (i, term) in terms.iter().enumerate() {
                let one = fts_query(
                    std::slice::from_ref(term),
                    true,
                    prefix && i + 1 == terms.len(),
                );
                if self.match_count(&one, BROAD)? < BROAD {
                    selective.push(term.clone());
                }
            }
            let any = if selective.is_empty() {
                &terms
            } else {
                &selective
            };
            let more = self.fts_candidates(
                &fts_query(any, false, prefix && any.last() == terms.last()),
                tag,
            )?;
            candidates.extend(more.into_iter().filter(|(m, _)| !seen.contains(&m.id)));
        }
        let now = now_ms();
        let mut ranked: Vec<Memory> = candidates
            .into_iter()
            .map(|(mut memory, bm25)| {
                let touched = memory.updated_at.max(memory.last_used_at.unwrap_or(0));
                memory.score = Some(rank_score(bm25, memory.importance, touched, now));
                memory
            })
            .collect();
        ranked.sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
        Ok(ranked)
    }

    /// Every memory, oldest first (export).
    fn all_memories(&self) -> Result<Vec<Memory>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM memories m ORDER BY m.id"))?;
        let rows = stmt
            .query_map([], memory_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl Runtime {
    /// Where the agent is working now: the session of the one running turn
    /// (`peer` for the peer session); with none or several, no session.
    pub fn agent_origin(&self) -> Origin {
        let active: Vec<String> = self.lock().active.keys().cloned().collect();
        match active.as_slice() {
            [one] => {
                let peer = self.peer_session().as_deref() == Some(one.as_str());
                Origin {
                    source: if peer {
                        MemorySource::Peer
                    } else {
                        MemorySource::Session
                    },
                    source_ref: Some(one.clone()),
                }
            }
            _ => Origin {
                source: MemorySource::Session,
                source_ref: None,
            },
        }
    }

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
        let ids = self.store.insert_memories(std::slice::from_ref(&row))?;
        self.bus.publish(EventKind::MemoryChanged {
            action: MemoryAction::Added,
            ids: ids.clone(),
        });
        ids.first()
            .map(|id| self.memory(*id))
            .unwrap_or_else(|| Err(Error::NotFound("the new memory".into())))
    }

    pub fn memory(&self, id: i64) -> Result<Memory> {
        self.store
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
            .store
            .update_memory(id, &text, &tags, importance, now_ms())?
        {
            return Err(Error::NotFound(format!("no memory {id}")));
        }
        self.bus.publish(EventKind::MemoryChanged {
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
        let deleted = self.store.delete_memories(ids)?;
        if !deleted.is_empty() {
            self.bus.publish(EventKind::MemoryChanged {
                action: MemoryAction::Deleted,
                ids: deleted.clone(),
            });
        }
        Ok(deleted)
    }

    /// A search (ranked) or the newest memories. `used` marks the results as
    /// used now (the agent searched; a person browsing does not count).
    pub fn memories(&self, query: MemoryQuery, used: bool) -> Result<MemoryPage> {
        let limit = query.limit.clamp(1, 500);
        let tag = query
            .tag
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase);
        let page = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            None => self
                .store
                .list_memories(tag.as_deref(), limit, query.offset)?,
            Some(q) => {
                let ranked = self.store.search_memories(q, tag.as_deref(), limit, true)?;
                let total = ranked.len();
                MemoryPage {
                    memories: ranked.into_iter().skip(query.offset).take(limit).collect(),
                    total,
                }
            }
        };
        if used && !page.memories.is_empty() {
            let ids: Vec<i64> = page.memories.iter().map(|m| m.id).collect();
            self.store.touch_memories(&ids, now_ms())?;
        }
        Ok(page)
    }

    pub fn export_memories(&self, format: MemoryFormat) -> Result<String> {
        let memories = self.store.all_memories()?;
        Ok(match format {
            MemoryFormat::Jsonl => crate::memory_io::to_jsonl(&memories),
            MemoryFormat::Markdown => crate::memory_io::to_markdown(&memories),
        })
    }

    pub fn import_memories(&self, format: MemoryFormat, text: &str) -> Result<ImportReport> {
        let parsed = match format {
            MemoryFormat::Jsonl => crate::memory_io::from_jsonl(text),
            MemoryFormat::Markdown => crate::memory_io::from_markdown(text),
        };
        let ids = self.store.insert_memories(&parsed.rows)?;
        if !ids.is_empty() {
            self.bus.publish(EventKind::MemoryChanged {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryAction {
    Added,
    Updated,
    Deleted,
    Imported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryFormat {
    Jsonl,
    Markdown,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: usize,
    /// Why lines were skipped (the first few).
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str, tags: &[&str], importance: f64, at: i64) -> MemoryRow {
        MemoryRow {
            text: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            origin: Origin::person(),
            importance,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn search_ranks_by_relevance_then_importance_and_recency() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        let now = now_ms();
        let old = now - 400 * 86_400_000;
        store.insert_memories(&[
            row("The deploy key lives in the vault", &["ops"], 0.5, old),
            row("Deploy to staging before production", &["ops"], 0.5, now),
            row(
                "Deploy to staging before production, always",
                &["ops"],
                1.0,
                now,
            ),
            row("Lunch is at noon", &[], 0.5, now),
        ])?;
        let hits = store.search_memories("how do we deploy to production", None, 10, false)?;
        let texts: Vec<&str> = hits.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert_eq!(texts[0], "Deploy to staging before production, always");
        assert_eq!(texts[2], "The deploy key lives in the vault");
        // Stemming: "deploys" finds "deploy"; a tag filter narrows.
        assert_eq!(
            store
                .search_memories("deploys", Some("ops"), 10, false)?
                .len(),
            3
        );
        assert_eq!(
            store
                .search_memories("deploys", Some("home"), 10, false)?
                .len(),
            0
        );
        // Typed prefix, and FTS5 syntax in a query is just text.
        assert_eq!(store.search_memories("lun", None, 10, true)?.len(), 1);
        assert!(store
            .search_memories("\"NEAR( OR *", None, 10, true)?
            .is_empty());
        Ok(())
    }

    #[test]
    fn edits_and_deletes_keep_the_index_in_step() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let store = Store::open(&dir.path().join("perch.db"))?;
        let ids = store.insert_memories(&[row("likes green tea", &["food"], 0.5, 1)])?;
        store.update_memory(ids[0], "likes black coffee", &["drink".into()], 0.7, 2)?;
        assert!(store.search_memories("tea", None, 10, false)?.is_empty());
        assert_eq!(
            store
                .search_memories("coffee", Some("drink"), 10, false)?
                .len(),
            1
        );
        assert_eq!(store.delete_memories(&[ids[0], 999])?, vec![ids[0]]);
        assert!(store.search_memories("coffee", None, 10, false)?.is_empty());
        Ok(())
    }

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
        assert_eq!(
            query_terms("What is THE deploy-key? deploy"),
            vec!["deploy", "key"]
        );
    }
}
