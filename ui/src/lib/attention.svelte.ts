// What tells the person, outside the page, that Perch waits for them: the
// count of pending approvals in the tab's title ("(2) Perch — Chat"), and a
// browser notification when an approval arrives while the tab is hidden.
// Notifications only once the person allowed them (Settings' "Allow browser
// notifications" button): the browser is never asked on load.
//
// `trackAttention()` is called once, from App.svelte's script.

import { approvalKindLabel } from './format';
import { navigate, router } from './router.svelte';
import { PAGE_TITLES } from './routes';
import { auth, data } from './state.svelte';
import type { Approval } from './types';

/** The title with the count in front when something waits: "(2) Perch — Chat". */
export function titleWithCount(base: string, pending: number): string {
  return pending > 0 ? `(${pending}) ${base}` : base;
}

/** The approvals waiting for an answer, oldest first. */
export function pendingApprovals(approvals: Record<string, Approval>): Approval[] {
  return Object.values(approvals)
    .filter((a) => a.status === 'pending')
    .sort((a, b) => a.createdAt - b.createdAt);
}

/** A notification's words for an approval: what it asks, and first what in
 *  it is destructive (as the desktop notification has it). */
export function approvalNotice(a: Approval): { title: string; body: string } {
  const careful = a.dangers.length > 0 ? `Careful: ${a.dangers.join('; ')}\n` : '';
  return { title: `Perch — ${approvalKindLabel(a.kind)}`, body: careful + a.title };
}

export type BrowserPermission = NotificationPermission | 'unsupported';

function currentPermission(): BrowserPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Whether this browser may show Perch's notifications. */
export const browserNotifications = $state({ permission: currentPermission() });

/** Asks the browser; only from the person's click in Settings. */
export async function allowBrowserNotifications(): Promise<BrowserPermission> {
  if (typeof Notification === 'undefined') return (browserNotifications.permission = 'unsupported');
  const answer = await Notification.requestPermission();
  browserNotifications.permission = answer;
  return answer;
}

function notify(a: Approval): void {
  const { title, body } = approvalNotice(a);
  try {
    // One per approval, also with Perch open in several tabs.
    const n = new Notification(title, { body, tag: `perch-approval-${a.id}` });
    n.onclick = () => {
      window.focus();
      navigate({ page: 'dashboard', approvals: true, approvalId: a.id });
      n.close();
    };
  } catch {
    // Some browsers only notify from a service worker: the title still counts.
  }
}

/** Keeps the tab's title and the notifications in step with the pending
 *  approvals. Call once, while a component initialises (it owns the effects). */
export function trackAttention(): void {
  $effect(() => {
    const signedIn = auth.status === 'signedIn';
    const base = auth.status === 'signedOut' ? 'Perch — Sign in' : PAGE_TITLES[router.route.page];
    document.title = titleWithCount(base, signedIn ? pendingApprovals(data.approvals).length : 0);
  });

  // Approvals already told about (or seen while the tab was visible).
  const seen = new Set<string>();
  $effect(() => {
    if (auth.status !== 'signedIn') {
      seen.clear();
      return;
    }
    for (const a of pendingApprovals(data.approvals)) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      if (document.visibilityState === 'hidden' && browserNotifications.permission === 'granted') notify(a);
    }
  });
}
