// The warnings the person has dismissed (kept in the tab's sessionStorage,
// so a reload does not bring them back). Which to show is in `../warnings.ts`.

import { dismiss, visibleWarnings, type Dismissed, type ShownWarning } from '../warnings';
import { data } from './store.svelte';

const STORAGE_KEY = 'perch.dismissedWarnings';

function stored(): Dismissed {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? '{}');
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Dismissed) : {};
  } catch {
    return {}; // no storage, or not ours
  }
}

export const warningsSeen = $state({ dismissed: stored() });

/** The warnings to show now: each message once, the dismissed ones left out. */
export function shownWarnings(): ShownWarning[] {
  return visibleWarnings(data.status?.warnings ?? [], data.warnings, warningsSeen.dismissed);
}

export function dismissWarnings(keys: string[]): void {
  warningsSeen.dismissed = dismiss(warningsSeen.dismissed, keys, Date.now());
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(warningsSeen.dismissed));
  } catch {
    /* kept for this page only */
  }
}
