import { describe, expect, it } from 'vitest';
import {
  contextTokensPatch,
  contextTokensSaved,
  embeddingsOn,
  embeddingsPatch,
  exportFileName,
  exportMimeType,
  importFormatFor,
  importSummary,
  memoryForm,
  memoryPatch,
  memorySettingsForm,
  memorySnippet,
  newMemory,
  parseImportance,
  parseTags,
  scoreHint,
  searchModeLabel,
  sourceLabel,
  tagsText,
} from '../src/lib/memory';
import type { Memory } from '../src/lib/types';

const memory: Memory = {
  id: 7,
  text: 'Prefers dark mode',
  tags: ['ui', 'preferences'],
  source: 'person',
  sourceRef: null,
  senders: [],
  importance: 0.8,
  createdAt: 1,
  updatedAt: 2,
  lastUsedAt: null,
};

describe('tags and importance', () => {
  it('splits tags on commas, trims, drops blanks, # and repeats', () => {
    expect(parseTags('ui, Preferences,, #ui ,\nwork')).toEqual(['ui', 'Preferences', 'work']);
    expect(parseTags('  ')).toEqual([]);
    expect(tagsText(['a', 'b'])).toBe('a, b');
  });

  it('reads importance as a number from 0 to 1 or a percentage', () => {
    expect(parseImportance('0.8')).toBe(0.8);
    expect(parseImportance(' 1 ')).toBe(1);
    expect(parseImportance('80%')).toBe(0.8);
    expect(parseImportance(0.333)).toBe(0.33);
    for (const v of ['', '1.2', '-0.1', 'high', null, undefined]) expect(parseImportance(v), String(v)).toBeNull();
  });
});

describe('memory forms', () => {
  it('sends only what changed', () => {
    const form = memoryForm(memory);
    expect(form).toEqual({ text: 'Prefers dark mode', tags: 'ui, preferences', importance: '0.8' });
    expect(memoryPatch(memory, form)).toEqual({ patch: null });
    expect(memoryPatch(memory, { ...form, text: ' Prefers light mode ' })).toEqual({ patch: { text: 'Prefers light mode' } });
    expect(memoryPatch(memory, { ...form, tags: 'ui', importance: 0.5 })).toEqual({ patch: { tags: ['ui'], importance: 0.5 } });
    expect(memoryPatch(memory, { ...form, text: ' ' })).toEqual({ error: 'A memory needs some text.' });
    expect(memoryPatch(memory, { ...form, importance: '2' })).toHaveProperty('error');
  });

  it('builds a new memory with a default importance', () => {
    expect(newMemory({ text: ' Likes tea ', tags: 'drinks', importance: '' })).toEqual({
      body: { text: 'Likes tea', tags: ['drinks'], importance: 0.5 },
    });
    expect(newMemory({ text: 'x', tags: '', importance: 0.9 })).toEqual({ body: { text: 'x', tags: [], importance: 0.9 } });
    expect(newMemory({ text: '', tags: '', importance: '' })).toHaveProperty('error');
    expect(newMemory({ text: 'x', tags: '', importance: 'lots' })).toHaveProperty('error');
  });
});

describe('files', () => {
  it('picks the import format by extension', () => {
    expect(importFormatFor('memories.jsonl')).toBe('jsonl');
    expect(importFormatFor('x.NDJSON')).toBe('jsonl');
    expect(importFormatFor('export.md')).toBe('markdown');
    expect(importFormatFor('notes.markdown')).toBe('markdown');
    expect(importFormatFor('notes.txt')).toBeNull();
    expect(importFormatFor('jsonl')).toBeNull();
  });

  it('names exports by date and type', () => {
    const now = new Date(2026, 10, 2, 23, 0).getTime();
    expect(exportFileName('jsonl', now)).toBe('perch-memories-2026-11-02.jsonl');
    expect(exportFileName('markdown', now)).toBe('perch-memories-2026-11-02.md');
    expect(exportMimeType('jsonl')).toBe('application/x-ndjson');
    expect(exportMimeType('markdown')).toBe('text/markdown');
    expect(importSummary({ imported: 3, skipped: 1 })).toBe('Imported 3, skipped 1.');
  });
});

