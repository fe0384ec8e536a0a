// Search over everything (`GET /api/search`), shared by the sidebar's
// search box and the command palette, and the jump to what a result names.

import { api } from '../api';
import { errMsg } from '../format';
import { navigate } from '../router.svelte';
import type { SearchHit } from '../types';
import { selectSession } from './sessions.svelte';
import { data } from './store.svelte';

/** The longest query the server takes (`MAX_QUERY_CHARS`). */
export const MAX_QUERY_CHARS = 500;
/** Typing settles this long before a search goes out. */
const SETTLE_MS = 150;

export interface SearchBox {
  query: string;
  hits: SearchHit[];
  /** Sources that could not answer (the peer network off). */
  partial: string[];
  /** The query being searched, while its answer is awaited. */
  searching: string | null;
  error: string | null;
}

export function emptySearch(): SearchBox {
  return { query: '', hits: [], partial: [], searching: null, error: null };
}

/** The sidebar's search; the palette has its own box. */
export const sidebarSearch = $state(emptySearch());

/** The transcript item a result jumped to: the chat scrolls to it once. */
export const jumpTarget = $state({ itemId: null as string | null });

const timers = new WeakMap<SearchBox, ReturnType<typeof setTimeout>>();
const latest = new WeakMap<SearchBox, number>();
let sequence = 0;

/** Searches `box.query` once typing settles; an older answer that comes
 *  back late never replaces a newer one. */
export function searchSoon(box: SearchBox): void {
  const pending = timers.get(box);
  if (pending) clearTimeout(pending);
  const q = box.query.trim();
  if (!q) {
    Object.assign(box, emptySearch());
    return;
  }
  if (q.length > MAX_QUERY_CHARS) {
    box.error = `Search takes at most ${MAX_QUERY_CHARS} characters; this is ${q.length}.`;
    box.hits = [];
    return;
  }
  box.searching = q;
  timers.set(
    box,
    setTimeout(() => void run(box, q), SETTLE_MS),
  );
}

async function run(box: SearchBox, q: string): Promise<void> {
  const mine = ++sequence;
  latest.set(box, mine);
  try {
    const res = await api.search(q);
    if (latest.get(box) !== mine) return;
    box.hits = res.hits;
    box.partial = res.partial;
    box.error = null;
  } catch (e) {
    if (latest.get(box) !== mine) return;
    box.hits = [];
    box.error = `Searching failed: ${errMsg(e)}`;
  } finally {
    if (latest.get(box) === mine) box.searching = null;
  }
}

/** Opens what `hit` names: the session (scrolled to the message), the
 *  memory, the plan or the Inbox thread. */
export function openHit(hit: SearchHit): void {
  const target = hit.target;
  switch (target.kind) {
    case 'session':
      navigate({ page: 'chat', sessionId: target.sessionId });
      selectSession(target.sessionId);
      break;
    case 'message':
      jumpTarget.itemId = target.itemId;
      navigate({ page: 'chat', sessionId: target.sessionId });
      if (data.selectedId !== target.sessionId) selectSession(target.sessionId);
      break;
    case 'memory':
      navigate({ page: 'memory', memoryId: target.memoryId });
      break;
    case 'plan':
      navigate({ page: 'planner', planId: target.planId });
      break;
    case 'inbox':
      navigate({ page: 'inbox', threadId: target.threadId });
      break;
  }
}

/** A result's kind, as the list names it. */
export function hitKind(hit: SearchHit): string {
  switch (hit.target.kind) {
    case 'session':
      return 'Session';
    case 'message':
      return hit.target.role === 'user' ? 'You said' : 'Agent said';
    case 'memory':
      return 'Memory';
    case 'plan':
      return 'Plan';
    case 'inbox':
      return 'Inbox';
  }
}

/** A stable key for a result in a keyed list. */
export function hitKey(hit: SearchHit): string {
  const t = hit.target;
  switch (t.kind) {
    case 'session':
      return `s:${t.sessionId}`;
    case 'message':
      return `m:${t.sessionId}:${t.itemId}`;
    case 'memory':
      return `k:${t.memoryId}`;
    case 'plan':
      return `p:${t.planId}:${t.itemId ?? ''}`;
    case 'inbox':
      return `i:${t.messageId}`;
  }
}
