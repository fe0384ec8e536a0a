// Memories in the UI: tags and importance as typed, edits as PATCH bodies,
// file names and formats of export and import, the search score as a hint,
// and the `[memory]` settings the Memory page edits.
// Pure functions, unit-tested in tests/memory.test.ts.

import type { FormValue } from './settings';
import type { Memory, MemoryFormat, MemoryPatch, MemorySettings } from './types';

/** "ui, Preferences, ui" -> ["ui", "Preferences"]: commas (or new lines) separate, blanks and repeats go. */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const t = raw.trim().replace(/^#/, '').trim();
    if (t && !out.some((x) => x.toLowerCase() === t.toLowerCase())) out.push(t);
  }
  return out;
}

export function tagsText(tags: string[]): string {
  return tags.join(', ');
}

/** Importance as typed ("0.8", "80%", or a number input's value), within 0..1 with two decimals, or null. */
export function parseImportance(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const t = String(value).trim();
  if (!t) return null;
  const pct = t.endsWith('%');
  const n = Number(pct ? t.slice(0, -1).trim() : t);
  if (!Number.isFinite(n)) return null;
  const v = pct ? n / 100 : n;
  if (v < 0 || v > 1) return null;
  return Math.round(v * 100) / 100;
}

export function importanceText(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

export interface MemoryForm {
  text: string;
  tags: string;
  /** A number input's value: a number, or text/null when empty. */
  importance: string | number | null;
}

export function memoryForm(m?: Memory): MemoryForm {
  return { text: m?.text ?? '', tags: tagsText(m?.tags ?? []), importance: importanceText(m?.importance ?? 0.5) };
}

/** What the form would change on `m` (only changed fields), or an error to show. */
export function memoryPatch(m: Memory, form: MemoryForm): { patch: MemoryPatch | null } | { error: string } {
  const text = form.text.trim();
  if (!text) return { error: 'A memory needs some text.' };
  const importance = parseImportance(form.importance);
  if (importance === null) return { error: 'Importance is a number from 0 to 1 (for example 0.8).' };
  const tags = parseTags(form.tags);
  const patch: MemoryPatch = {};
  if (text !== m.text) patch.text = text;
  if (tags.join('\n') !== m.tags.join('\n')) patch.tags = tags;
  if (importance !== m.importance) patch.importance = importance;
  return { patch: Object.keys(patch).length > 0 ? patch : null };
}

/** The body of `POST /api/memories` from the form, or an error to show. */
export function newMemory(form: MemoryForm): { body: { text: string; tags: string[]; importance: number } } | { error: string } {
  const text = form.text.trim();
  if (!text) return { error: 'Write what the agent should remember.' };
  const importance = String(form.importance ?? '').trim() ? parseImportance(form.importance) : 0.5;
  if (importance === null) return { error: 'Importance is a number from 0 to 1 (for example 0.8).' };
  return { body: { text, tags: parseTags(form.tags), importance } };
}

/** The format of a file to import, from its name, or null. */
export function importFormatFor(fileName: string): MemoryFormat | null {
  const ext = /\.([a-z0-9]+)$/i.exec(fileName.trim())?.[1]?.toLowerCase();
  if (ext === 'jsonl' || ext === 'ndjson' || ext === 'json') return 'jsonl';
  if (ext === 'md' || ext === 'markdown') return 'markdown';
  return null;
}

/** `perch-memories-2026-11-22.jsonl` / `.md` (local date). */
export function exportFileName(format: MemoryFormat, now = Date.now()): string {
  const d = new Date(now);
  const date = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return `perch-memories-${date}.${format === 'jsonl' ? 'jsonl' : 'md'}`;
}

export function exportMimeType(format: MemoryFormat): string {
  return format === 'jsonl' ? 'application/x-ndjson' : 'text/markdown';
}

/** A search result's score next to the best one: "best match", "62% of best". */
export function scoreHint(score: number, best: number): string {
  if (!(best > 0) || score >= best) return 'best match';
  return `${Math.max(1, Math.round((score / best) * 100))}% of best`;
}

/** "imported 3, skipped 1" for people. */
export function importSummary(r: { imported: number; skipped: number }): string {
  return `Imported ${r.imported}, skipped ${r.skipped}.`;
}

/** Where a memory came from, in words: "you", "a session", "a turn answering bob, carol". */
export function sourceLabel(m: Pick<Memory, 'source' | 'sourceRef'> & { senders?: string[] }): string {
  switch (m.source) {
    case 'person':
      return 'you';
    case 'session':
      return 'a session';
    case 'peer':
      // A turn answering other agents asked for it (and the person accepted it).
      return m.senders?.length ? `a turn answering ${m.senders.join(', ')}` : 'a turn answering other agents';
    default:
      return m.source;
  }
}

/** The first line of a memory, at most `max` characters (labels, lists). */
export function memorySnippet(text: string, max = 60): string {
  const line = text.split(/\r\n|\r|\n/).find((l) => l.trim()) ?? '';
  const t = line.trim().replace(/\s+/g, ' ');
  return t.length > max ? t.slice(0, max - 1).trimEnd() + '…' : t;
}

// ---------------------------------------------------------------------------
// `[memory]` settings (PATCH /api/settings {memory})

/** The text fields of the Memory settings section (an empty field is "not set"). */
export interface MemorySettingsForm {
  [key: string]: FormValue;
  contextTokens: string;
  embeddingsUrl: string;
  embeddingsModel: string;
}

export function memorySettingsForm(m: MemorySettings): MemorySettingsForm {
  return {
    contextTokens: String(m.contextTokens),
    embeddingsUrl: m.embeddingsUrl ?? '',
    embeddingsModel: m.embeddingsModel ?? '',
  };
}

/**
 * The context budget as typed: `{ patch: null }` when it is the saved one, or
 * an error to show. Only "a whole number, not negative" is checked here; the
 * server says what the most is (32000).
 */
export function contextTokensPatch(
  saved: number,
  value: string | number | null | undefined,
): { patch: { contextTokens: number } | null } | { error: string } {
  const t = String(value ?? '').trim();
  if (!/^\d+$/.test(t)) return { error: 'The context budget is a whole number of tokens (0 adds nothing).' };
  const n = Number(t);
  return { patch: n === saved ? null : { contextTokens: n } };
}

/**
 * The embeddings endpoint as typed: both (trimmed) or neither (`null`s clear
 * them), or an error to show. The server checks the URL and the model.
 */
export function embeddingsPatch(
  url: string,
  model: string,
): { patch: { embeddingsUrl: string | null; embeddingsModel: string | null } } | { error: string } {
  const u = url.trim();
  const m = model.trim();
  if (!u && m) return { error: 'Enter the embeddings API URL as well, or clear both to turn embeddings off.' };
  if (u && !m) return { error: 'Enter the embedding model as well, or clear both to turn embeddings off.' };
  return { patch: { embeddingsUrl: u || null, embeddingsModel: m || null } };
}

/** Search ranks by meaning too: an embeddings URL and model are both set. */
export function embeddingsOn(m: Pick<MemorySettings, 'embeddingsUrl' | 'embeddingsModel'> | null | undefined): boolean {
  return !!m?.embeddingsUrl && !!m.embeddingsModel;
}

/** How memories are searched, for the badge by the search box. */
export function searchModeLabel(m: Pick<MemorySettings, 'embeddingsUrl' | 'embeddingsModel'> | null | undefined): string {
  return embeddingsOn(m) ? 'Full text + meaning' : 'Full text';
}

/** What a saved context budget means, for the status line. */
export function contextTokensSaved(n: number): string {
  return n === 0 ? 'Saved: no context is added to turns.' : `Saved: up to ${n} tokens of context per turn.`;
}
