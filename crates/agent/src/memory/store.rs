//! Memory's tables and its search index (`index.rs`), kept in step.
//!
//! Invariants: this is the only `impl MemoryStore`; lock order is the
//! connection, then the index.

use super::embeddings::{embedding_input, normalized};
use super::index::{fuse, query_words, IndexQuery, IndexedMemory, MemoryIndex};
use super::{Memory, MemoryPage, MemoryRow, MemorySearch, MemorySource, PendingEmbedding};
use perch_runtime::store::{Database, Schema};
use perch_runtime::Result;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::sync::Mutex;
use stdx::{now_ms, MutexExt};

pub(crate) const SCHEMA: Schema = Schema {
    name: "memory",
    migrations: &[
        MIGRATION,
        INDEX_MIGRATION,
        STABLE_IDS_MIGRATION,
        SENDERS_MIGRATION,
    ],
};

/// Migration 4 (issue 14): who wrote the peer messages behind a memory
/// from a peer-driven turn (a JSON list of relay ids).
const SENDERS_MIGRATION: &str =
    "ALTER TABLE memories ADD COLUMN senders TEXT NOT NULL DEFAULT '[]';";

/// Memory's migration 1 (version 2 before issue 13), kept as released;
/// migration 2 replaces its FTS5 index.
const MIGRATION: &str = r#"
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

/// Memory's migration 2 (version 5 before issue 13): memory search moves to `memory_index.rs`; the FTS5 index
/// goes, and `memory_epoch` counts changes so that every process notices
/// another's. Embeddings (when configured) are kept per memory and model.
const INDEX_MIGRATION: &str = r#"
DROP TRIGGER memories_ai;
DROP TRIGGER memories_ad;
DROP TRIGGER memories_au;
DROP TABLE memories_fts;
CREATE TABLE memory_embeddings (
    memory_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    -- little-endian f32s, normalized to length 1
    vector BLOB NOT NULL
);
CREATE TABLE memory_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO memory_epoch (id, value) VALUES (1, 0);
CREATE TRIGGER memories_epoch_ai AFTER INSERT ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER memories_epoch_ad AFTER DELETE ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
    DELETE FROM memory_embeddings WHERE memory_id = old.id;
END;
CREATE TRIGGER memories_epoch_au AFTER UPDATE ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER memories_embedding_au AFTER UPDATE OF text, tags ON memories BEGIN
    DELETE FROM memory_embeddings WHERE memory_id = old.id;
END;
CREATE TRIGGER memory_embeddings_epoch_ai AFTER INSERT ON memory_embeddings BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
END;
"#;

/// Memory's migration 3: ids are never given again. Without
/// `AUTOINCREMENT` SQLite hands the highest id out again once its memory is
/// deleted, and a client still holding that id (a page, the agent) would
/// read or change another memory. The table is rebuilt with every row.
const STABLE_IDS_MIGRATION: &str = r#"
CREATE TABLE memories_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    source_ref TEXT,
    importance REAL NOT NULL DEFAULT 0.5,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_used_at INTEGER
);
INSERT INTO memories_new (id, text, tags, source, source_ref, importance, created_at, updated_at, last_used_at)
    SELECT id, text, tags, source, source_ref, importance, created_at, updated_at, last_used_at FROM memories;
DROP TABLE memories;
ALTER TABLE memories_new RENAME TO memories;
CREATE INDEX memories_by_updated ON memories(updated_at);
CREATE TRIGGER memories_epoch_ai AFTER INSERT ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER memories_epoch_ad AFTER DELETE ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
    DELETE FROM memory_embeddings WHERE memory_id = old.id;
END;
CREATE TRIGGER memories_epoch_au AFTER UPDATE ON memories BEGIN
    UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER memories_embedding_au AFTER UPDATE OF text, tags ON memories BEGIN
    DELETE FROM memory_embeddings WHERE memory_id = old.id;
END;
UPDATE memory_epoch SET value = value + 1 WHERE id = 1;
"#;

pub struct MemoryStore {
    db: Database,
    /// Built on the first search.
    index: Mutex<Option<MemoryIndex>>,
}