describe('presentation', () => {
  it('hints at a search score next to the best', () => {
    expect(scoreHint(2, 2)).toBe('best match');
    expect(scoreHint(1, 2)).toBe('50% of best');
    expect(scoreHint(0.001, 2)).toBe('1% of best');
    expect(scoreHint(0, 0)).toBe('best match');
  });

  it('names sources and shortens text', () => {
    expect(sourceLabel({ source: 'person', sourceRef: null })).toBe('you');
    expect(sourceLabel({ source: 'peer', sourceRef: 'peer-session', senders: ['bob'] })).toBe('a turn answering bob');
    expect(sourceLabel({ source: 'peer', sourceRef: null, senders: ['bob', 'carol'] })).toBe('a turn answering bob, carol');
    expect(sourceLabel({ source: 'peer', sourceRef: null, senders: [] })).toBe('a turn answering other agents');
    expect(sourceLabel({ source: 'session', sourceRef: 's1' })).toBe('a session');
    expect(memorySnippet('\n  first   line \nsecond')).toBe('first line');
    expect(memorySnippet('x'.repeat(100), 10)).toBe('xxxxxxxxx…');
  });
});

describe('memory settings', () => {
  const saved = { context: true, contextTokens: 800, autoArchive: false, embeddingsUrl: null, embeddingsModel: null };

  it('makes a form of the saved settings', () => {
    expect(memorySettingsForm(saved)).toEqual({ contextTokens: '800', embeddingsUrl: '', embeddingsModel: '' });
    expect(
      memorySettingsForm({ ...saved, embeddingsUrl: 'http://127.0.0.1:11434/v1', embeddingsModel: 'nomic-embed-text' }),
    ).toEqual({ contextTokens: '800', embeddingsUrl: 'http://127.0.0.1:11434/v1', embeddingsModel: 'nomic-embed-text' });
  });

  it('sends a changed context budget as a whole number', () => {
    expect(contextTokensPatch(800, '800')).toEqual({ patch: null });
    expect(contextTokensPatch(800, ' 1200 ')).toEqual({ patch: { contextTokens: 1200 } });
    expect(contextTokensPatch(800, 0)).toEqual({ patch: { contextTokens: 0 } });
    // The maximum is the server's to say (its message is shown).
    expect(contextTokensPatch(800, '40000')).toEqual({ patch: { contextTokens: 40000 } });
    for (const v of ['', '-1', '1.5', '1e3', 'lots', null, undefined]) expect(contextTokensPatch(800, v), String(v)).toHaveProperty('error');
    expect(contextTokensSaved(0)).toBe('Saved: no context is added to turns.');
    expect(contextTokensSaved(1200)).toBe('Saved: up to 1200 tokens of context per turn.');
  });

  it('sends the embeddings URL and model together, or clears both', () => {
    expect(embeddingsPatch(' http://127.0.0.1:9/v1 ', ' scripted-embed ')).toEqual({
      patch: { embeddingsUrl: 'http://127.0.0.1:9/v1', embeddingsModel: 'scripted-embed' },
    });
    expect(embeddingsPatch(' ', '')).toEqual({ patch: { embeddingsUrl: null, embeddingsModel: null } });
    expect(embeddingsPatch('http://127.0.0.1:9/v1', ' ')).toEqual({
      error: 'Enter the embedding model as well, or clear both to turn embeddings off.',
    });
    expect(embeddingsPatch('', 'scripted-embed')).toEqual({
      error: 'Enter the embeddings API URL as well, or clear both to turn embeddings off.',
    });
    // The server checks the URL's scheme and the model's form.
    expect(embeddingsPatch('ftp://x', 'm')).toEqual({ patch: { embeddingsUrl: 'ftp://x', embeddingsModel: 'm' } });
  });

  it('names the search mode', () => {
    expect(embeddingsOn(saved)).toBe(false);
    expect(embeddingsOn(null)).toBe(false);
    expect(embeddingsOn({ embeddingsUrl: 'http://x/v1', embeddingsModel: null })).toBe(false);
    expect(embeddingsOn({ embeddingsUrl: 'http://x/v1', embeddingsModel: 'm' })).toBe(true);
    expect(searchModeLabel(saved)).toBe('Full text');
    expect(searchModeLabel(undefined)).toBe('Full text');
    expect(searchModeLabel({ embeddingsUrl: 'http://x/v1', embeddingsModel: 'm' })).toBe('Full text + meaning');
  });
});
