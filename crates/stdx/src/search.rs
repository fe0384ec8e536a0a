//! What a search box's text means, once for every index: the words sought
//! ([`Terms`]), SQLite FTS5's query for them, and the line of a text that
//! matches them best, cut into matched and unmatched spans.

/// At most this many words count; the rest of a query is ignored.
pub const MAX_TERMS: usize = 12;
/// A matching line is cut to about this many characters around its match.
pub const LINE_CHARS: usize = 160;

/// The distinct words of a query, lower-case, in order. Each matches a word
/// of a text that starts with it ("deploy" finds "deploying").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms(Vec<String>);

impl Terms {
    /// `None` when the query has no word (only punctuation or spaces).
    pub fn parse(query: &str) -> Option<Self> {
        let mut terms: Vec<String> = Vec::new();
        for word in query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            if !terms.contains(&word) {
                terms.push(word);
            }
            if terms.len() == MAX_TERMS {
                break;
            }
        }
        (!terms.is_empty()).then_some(Self(terms))
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// FTS5's query: every word, each as a prefix. Words are alphanumeric
    /// and quoted, so nothing in them is FTS5 syntax.
    pub fn fts5_query(&self) -> String {
        self.0
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// How many of the words `text` contains (as word prefixes).
    pub fn count_in(&self, text: &str) -> usize {
        let found = words_of(text).map(|(_, w)| w.to_lowercase()).fold(
            vec![false; self.0.len()],
            |mut found, word| {
                for (i, term) in self.0.iter().enumerate() {
                    found[i] |= word.starts_with(term.as_str());
                }
                found
            },
        );
        found.into_iter().filter(|f| *f).count()
    }
}

/// One piece of a matching line: a matched word or the text between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub matched: bool,
}

/// The line of `text` with the most of `terms`, cut to about
/// [`LINE_CHARS`] around its first match, as spans; and how many distinct
/// terms it has. A text without any gives its first line and 0.
pub fn matching_line(text: &str, terms: &Terms) -> (Vec<Span>, usize) {
    let best = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| (line, terms.count_in(line)))
        .fold(None::<(&str, usize)>, |best, (line, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((line, n)),
        });
    let Some((line, found)) = best else {
        return (Vec::new(), 0);
    };
    let matches: Vec<(usize, usize)> = words_of(line)
        .filter(|(_, w)| {
            let w = w.to_lowercase();
            terms.0.iter().any(|t| w.starts_with(t.as_str()))
        })
        .map(|(start, w)| (start, start + w.len()))
        .collect();
    let (from, to) = window(line, matches.first().map_or(0, |m| m.0));
    let mut spans = Vec::new();
    let mut at = from;
    if from > 0 {
        spans.push(Span {
            text: "…".into(),
            matched: false,
        });
    }
    for (start, end) in matches.into_iter().filter(|(s, e)| *s >= from && *e <= to) {
        if start > at {
            spans.push(Span {
                text: line[at..start].into(),
                matched: false,
            });
        }
        spans.push(Span {
            text: line[start..end].into(),
            matched: true,
        });
        at = end;
    }
    let tail = if to < line.len() { "…" } else { "" };
    if at < to || !tail.is_empty() {
        spans.push(Span {
            text: format!("{}{tail}", &line[at..to]),
            matched: false,
        });
    }
    (spans, found)
}

/// Byte range of about [`LINE_CHARS`] characters of `line` that shows the
/// match at `first` with some words before it, on char boundaries.
fn window(line: &str, first: usize) -> (usize, usize) {
    let chars: Vec<usize> = line.char_indices().map(|(i, _)| i).collect();
    if chars.len() <= LINE_CHARS {
        return (0, line.len());
    }
    let first_char = chars.partition_point(|&i| i < first);
    let start_char = first_char.saturating_sub(LINE_CHARS / 4);
    let end_char = (start_char + LINE_CHARS).min(chars.len());
    let start_char = end_char.saturating_sub(LINE_CHARS);
    let to = chars.get(end_char).copied().unwrap_or(line.len());
    (chars[start_char], to)
}

/// The alphanumeric words of `text` with their byte offsets.
fn words_of(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = None;
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| {
                if s.matched {
                    format!("[{}]", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect()
    }

    fn terms(query: &str) -> Result<Terms, String> {
        Terms::parse(query).ok_or_else(|| format!("no words in {query:?}"))
    }

    #[test]
    fn a_query_becomes_distinct_lowercase_words_quoted_as_prefixes() -> Result<(), String> {
        let parsed = terms("Deploy \"the\" deploy; NEAR(x)*")?;
        assert_eq!(parsed.words(), ["deploy", "the", "near", "x"]);
        assert_eq!(
            parsed.fts5_query(),
            "\"deploy\"* AND \"the\"* AND \"near\"* AND \"x\"*"
        );
        assert_eq!(Terms::parse("  ;;; ** "), None);
        let many = "a b c d e f g h i j k l m n ".repeat(500);
        assert_eq!(terms(&many)?.words().len(), MAX_TERMS);
        Ok(())
    }

    #[test]
    fn the_line_with_most_words_is_shown_with_its_matches_marked() -> Result<(), String> {
        let sought = terms("flaky deploy")?;
        let text = "First line\nthe deploy step\nDeploying was flaky again\nlast";
        let (spans, found) = matching_line(text, &sought);
        assert_eq!(found, 2);
        assert_eq!(shown(&spans), "[Deploying] was [flaky] again");
        let (spans, found) = matching_line("nothing here\nat all", &sought);
        assert_eq!((shown(&spans).as_str(), found), ("nothing here", 0));
        assert_eq!(matching_line("", &sought), (Vec::new(), 0));
        Ok(())
    }

    #[test]
    fn a_long_line_is_cut_around_its_match_on_char_boundaries() -> Result<(), String> {
        let line = format!("{} needle {}", "é".repeat(300), "ü".repeat(300));
        let (spans, _) = matching_line(&line, &terms("needle")?);
        let text = shown(&spans);
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert!(text.contains("[needle]"));
        assert!(
            text.chars().count() <= LINE_CHARS + 4,
            "{}",
            text.chars().count()
        );
        Ok(())
    }
}
