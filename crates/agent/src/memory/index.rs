//! The in-memory full-text index behind memory search: an inverted index of
//! stemmed words, BM25-ranked, weighted by importance and recency.
//!
//! Why not SQLite FTS5 (what memories used first): its `bm25()` counts every
//! document of every query word before scoring, and a prefix query loads
//! the whole doclist of every word it expands to. With a word that most of
//! 100 000 memories contain, one query cost 5 to 240 ms (docs/bench.md).
//! Here a query walks only the postings of its words, in Rust.
//!
//! Invariants:
//! - SQLite's `memories` table is the truth; this index is derived from it
//!   and rebuilt whenever `memory_epoch` (bumped by triggers on every change
//!   to `memories`) differs from the value it was built or last updated at,
//!   so a change made by another process is never missed.
//! - Postings of removed memories stay until a compaction; `lens[slot] < 0`
//!   marks them dead, and every walk skips them.
//! - Words are lowercased, stripped of diacritics and stemmed (English,
//!   Porter2), the same way for memories and queries. Tags count double.

use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// BM25 parameters (the usual ones).
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Recency halves its weight every this many days.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;
/// Dead postings are dropped once they outnumber live documents this much.
const COMPACT_AFTER: u32 = 1024;
const WEIGHTS_FRESH_MS: i64 = 60_000;
/// At most this many query words (more add little and cost time).
const MAX_QUERY_TERMS: usize = 16;

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "our", "so", "that", "the", "their", "them", "then", "there", "these",
    "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "you", "your",
];

/// The words of `text` worth indexing or searching for: lowercased,
/// without diacritics, at least two characters, no stopwords.
pub(crate) fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                Cow::Borrowed(w)
            } else if w.is_ascii() {
                Cow::Owned(w.to_ascii_lowercase())
            } else {
                Cow::Owned(
                    w.to_lowercase()
                        .nfkd()
                        .filter(|c| !is_combining_mark(*c))
                        .collect(),
                )
            }
        })
        .filter(|w| w.chars().count() >= 2 && !STOPWORDS.contains(&w.as_ref()))
}

/// The distinct words of a query, in order, at most `MAX_QUERY_TERMS`.
pub(crate) fn query_words(text: &str) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::new();
    for word in words(text) {
        if !distinct.iter().any(|w| *w == word) {
            distinct.push(word.into_owned());
        }
        if distinct.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    distinct
}

/// What a memory contributes to the index.
pub(crate) struct IndexedMemory<'a> {
    pub id: i64,
    pub text: &'a str,
    pub tags: &'a [String],
    pub importance: f64,
    /// Last update or use (ms), whichever is later.
    pub touched: i64,
}

#[derive(Clone, Copy)]
struct Posting {
    slot: u32,
    tf: f32,
}

struct Doc {
    id: i64,
    tags: Box<[String]>,
    terms: Box<[u32]>,
}

/// A search: its words (stemmed) and, when typing, the raw last word as a prefix.
pub(crate) struct IndexQuery<'a> {
    pub words: &'a [String],
    pub prefix: bool,
    pub tag: Option<&'a str>,
    pub now: i64,
}

pub(crate) struct MemoryIndex {
    /// The `memory_epoch` this index reflects.
    pub epoch: i64,
    stemmer: Stemmer,
    /// Stem → term id, sorted (prefix search walks a range of it).
    terms: BTreeMap<String, u32>,
    /// Word as written → term id: stems each distinct word once.
    word_terms: HashMap<String, u32>,
    postings: Vec<Vec<Posting>>,
    /// Live documents per term.
    df: Vec<u32>,
    docs: Vec<Option<Doc>>,
    /// Per slot: weighted length (negative once the memory is gone),
    /// importance factor (0.5 + importance), last update or use, and
    /// importance × recency as of `weights_at`.
    lens: Vec<f32>,
    importance: Vec<f32>,
    touched: Vec<i64>,
    weights: Vec<f32>,
    /// Recency moves slowly (a 30-day half-life): weights are refreshed when
    /// a search comes more than `WEIGHTS_FRESH_MS` after they were computed.
    weights_at: i64,
    slots: HashMap<i64, u32>,
    total_len: f64,
    dead: u32,
    /// Embeddings (when configured), by memory id: the model and the
    /// vector, length 1.
    vectors: HashMap<i64, (Box<str>, Box<[f32]>)>,
    /// Per-slot scratch for a search, reset after each.
    scores: Vec<f32>,
    matched: Vec<u16>,
}