const COLUMNS: &str = "m.id, m.text, m.tags, m.source, m.source_ref, m.importance, m.created_at, m.updated_at, m.last_used_at, m.senders";

fn memory_from_row(row: &Row<'_>) -> rusqlite::Result<Memory> {
    let tags: String = row.get(2)?;
    Ok(Memory {
        id: row.get(0)?,
        text: row.get(1)?,
        tags: tags.split_whitespace().map(str::to_string).collect(),
        source: {
            let word: String = row.get(3)?;
            MemorySource::parse(&word)
                .ok_or_else(|| perch_runtime::store::unknown_word(3, "the memory source", &word))?
        },
        source_ref: row.get(4)?,
        importance: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        last_used_at: row.get(8)?,
        senders: {
            let text: String = row.get(9)?;
            serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?
        },
        score: None,
    })
}

/// The change counter (`memory_epoch`) as this transaction sees it.
fn epoch(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM memory_epoch WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// The index of every memory, as of one snapshot.
fn build_index(conn: &mut Connection) -> Result<MemoryIndex> {
    let tx = conn.transaction()?;
    let mut index = MemoryIndex::new(epoch(&tx)?);
    {
        let mut stmt = tx.prepare(
            "SELECT id, text, tags, importance, max(updated_at, coalesce(last_used_at, 0)) FROM memories",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let tags: String = row.get(2)?;
            let tags: Vec<String> = tags.split_whitespace().map(str::to_string).collect();
            index.insert(IndexedMemory {
                id: row.get(0)?,
                text: &row.get::<_, String>(1)?,
                tags: &tags,
                importance: row.get(3)?,
                touched: row.get(4)?,
            });
        }
    }
    {
        let mut stmt = tx.prepare("SELECT memory_id, model, vector FROM memory_embeddings")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let vector: Vec<u8> = row.get(2)?;
            let vector = vector
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            index.set_vector(row.get(0)?, &row.get::<_, String>(1)?, vector);
        }
    }
    tx.commit()?;
    Ok(index)
}

