// The composer's unsent text per session, kept in the tab's sessionStorage
// so that it survives a reconnect and a reload (and goes with the tab).
// Unit-tested in tests/drafts.test.ts with a stand-in storage.

/** The part of the Web Storage API used here. */
export type DraftStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const PREFIX = 'perch.draft.';

/** The tab's sessionStorage, or null where there is none (tests, a locked-down webview). */
export function browserDraftStorage(): DraftStorage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // access denied
  }
}

export function loadDraft(storage: DraftStorage | null, sessionId: string): string {
  try {
    return storage?.getItem(PREFIX + sessionId) ?? '';
  } catch {
    return '';
  }
}

/** Keeps the text; an empty (blank) one removes the draft. */
export function saveDraft(storage: DraftStorage | null, sessionId: string, text: string): void {
  try {
    if (text.trim()) storage?.setItem(PREFIX + sessionId, text);
    else storage?.removeItem(PREFIX + sessionId);
  } catch {
    /* full or denied: the draft lives only in the page */
  }
}

export function clearDraft(storage: DraftStorage | null, sessionId: string): void {
  saveDraft(storage, sessionId, '');
}

/** A session that moved to a new id (`session.replaced`) keeps its draft. */
export function moveDraft(storage: DraftStorage | null, from: string, to: string): void {
  const text = loadDraft(storage, from);
  if (text && !loadDraft(storage, to)) saveDraft(storage, to, text);
  clearDraft(storage, from);
}