impl MemoryIndex {
    pub fn new(epoch: i64) -> Self {
        Self {
            epoch,
            stemmer: Stemmer::create(Algorithm::English),
            terms: BTreeMap::new(),
            word_terms: HashMap::new(),
            postings: Vec::new(),
            df: Vec::new(),
            docs: Vec::new(),
            lens: Vec::new(),
            importance: Vec::new(),
            touched: Vec::new(),
            weights: Vec::new(),
            weights_at: 0,
            slots: HashMap::new(),
            total_len: 0.0,
            dead: 0,
            vectors: HashMap::new(),
            scores: Vec::new(),
            matched: Vec::new(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// The term id of a word as written, new terms included.
    fn term_of(&mut self, word: &str) -> u32 {
        if let Some(id) = self.word_terms.get(word) {
            return *id;
        }
        let next = self.postings.len() as u32;
        let id = *self.terms.entry(self.stem(word)).or_insert(next);
        if id == next {
            self.postings.push(Vec::new());
            self.df.push(0);
        }
        self.word_terms.insert(word.to_string(), id);
        id
    }

    pub fn insert(&mut self, memory: IndexedMemory<'_>) {
        self.remove(memory.id);
        let mut counts: Vec<(u32, f32)> = Vec::new();
        let text = words(memory.text).map(|w| (w, 1.0));
        let tags = memory.tags.iter().flat_map(|t| words(t)).map(|w| (w, 2.0));
        for (word, weight) in text.chain(tags) {
            let term = self.term_of(&word);
            match counts.iter_mut().find(|(t, _)| *t == term) {
                Some((_, tf)) => *tf += weight,
                None => counts.push((term, weight)),
            }
        }
        let slot = self.docs.len() as u32;
        let len: f32 = counts.iter().map(|(_, tf)| tf).sum();
        for (term, tf) in &counts {
            self.postings[*term as usize].push(Posting { slot, tf: *tf });
            self.df[*term as usize] += 1;
        }
        self.docs.push(Some(Doc {
            id: memory.id,
            tags: memory.tags.into(),
            terms: counts.iter().map(|(t, _)| *t).collect(),
        }));
        self.lens.push(len);
        let importance = 0.5 + memory.importance as f32;
        self.importance.push(importance);
        self.touched.push(memory.touched);
        self.weights
            .push(importance * recency(memory.touched, self.weights_at));
        self.scores.push(0.0);
        self.matched.push(0);
        self.slots.insert(memory.id, slot);
        self.total_len += f64::from(len);
    }

    pub fn remove(&mut self, id: i64) {
        self.vectors.remove(&id);
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let slot = slot as usize;
        if let Some(doc) = self.docs[slot].take() {
            for term in doc.terms.iter() {
                self.df[*term as usize] -= 1;
            }
        }
        self.total_len -= f64::from(self.lens[slot]);
        self.lens[slot] = -1.0;
        self.dead += 1;
        if self.dead > COMPACT_AFTER && self.dead as usize > self.slots.len() {
            self.compact();
        }
    }

    pub fn touch(&mut self, id: i64, at: i64) {
        if let Some(slot) = self.slots.get(&id) {
            let slot = *slot as usize;
            self.touched[slot] = self.touched[slot].max(at);
            self.weights[slot] =
                self.importance[slot] * recency(self.touched[slot], self.weights_at);
        }
    }

    pub fn has_tag(&self, id: i64, tag: &str) -> bool {
        self.slots
            .get(&id)
            .and_then(|slot| self.docs[*slot as usize].as_ref())
            .is_some_and(|doc| doc.tags.iter().any(|t| t == tag))
    }

    /// Keeps a memory's vector (length 1) for `nearest`.
    pub fn set_vector(&mut self, id: i64, model: &str, vector: Vec<f32>) {
        if self.slots.contains_key(&id) {
            self.vectors.insert(id, (model.into(), vector.into()));
        }
    }

    /// Up to `limit` memories by cosine similarity to `query` (length 1)
    /// among the vectors of `model`, weighted by importance and recency.
    pub fn nearest(
        &mut self,
        model: &str,
        query: &[f32],
        limit: usize,
        now: i64,
    ) -> Vec<(i64, f64)> {
        self.refresh_weights(now);
        let mut ranked: Vec<(f32, i64)> = self
            .vectors
            .iter()
            .filter(|(_, (m, v))| **m == *model && v.len() == query.len())
            .filter_map(|(id, (_, v))| {
                let cosine: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
                let slot = *self.slots.get(id)? as usize;
                (cosine > 0.0).then(|| (cosine * self.weights[slot], *id))
            })
            .collect();
        let better = |a: &(f32, i64), b: &(f32, i64)| b.0.total_cmp(&a.0);
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, better);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(better);
        ranked
            .into_iter()
            .map(|(score, id)| (id, f64::from(score)))
            .collect()
    }

    fn compact(&mut self) {
        let lens = &self.lens;
        for list in &mut self.postings {
            list.retain(|p| lens[p.slot as usize] >= 0.0);
        }
        self.dead = 0;
    }

    /// Term ids each query word stands for: its stem; for the last word of
    /// a prefix search, also every indexed word that starts with it.
    fn expand(&self, query: &IndexQuery<'_>) -> Vec<Vec<u32>> {
        let last = query.words.len().saturating_sub(1);
        query
            .words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                let mut ids: Vec<u32> = self
                    .terms
                    .get(&self.stem(word))
                    .copied()
                    .into_iter()
                    .collect();
                if query.prefix && i == last && word.chars().count() >= 3 {
                    ids.extend(
                        self.terms
                            .range::<str, _>((Bound::Included(word.as_str()), Bound::Unbounded))
                            .take_while(|(term, _)| term.starts_with(word.as_str()))
                            .map(|(_, id)| *id),
                    );
                    ids.sort_unstable();
                    ids.dedup();
                }
                ids
            })
            .collect()
    }

