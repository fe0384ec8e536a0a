// The event stream: the connection, what each event changes, and the
// reloads that catch up when events may have been missed.

import { api, ApiError, EventStream } from '../api';
import { agentBus, isAgentStateEvent } from '../agentEvents';
import { applyEvent, loadSnapshot, upsertSession } from '../reducer';
import { browserDraftStorage, moveDraft } from '../drafts';
import type { PerchEvent } from '../types';
import { onAccountEvent } from './account.svelte';
import { onChangeEvent, refreshAgentChanges } from './changes.svelte';
import { onPeerEvent, refreshPeer } from './peer.svelte';
import { onReviewEvent, reloadReview, review } from './review.svelte';
import { loadUsage, onUsageEvent } from './usage.svelte';
import { loadProjects, projects } from './projects.svelte';
import { loadSelectedHistory, selectSession, sessionListQuery } from './sessions.svelte';
import { loadSettings } from './settings.svelte';
import { data, showError } from './store.svelte';

export const connection = $state({
  connected: false,
  /** true once the stream has been up at least once; the indicator shows after that. */
  everConnected: false,
  /** Connection attempts that failed (or dropped) since the stream was last up. */
  failures: 0,
});

/**
 * Perch itself does not answer: the stream is down and a reconnect failed
 * too (a single drop is a "Reconnecting…"). What Codex last said is then
 * stale.
 */
export function perchUnreachable(): boolean {
  return !connection.connected && connection.failures >= 2;
}

let stream: EventStream | null = null;

/** (Re)starts the stream; `onUnauthorized` when it is refused (the session has ended). */
export function startStream(onUnauthorized: () => void): void {
  stream?.stop();
  stream = new EventStream({
    onEvent: handleEvent,
    onConnection: (connected, { resumed }) => {
      connection.connected = connected;
      connection.failures = connected ? 0 : connection.failures + 1;
      if (connected) {
        // A fresh stream (no Last-Event-ID) may have missed events since the
        // last REST load; a resumed one gets them replayed.
        if (connection.everConnected && !resumed) {
          void reloadAll(true);
          agentBus.publish({ type: 'resync' });
        }
        connection.everConnected = true;
      }
    },
    onUnauthorized,
  });
  stream.start();
}

export function stopStream(): void {
  stream?.stop();
  stream = null;
  connection.connected = false;
  connection.everConnected = false;
  connection.failures = 0;
}

function handleEvent(ev: PerchEvent): void {
  const wasOpen = ev.type === 'session.replaced' && data.selectedId === ev.previousId;
  if (ev.type === 'session.replaced') moveDraft(browserDraftStorage(), ev.previousId, ev.session.id);
  const effects = applyEvent(data, ev);
  // The open session moved to a new id: the address follows.
  if (wasOpen && ev.type === 'session.replaced') selectSession(ev.session.id, { loadHistory: false });
  for (const fx of effects) {
    if (fx.type === 'reload') {
      void reloadAll(true);
      agentBus.publish({ type: 'resync' });
    }
  }
  if (isAgentStateEvent(ev)) agentBus.publish(ev);
  if (ev.type === 'peer.message' || ev.type === 'peer.status') onPeerEvent(ev);
  if (ev.type === 'change.pending' || ev.type === 'change.decided') onChangeEvent(ev);
  if (ev.type === 'account.updated' || ev.type === 'account.login') onAccountEvent(ev);
  // Another account (or none) has other limits.
  if (ev.type === 'account.updated') void loadUsage();
  if (ev.type === 'account.usage') onUsageEvent(ev.usage);
  if (ev.type === 'item.completed' || ev.type === 'turn.completed') onReviewEvent(ev);
  // A turn may have changed files: the projects' uncommitted counts follow.
  if (ev.type === 'turn.completed' && projects.list.length > 0) void loadProjects();
  if (ev.type === 'codex.state' && ev.state === 'ready') {
    // A (re)started Codex has a new version, pid and restart count; a
    // restart also applies pending settings.
    void refreshStatus();
    if (data.settings?.restartRequired) void loadSettings().catch(() => {});
  }
}

/** Fetches `/api/status` alone (health, version, warnings). */
export async function refreshStatus(): Promise<void> {
  try {
    const status = await api.status();
    data.status = status;
    data.account = status.account ?? data.account;
    data.codexState = status.codex.state;
    data.codexDetail = status.codex.detail;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(e);
  }
}

let reloading: Promise<void> | null = null;
let again: { withHistory: boolean } | null = null;

/** Reload sessions, status, approvals and (optionally) the open history.
 *  Calls during a reload coalesce into one more reload after it. */
export async function reloadAll(withHistory = false): Promise<void> {
  if (reloading) {
    again = { withHistory: withHistory || (again?.withHistory ?? false) };
    return reloading;
  }
  reloading = (async () => {
    let next: { withHistory: boolean } | null = { withHistory };
    while (next) {
      again = null;
      await reloadOnce(next.withHistory);
      next = again;
    }
  })();
  try {
    await reloading;
  } finally {
    reloading = null;
  }
}

async function reloadOnce(withHistory: boolean): Promise<void> {
  try {
    const [status, sessions, approvals] = await Promise.all([
      api.status(),
      api.listSessions(sessionListQuery()),
      api.listApprovals('pending'),
    ]);
    loadSnapshot(data, { status, sessions: sessions.data, approvals: approvals.data });
    // Peer and change events may have been missed as well (the nav shows
    // the unread count and what waits).
    void refreshPeer();
    void refreshAgentChanges();
    if (data.selectedId && !data.sessions.some((s) => s.id === data.selectedId)) {
      // Selected but filtered out (archived, search): keep it visible.
      try {
        upsertSession(data, await api.getSession(data.selectedId));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) selectSession(null);
      }
    }
    if (withHistory && data.selectedId) await loadSelectedHistory();
    // The open session's review may have missed its events too.
    if (review.sessionId) void reloadReview();
    // Settings changes may have been missed with the events.
    if (data.settings) await loadSettings().catch(() => {});
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(e);
  }
}
