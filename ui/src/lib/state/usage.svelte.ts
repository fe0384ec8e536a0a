// The Codex account's latest rate-limit usage: read once after signing in
// to Perch (and again when the account changes), then kept live by the
// `account.usage` events that follow turns. Words in `../usage.ts`.

import { errMsg } from '../format';
import { fetchUsage, type Usage } from '../usage';

export const usage = $state({
  current: null as Usage | null,
  /** Why the last read failed, in words (the figures, if any, stay). */
  error: null as string | null,
  loading: false,
});

let generation = 0;

/** Reads the usage now (`GET /api/account/usage`). */
export async function loadUsage(): Promise<void> {
  const mine = ++generation;
  usage.loading = true;
  try {
    const next = await fetchUsage();
    if (mine !== generation) return;
    usage.current = next;
    usage.error = null;
  } catch (e) {
    if (mine !== generation) return;
    usage.error = errMsg(e);
  } finally {
    if (mine === generation) usage.loading = false;
  }
}

/** `account.usage` of the stream. */
export function onUsageEvent(next: Usage): void {
  generation += 1; // newer than a read under way
  usage.current = next;
  usage.error = null;
  usage.loading = false;
}

/** Signed out of Perch: forgets the figures. */
export function resetUsage(): void {
  generation += 1;
  usage.current = null;
  usage.error = null;
  usage.loading = false;
}