    /// Brings importance × recency up to `now` (see `weights_at`).
    fn refresh_weights(&mut self, now: i64) {
        if (now - self.weights_at).abs() <= WEIGHTS_FRESH_MS {
            return;
        }
        self.weights_at = now;
        for ((weight, importance), touched) in self
            .weights
            .iter_mut()
            .zip(&self.importance)
            .zip(&self.touched)
        {
            *weight = importance * recency(*touched, now);
        }
    }

    /// Up to `limit` memory ids with their scores, best first. Memories
    /// that have every query word rank above those that miss some.
    ///
    /// Words are walked rarest first, so a memory with every word is found
    /// by the first one. Once the memories found so far hold `limit` whose
    /// score already beats anything the remaining (common) words could give
    /// a memory without any rarer word, those words only add to memories
    /// found; their long posting lists add no new ones.
    pub fn search(&mut self, query: &IndexQuery<'_>, limit: usize) -> Vec<(i64, f64)> {
        let live = self.slots.len() as f32;
        if live == 0.0 || query.words.is_empty() || limit == 0 {
            return Vec::new();
        }
        self.refresh_weights(query.now);
        let average = (self.total_len as f32 / live).max(1.0);
        let idf = |df: u32| (1.0 + (live - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
        let expanded = self.expand(query);
        let df_of = |ids: &[u32]| ids.iter().map(|id| self.df[*id as usize]).sum::<u32>();
        let mut order: Vec<usize> = (0..expanded.len()).collect();
        order.sort_by_key(|word| df_of(&expanded[*word]));
        // The most one word can add to a memory's BM25.
        let bound: Vec<f32> = expanded
            .iter()
            .map(|ids| {
                ids.iter()
                    .map(|id| idf(self.df[*id as usize]))
                    .fold(0.0, f32::max)
                    * (K1 + 1.0)
            })
            .collect();
        let mut touched: Vec<u32> = Vec::new();
        // Once closed, `touched` is final; common words' posting lists are
        // then galloped through for just those memories (sorted, once).
        let mut open = true;
        let mut sorted = false;
        // A score the `limit`-th best result is sure to reach.
        let mut floor = 0.0f32;
        let mut hits: Vec<(u32, f32)> = Vec::new();
        for (position, word) in order.iter().enumerate() {
            // Worth a look only before a posting list longer than what was found.
            let long = df_of(&expanded[*word]) as usize > touched.len();
            if open && position > 0 && long && touched.len() >= limit {
                let rest: f32 = order[position..].iter().map(|w| bound[*w]).sum();
                // The first memories found (by the rarest words) score best;
                // the `limit`-th best of any of them is a sure floor.
                let mut partial: Vec<f32> = touched[..touched.len().min(8 * limit)]
                    .iter()
                    .map(|slot| self.scores[*slot as usize] * self.weights[*slot as usize])
                    .collect();
                floor = *partial
                    .select_nth_unstable_by(limit - 1, |a, b| b.total_cmp(a))
                    .1;
                open = floor < rest * 1.5;
            }
            for id in &expanded[*word] {
                let list = &self.postings[*id as usize];
                hits.clear();
                if open || touched.len() * 8 > list.len() {
                    hits.extend(list.iter().map(|p| (p.slot, p.tf)));
                } else {
                    if !sorted {
                        touched.sort_unstable();
                        sorted = true;
                    }
                    gallop(list, &touched, &mut hits);
                }
                let idf = idf(self.df[*id as usize]);
                for (slot, tf) in hits.iter().copied() {
                    let at = slot as usize;
                    let len = self.lens[at];
                    if len < 0.0 || (!open && self.matched[at] == 0) {
                        continue;
                    }
                    self.scores[at] +=
                        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / average));
                    if self.matched[at] == 0 {
                        touched.push(slot);
                    }
                    self.matched[at] |= 1 << word;
                }
            }
        }
        let every = (1u32 << expanded.len()) - 1;
        let mut ranked: Vec<(bool, f32, u32)> = Vec::with_capacity(touched.len());
        for slot in touched {
            let at = slot as usize;
            let (bm25, matched) = (self.scores[at], self.matched[at]);
            self.scores[at] = 0.0;
            self.matched[at] = 0;
            if let Some(tag) = query.tag {
                if !self.docs[at]
                    .as_ref()
                    .is_some_and(|doc| doc.tags.iter().any(|t| t == tag))
                {
                    continue;
                }
            }
            let every_word = u32::from(matched) == every;
            let score = bm25 * self.weights[at];
            // Scores only grow from the partial ones the floor came from.
            if every_word || score >= floor {
                ranked.push((every_word, score, slot));
            }
        }
        let better =
            |a: &(bool, f32, u32), b: &(bool, f32, u32)| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, better);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(better);
        ranked
            .into_iter()
            .filter_map(|(_, score, slot)| {
                Some((self.docs[slot as usize].as_ref()?.id, f64::from(score)))
            })
            .collect()
    }
}