impl MemoryStore {
    /// Memory's store in `db`, its tables brought up to date.
    pub fn new(db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self {
            db,
            index: Mutex::new(None),
        })
    }

    /// Runs `write` in one write transaction, then brings the search index
    /// along with `apply`, or drops it (rebuilt on the next search) when
    /// another connection had changed memories since it was built.
    pub(crate) fn write_memories<T>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T>,
        apply: impl FnOnce(&mut MemoryIndex, &T),
    ) -> Result<T> {
        let mut conn = self.db.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = epoch(&tx)?;
        let written = write(&tx)?;
        let after = epoch(&tx)?;
        tx.commit()?;
        let mut index = self.index.lock_unpoisoned();
        match index.as_mut() {
            Some(current) if current.epoch == before => {
                apply(current, &written);
                current.epoch = after;
            }
            _ => *index = None,
        }
        Ok(written)
    }

    pub fn insert_memories(&self, rows: &[MemoryRow]) -> Result<Vec<i64>> {
        self.write_memories(
            |tx| {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO memories (text, tags, source, source_ref, importance, created_at, updated_at, senders)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in rows {
                    insert.execute(params![
                        row.text,
                        row.tags.join(" "),
                        row.origin.source.as_str(),
                        row.origin.source_ref,
                        row.importance,
                        row.created_at,
                        row.updated_at,
                        serde_json::to_string(&row.origin.senders).unwrap_or_else(|_| "[]".into())
                    ])?;
                    ids.push(tx.last_insert_rowid());
                }
                Ok(ids)
            },
            |index, ids| {
                for (row, id) in rows.iter().zip(ids) {
                    index.insert(IndexedMemory {
                        id: *id,
                        text: &row.text,
                        tags: &row.tags,
                        importance: row.importance,
                        touched: row.updated_at,
                    });
                }
            },
        )
    }

    pub fn memory(&self, id: i64) -> Result<Option<Memory>> {
        let sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.id = ?1");
        Ok(self
            .db
            .conn()
            .query_row(&sql, [id], memory_from_row)
            .optional()?)
    }

    pub(crate) fn update_memory(
        &self,
        id: i64,
        text: &str,
        tags: &[String],
        importance: f64,
        at: i64,
    ) -> Result<bool> {
        self.write_memories(
            |tx| {
                Ok(tx.execute(
                    "UPDATE memories SET text = ?2, tags = ?3, importance = ?4, updated_at = ?5 WHERE id = ?1",
                    params![id, text, tags.join(" "), importance, at],
                )? == 1)
            },
            |index, changed| {
                if *changed {
                    index.insert(IndexedMemory {
                        id,
                        text,
                        tags,
                        importance,
                        touched: at,
                    });
                }
            },
        )
    }

    pub fn delete_memories(&self, ids: &[i64]) -> Result<Vec<i64>> {
        self.write_memories(
            |tx| {
                let mut delete = tx.prepare_cached("DELETE FROM memories WHERE id = ?1")?;
                let mut deleted = Vec::new();
                for id in ids {
                    if delete.execute([id])? == 1 {
                        deleted.push(*id);
                    }
                }
                Ok(deleted)
            },
            |index, deleted| deleted.iter().for_each(|id| index.remove(*id)),
        )
    }

    pub(crate) fn touch_memories(&self, ids: &[i64], at: i64) -> Result<()> {
        self.write_memories(
            |tx| {
                let mut touch =
                    tx.prepare_cached("UPDATE memories SET last_used_at = ?2 WHERE id = ?1")?;
                for id in ids {
                    touch.execute(params![id, at])?;
                }
                Ok(())
            },
            |index, ()| ids.iter().for_each(|id| index.touch(*id, at)),
        )
    }

    /// Newest first.
    pub(crate) fn list_memories(
        &self,
        tag: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<MemoryPage> {
        let conn = self.db.conn();
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

    /// Ranked search: memories with every word first, then those with some.
    /// `prefix` makes the last word a prefix (typing in a search box).
    /// `total` counts the ranked results (`ranked`, at least the page); the
    /// page is `offset..offset + limit` of them.
    pub fn search_memories(&self, search: &MemorySearch<'_>) -> Result<MemoryPage> {
        let words = query_words(search.text);
        let mut conn = self.db.conn();
        let current = epoch(&conn)?;
        let mut index = self.index.lock_unpoisoned();
        if index.as_ref().is_none_or(|built| built.epoch != current) {
            *index = Some(build_index(&mut conn)?);
        }
        let ranked_count = search
            .ranked
            .max(search.offset.saturating_add(search.limit));
        let now = now_ms();
        let ranked = match index.as_mut() {
            Some(index) => {
                let text = index.search(
                    &IndexQuery {
                        words: &words,
                        prefix: search.prefix,
                        tag: search.tag,
                        now,
                    },
                    ranked_count,
                );
                match search.vector {
                    Some((model, vector)) => {
                        let mut near = index.nearest(model, vector, ranked_count, now);
                        if let Some(tag) = search.tag {
                            near.retain(|(id, _)| index.has_tag(*id, tag));
                        }
                        fuse(&[text, near], ranked_count)
                    }
                    None => text,
                }
            }
            None => Vec::new(),
        };
        drop(index);
        let mut one =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM memories m WHERE m.id = ?1"))?;
        let mut memories = Vec::with_capacity(search.limit.min(ranked.len()));
        for (id, score) in ranked.iter().skip(search.offset).take(search.limit) {
            if let Some(mut memory) = one.query_row([id], memory_from_row).optional()? {
                memory.score = Some(*score);
                memories.push(memory);
            }
        }
        Ok(MemoryPage {
            memories,
            total: ranked.len(),
        })
    }

    /// Memories without a vector for `model`, oldest first.
    pub(crate) fn memories_to_embed(
        &self,
        model: &str,
        limit: usize,
    ) -> Result<Vec<PendingEmbedding>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT m.id, m.text, m.tags, m.updated_at FROM memories m
             LEFT JOIN memory_embeddings e ON e.memory_id = m.id AND e.model = ?1
             WHERE e.memory_id IS NULL ORDER BY m.id LIMIT ?2",
        )?;
        let pending = stmt
            .query_map(params![model, limit as i64], |row| {
                let tags: String = row.get(2)?;
                let tags: Vec<String> = tags.split_whitespace().map(str::to_string).collect();
                Ok(PendingEmbedding {
                    id: row.get(0)?,
                    input: embedding_input(&row.get::<_, String>(1)?, &tags),
                    updated_at: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(pending)
    }

    /// Saves vectors of `(id, updated_at as embedded, vector)`, each only if
    /// the memory is unchanged since; returns the ids saved.
    pub(crate) fn save_embeddings(
        &self,
        model: &str,
        vectors: &[(i64, i64, Vec<f32>)],
    ) -> Result<Vec<i64>> {
        let saved = self.write_memories(
            |tx| {
                let mut save = tx.prepare_cached(
                    "INSERT OR REPLACE INTO memory_embeddings (memory_id, model, vector)
                     SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM memories WHERE id = ?1 AND updated_at = ?4)",
                )?;
                let mut saved = Vec::new();
                for (id, updated_at, vector) in vectors {
                    let vector = normalized(vector.clone());
                    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                    if save.execute(params![id, model, bytes, updated_at])? == 1 {
                        saved.push((*id, vector));
                    }
                }
                Ok(saved)
            },
            |index, saved| {
                for (id, vector) in saved {
                    index.set_vector(*id, model, vector.clone());
                }
            },
        )?;
        Ok(saved.into_iter().map(|(id, _)| id).collect())
    }

    /// Every memory, oldest first (export).
    pub(crate) fn all_memories(&self) -> Result<Vec<Memory>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM memories m ORDER BY m.id"))?;
        let rows = stmt
            .query_map([], memory_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Origin;
    use perch_runtime::Error;

    fn search(
        store: &MemoryStore,
        text: &str,
        tag: Option<&str>,
        prefix: bool,
    ) -> Result<Vec<Memory>> {
        Ok(store
            .search_memories(&MemorySearch {
                text,
                tag,
                prefix,
                limit: 10,
                ..Default::default()
            })?
            .memories)
    }

    fn row(text: &str, tags: &[&str], importance: f64, at: i64) -> MemoryRow {
        MemoryRow {
            text: text.into(),
            tags: tags.iter().map(std::string::ToString::to_string).collect(),
            origin: Origin::person(),
            importance,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn search_ranks_by_relevance_then_importance_and_recency() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let store = MemoryStore::new(Database::open(&dir.path().join("perch.db"))?)?;
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
        let hits = search(&store, "how do we deploy to production", None, false)?;
        let texts: Vec<&str> = hits.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert_eq!(texts[0], "Deploy to staging before production, always");
        assert_eq!(texts[2], "The deploy key lives in the vault");
        // Stemming: "deploys" finds "deploy"; a tag filter narrows.
        assert_eq!(search(&store, "deploys", Some("ops"), false)?.len(), 3);
        assert_eq!(search(&store, "deploys", Some("home"), false)?.len(), 0);
        // Typed prefix, and FTS5 syntax in a query is just text.
        assert_eq!(search(&store, "lun", None, true)?.len(), 1);
        assert!(search(&store, "\"NEAR( OR *", None, true)?.is_empty());
        Ok(())
    }

    #[test]
    fn edits_and_deletes_keep_the_index_in_step() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let store = MemoryStore::new(Database::open(&dir.path().join("perch.db"))?)?;
        let ids = store.insert_memories(&[row("likes green tea", &["food"], 0.5, 1)])?;
        store.update_memory(ids[0], "likes black coffee", &["drink".into()], 0.7, 2)?;
        assert!(search(&store, "tea", None, false)?.is_empty());
        assert_eq!(search(&store, "coffee", Some("drink"), false)?.len(), 1);
        assert_eq!(store.delete_memories(&[ids[0], 999])?, vec![ids[0]]);
        assert!(search(&store, "coffee", None, false)?.is_empty());
        Ok(())
    }
}
