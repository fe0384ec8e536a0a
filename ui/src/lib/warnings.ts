// The warnings a person reads and dismisses: the standing ones of
// `/api/status` and the `warning` events, each message shown once. Pure,
// unit-tested in tests/warnings.test.ts.

import type { Warning } from './reducer';

export interface ShownWarning {
  /** What a dismissal remembers: the message. */
  key: string;
  message: string;
  sessionId: string | null;
  /** When the event came; null for a standing warning of the status. */
  at: number | null;
}

/** Dismissed message -> when (ms). */
export type Dismissed = Record<string, number>;

export function warningKey(message: string): string {
  return message.trim();
}

/**
 * The warnings to show: standing ones first, then events newest first; a
 * message already shown is not shown again. A dismissed standing warning
 * stays away; a dismissed event warning comes back only if it happens again
 * after the dismissal.
 */
export function visibleWarnings(standing: readonly string[], events: readonly Warning[], dismissed: Dismissed): ShownWarning[] {
  const out: ShownWarning[] = [];
  const seen = new Set<string>();
  for (const message of standing) {
    const key = warningKey(message);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    if (key in dismissed) continue;
    out.push({ key, message, sessionId: null, at: null });
  }
  const newestFirst = events.slice().sort((a, b) => b.at - a.at);
  for (const w of newestFirst) {
    const key = warningKey(w.message);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    if (key in dismissed && dismissed[key] >= w.at) continue;
    out.push({ key, message: w.message, sessionId: w.sessionId, at: w.at });
  }
  return out;
}

/** Remembers dismissals (keeps the newest `limit`). */
export function dismiss(dismissed: Dismissed, keys: string[], now: number, limit = 200): Dismissed {
  const next: Dismissed = { ...dismissed };
  for (const k of keys) next[k] = now;
  const entries = Object.entries(next);
  if (entries.length <= limit) return next;
  return Object.fromEntries(entries.sort((a, b) => b[1] - a[1]).slice(0, limit));
}