/// Reciprocal rank fusion (k = 60) of rankings, best first: a memory
/// ranked well in either, or fairly in both, comes first.
pub(crate) fn fuse(rankings: &[Vec<(i64, f64)>], limit: usize) -> Vec<(i64, f64)> {
    const K: f64 = 60.0;
    let mut fused: HashMap<i64, f64> = HashMap::new();
    for ranking in rankings {
        for (rank, (id, _)) in ranking.iter().enumerate() {
            *fused.entry(*id).or_default() += 1.0 / (K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(i64, f64)> = fused.into_iter().collect();
    fused.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused.truncate(limit);
    fused
}

/// The postings of `list` (sorted by slot) for the slots in `found`
/// (sorted): an exponential search from each hit to the next.
fn gallop(list: &[Posting], found: &[u32], hits: &mut Vec<(u32, f32)>) {
    let mut start = 0;
    for slot in found {
        let mut step = 1;
        while start + step < list.len() && list[start + step].slot < *slot {
            step *= 2;
        }
        let end = (start + step + 1).min(list.len());
        start += list[start..end].partition_point(|p| p.slot < *slot);
        match list.get(start) {
            Some(posting) if posting.slot == *slot => hits.push((posting.slot, posting.tf)),
            Some(_) => {}
            None => break,
        }
    }
}

/// ×1 fresh, toward ×0.5 as the last update or use ages.
fn recency(last_touched: i64, now: i64) -> f32 {
    let age_days = ((now - last_touched).max(0) as f64) / 86_400_000.0;
    (0.5 + 0.5 * (-age_days / RECENCY_HALF_LIFE_DAYS).exp2()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(index: &mut MemoryIndex, id: i64, text: &str, tags: &[&str]) {
        let tags: Vec<String> = tags.iter().map(std::string::ToString::to_string).collect();
        index.insert(IndexedMemory {
            id,
            text,
            tags: &tags,
            importance: 0.5,
            touched: 0,
        });
    }

    fn ids(index: &mut MemoryIndex, text: &str, prefix: bool) -> Vec<i64> {
        let words = query_words(text);
        let query = IndexQuery {
            words: &words,
            prefix,
            tag: None,
            now: 0,
        };
        index
            .search(&query, 10)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn words_fold_case_diacritics_and_stopwords() {
        let found = query_words("The Café's NAÏVE deploy-key, a x deploy");
        assert_eq!(found, vec!["cafe", "naive", "deploy", "key"]);
    }

    #[test]
    fn every_word_first_then_any_word_and_stems_and_prefixes() {
        let mut index = MemoryIndex::new(0);
        add(&mut index, 1, "deploys go to staging", &[]);
        add(&mut index, 2, "staging and production deployments", &[]);
        add(&mut index, 3, "lunch at noon", &["food"]);
        assert_eq!(ids(&mut index, "deploying production", false), vec![2, 1]);
        assert_eq!(ids(&mut index, "lun", true), vec![3]);
        assert_eq!(ids(&mut index, "lun", false), Vec::<i64>::new());
        assert_eq!(ids(&mut index, "food", false), vec![3]);
    }

    #[test]
    fn removed_and_replaced_memories_leave_no_trace() {
        let mut index = MemoryIndex::new(0);
        for id in 0..3000 {
            add(&mut index, id, &format!("note {id} about tea"), &[]);
        }
        for id in 0..2500 {
            index.remove(id);
        }
        add(&mut index, 2999, "coffee only", &[]);
        assert_eq!(index.len(), 500);
        assert_eq!(ids(&mut index, "coffee", false), vec![2999]);
        assert_eq!(ids(&mut index, "10", false), Vec::<i64>::new());
        assert_eq!(ids(&mut index, "tea", false).len(), 10);
        assert!(ids(&mut index, "tea", false)
            .iter()
            .all(|id| (2500..2999).contains(id)));
    }

    /// Skipping common words' new memories never changes the top results:
    /// the same queries with and without room for that shortcut agree.
    #[test]
    fn the_shortcut_for_common_words_keeps_the_exact_top() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Word k appears about 1/k as often as word 1 (Zipf).
        let word = |next: &mut dyn FnMut() -> u64| {
            let rank = 300 / (1 + next() % 300);
            format!("w{rank}")
        };
        let mut index = MemoryIndex::new(0);
        for id in 0..5000 {
            let text: Vec<String> = (0..12).map(|_| word(&mut next)).collect();
            index.insert(IndexedMemory {
                id,
                text: &text.join(" "),
                tags: &[],
                importance: (next() % 100) as f64 / 100.0,
                touched: -((next() % 90) as i64) * 86_400_000,
            });
        }
        for _ in 0..200 {
            let words: Vec<String> = (0..1 + next() % 8).map(|_| word(&mut next)).collect();
            let query = IndexQuery {
                words: &query_words(&words.join(" ")),
                prefix: false,
                tag: None,
                now: 0,
            };
            let quick = index.search(&query, 10);
            let exact = index.search(&query, usize::MAX >> 1);
            let scores = |hits: &[(i64, f64)]| hits.iter().map(|(_, s)| *s).collect::<Vec<_>>();
            assert_eq!(scores(&quick), scores(&exact[..quick.len()]), "{words:?}");
        }
    }
}
