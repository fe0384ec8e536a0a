//! Memory export and import: JSONL (one memory per line, lossless) and
//! Markdown (a readable list a person can edit and import again).
//!
//! Markdown format: a `- ` bullet per memory; continuation lines are
//! indented two spaces; an indented last line of `key: value` pairs joined
//! by ` · ` holds the metadata (tags, importance, source, created, updated).
//! Any other Markdown bullet list imports too, one memory per bullet.

use super::{
    validate_importance, validate_tags, validate_text, Memory, MemoryRow, MemorySource, Origin,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use stdx::now_ms;

const MAX_REPORTED_ERRORS: usize = 10;

pub(crate) struct Parsed {
    pub rows: Vec<MemoryRow>,
    pub skipped: usize,
    pub errors: Vec<String>,
}

impl Parsed {
    fn skip(&mut self, why: String) {
        self.skipped += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(why);
        }
    }
}

pub(crate) fn to_jsonl(memories: &[Memory]) -> String {
    let mut out = String::new();
    for memory in memories {
        if let Ok(line) = serde_json::to_string(memory) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn parse_iso(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

pub(crate) fn to_markdown(memories: &[Memory]) -> String {
    let mut out = String::from("# Perch memories\n\n");
    for m in memories {
        let mut lines = m.text.lines();
        out.push_str(&format!("- {}\n", lines.next().unwrap_or_default()));
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
        let mut meta = Vec::new();
        if !m.tags.is_empty() {
            meta.push(format!("tags: {}", m.tags.join(", ")));
        }
        meta.push(format!("importance: {}", m.importance));
        meta.push(format!(
            "source: {}",
            serde_json::to_value(m.source)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        ));
        meta.push(format!("created: {}", iso(m.created_at)));
        meta.push(format!("updated: {}", iso(m.updated_at)));
        out.push_str(&format!("  {}\n", meta.join(" · ")));
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportedMemory {
    text: String,
    #[serde(default)]
    tags: Vec<String>,
    importance: Option<f64>,
    source: Option<MemorySource>,
    source_ref: Option<String>,
    #[serde(default)]
    senders: Vec<String>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

fn to_row(m: ImportedMemory, now: i64) -> perch_runtime::Result<MemoryRow> {
    let created_at = m.created_at.unwrap_or(now);
    Ok(MemoryRow {
        text: validate_text(&m.text)?,
        tags: validate_tags(m.tags)?,
        origin: Origin {
            source: m.source.unwrap_or(MemorySource::Person),
            source_ref: m.source_ref,
            senders: m.senders,
        },
        importance: validate_importance(m.importance)?,
        created_at,
        updated_at: m.updated_at.unwrap_or(created_at),
    })
}

pub(crate) fn from_jsonl(text: &str) -> Parsed {
    let now = now_ms();
    let mut parsed = Parsed {
        rows: Vec::new(),
        skipped: 0,
        errors: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str::<ImportedMemory>(line)
            .map_err(|e| e.to_string())
            .and_then(|m| to_row(m, now).map_err(|e| e.to_string()));
        match row {
            Ok(row) => parsed.rows.push(row),
            Err(why) => parsed.skip(format!("line {}: {why}", n + 1)),
        }
    }
    parsed
}

/// The metadata line of the export, or `None` when the line is text.
fn parse_meta(line: &str) -> Option<Vec<(String, String)>> {
    const KEYS: &[&str] = &["tags", "importance", "source", "created", "updated"];
    let mut pairs = Vec::new();
    for part in line.split(" · ") {
        let (key, value) = part.split_once(':')?;
        let key = key.trim();
        if !KEYS.contains(&key) {
            return None;
        }
        pairs.push((key.to_string(), value.trim().to_string()));
    }
    Some(pairs)
}

fn markdown_item(lines: &[&str], now: i64) -> perch_runtime::Result<MemoryRow> {
    let mut text_lines: Vec<&str> = lines.to_vec();
    let mut item = ImportedMemory {
        text: String::new(),
        tags: Vec::new(),
        importance: None,
        source: None,
        source_ref: None,
        senders: Vec::new(),
        created_at: None,
        updated_at: None,
    };
    if let Some(meta) = text_lines
        .last()
        .filter(|_| text_lines.len() > 1)
        .and_then(|l| parse_meta(l.trim()))
    {
        text_lines.pop();
        for (key, value) in meta {
            match key.as_str() {
                "tags" => item.tags = value.split(',').map(|t| t.trim().to_string()).collect(),
                "importance" => {
                    item.importance = Some(value.parse().map_err(|_| {
                        perch_runtime::Error::Invalid(format!(
                            "importance {value:?} is not a number"
                        ))
                    })?)
                }
                "source" => {
                    item.source = serde_json::from_value(serde_json::Value::String(value)).ok()
                }
                "created" => item.created_at = parse_iso(&value),
                "updated" => item.updated_at = parse_iso(&value),
                _ => {}
            }
        }
    }
    item.text = text_lines.join("\n");
    to_row(item, now)
}

pub(crate) fn from_markdown(text: &str) -> Parsed {
    let now = now_ms();
    let mut parsed = Parsed {
        rows: Vec::new(),
        skipped: 0,
        errors: Vec::new(),
    };
    // Each bullet with its indented continuation lines.
    let mut items: Vec<(usize, Vec<&str>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            items.push((n + 1, vec![rest]));
        } else if let (Some(stripped), Some((_, lines))) =
            (line.strip_prefix("  "), items.last_mut())
        {
            lines.push(stripped);
        }
    }
    for (n, lines) in items {
        match markdown_item(&lines, now) {
            Ok(row) => parsed.rows.push(row),
            Err(why) => parsed.skip(format!("line {n}: {why}")),
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(text: &str, tags: &[&str]) -> Memory {
        Memory {
            id: 1,
            text: text.into(),
            tags: tags.iter().map(std::string::ToString::to_string).collect(),
            source: MemorySource::Session,
            source_ref: Some("thr_1".into()),
            importance: 0.8,
            created_at: 1_763_800_000_000,
            updated_at: 1_763_800_100_000,
            last_used_at: None,
            senders: Vec::new(),
            score: None,
        }
    }

    #[test]
    fn markdown_round_trips_text_tags_and_times() {
        let memories = [
            memory("Prefers dark mode\nin every app", &["ui", "prefs"]),
            memory("Short one", &[]),
        ];
        let parsed = from_markdown(&to_markdown(&memories));
        assert_eq!(parsed.skipped, 0, "{:?}", parsed.errors);
        assert_eq!(parsed.rows.len(), 2);
        let first = &parsed.rows[0];
        assert_eq!(first.text, "Prefers dark mode\nin every app");
        assert_eq!(first.tags, vec!["ui", "prefs"]);
        assert_eq!(first.importance, 0.8);
        assert_eq!(first.origin.source, MemorySource::Session);
        assert_eq!(
            (first.created_at, first.updated_at),
            (1_763_800_000_000, 1_763_800_100_000)
        );
    }

    #[test]
    fn any_bullet_list_imports_and_bad_lines_are_reported() {
        let parsed = from_markdown(
            "# Notes\n\n- plain bullet\n* star bullet\n  continued\n-   \nnot a bullet\n",
        );
        let texts: Vec<&str> = parsed.rows.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, vec!["plain bullet", "star bullet\ncontinued"]);
        assert_eq!(parsed.skipped, 1);
        let parsed =
            from_jsonl("{\"text\":\"ok\",\"id\":7,\"score\":1}\n\nnot json\n{\"text\":\"\"}\n");
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.skipped, 2);
        assert!(
            parsed.errors[0].starts_with("line 3:"),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn jsonl_round_trips() {
        let memories = [memory("one", &["a"]), memory("two", &[])];
        let parsed = from_jsonl(&to_jsonl(&memories));
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].origin.source_ref.as_deref(), Some("thr_1"));
    }
}
