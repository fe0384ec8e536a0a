import { describe, expect, it } from 'vitest';
import { clearDraft, loadDraft, moveDraft, saveDraft, type DraftStorage } from '../src/lib/drafts';

function memoryStorage(): DraftStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

describe('drafts', () => {
  it('keeps a draft per session and clears it', () => {
    const s = memoryStorage();
    saveDraft(s, 's1', 'half a thought');
    saveDraft(s, 's2', 'other');
    expect(loadDraft(s, 's1')).toBe('half a thought');
    expect(loadDraft(s, 's3')).toBe('');
    clearDraft(s, 's1');
    expect(loadDraft(s, 's1')).toBe('');
    expect(s.map.size).toBe(1);
  });

  it('moves a draft with its session to a new id, never over a draft there', () => {
    const s = memoryStorage();
    saveDraft(s, 'old', 'typed before the move');
    moveDraft(s, 'old', 'new');
    expect(loadDraft(s, 'new')).toBe('typed before the move');
    expect(loadDraft(s, 'old')).toBe('');
    saveDraft(s, 'a', 'from a');
    saveDraft(s, 'b', 'already in b');
    moveDraft(s, 'a', 'b');
    expect(loadDraft(s, 'b')).toBe('already in b');
  });

  it('drops a blank draft instead of keeping it', () => {
    const s = memoryStorage();
    saveDraft(s, 's1', 'x');
    saveDraft(s, 's1', '   ');
    expect(s.map.size).toBe(0);
  });

  it('works without storage, and when storage throws', () => {
    expect(loadDraft(null, 's1')).toBe('');
    saveDraft(null, 's1', 'x');
    const broken: DraftStorage = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('full');
      },
      removeItem: () => {},
    };
    expect(loadDraft(broken, 's1')).toBe('');
    expect(() => saveDraft(broken, 's1', 'x')).not.toThrow();
  });
});
