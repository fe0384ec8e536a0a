// Agent changes in the UI: what the agent did, or asks to do, with Perch's
// tools (memories, plans, wakeups, messages to other agents, pairs, tasks),
// with where it came from. A change asked for in a turn answering other
// agents is `pending`: it has no effect until the person accepts it.
//
// The data is a plain object so that it can be unit-tested
// (tests/changes.test.ts); the store (`state/changes.svelte.ts`) passes its
// `$state` proxy in, keeps it live with `change.pending` / `change.decided`
// and shows the pending count in the nav.

import { api, ApiError } from './api';
import { errMsg, pretty } from './format';
import type { AgentChange, ChangeProvenance, ChangeStatus, PeerSender } from './types';

/** The most pending changes loaded (the server's cap): the nav counts them. */
export const PENDING_LIMIT = 500;
/** The history shows this many decided changes, newest first. */
export const HISTORY_LIMIT = 100;

/** The history's filter: every decided status (''), or one. */
export type HistoryFilter = '' | Exclude<ChangeStatus, 'pending'>;

export const HISTORY_FILTERS: { value: HistoryFilter; label: string }[] = [
  { value: '', label: 'All' },
  { value: 'applied', label: 'Applied' },
  { value: 'discarded', label: 'Discarded' },
  { value: 'failed', label: 'Failed' },
];

export type ChangeAction = 'accept' | 'discard';

/** A request on a change that failed, in words for the person. */
export interface ChangeFailure {
  action: ChangeAction;
  /** What failed, with the server's reason. */
  what: string;
  /** What it means for the change. */
  meaning: string;
  /** Whether trying again can help. */
  retry: boolean;
}

export interface ChangesData {
  /** The changes waiting for the person, newest first. */
  pending: AgentChange[];
  pendingLoaded: boolean;
  pendingError: string | null;
  /** Decided changes (applied, discarded, failed), newest first, as the Changes page filters them. */
  history: {
    filter: HistoryFilter;
    items: AgentChange[];
    loaded: boolean;
    loading: boolean;
    error: string | null;
  };
  /** Changes the person decided on the Changes page: shown in place, with
   *  their outcome, until the page is left. */
  decided: AgentChange[];
  /** The request under way, per change id. */
  busy: Record<number, ChangeAction>;
  /** The last request that failed, per change id. */
  failures: Record<number, ChangeFailure>;
  /** Grows with every change learnt from an event or an answer: a load that
   *  overlapped one loads again, so that it does not undo it. */
  updates: number;
}

export function emptyChanges(): ChangesData {
  return {
    pending: [],
    pendingLoaded: false,
    pendingError: null,
    history: { filter: '', items: [], loaded: false, loading: false, error: null },
    decided: [],
    busy: {},
    failures: {},
    updates: 0,
  };
}

/** How many changes wait for the person (the nav's badge). */
export function pendingCount(data: Pick<ChangesData, 'pending'>): number {
  return data.pending.length;
}

/** Newest (highest id) first: the server's order. */
export function sortChanges(list: AgentChange[]): AgentChange[] {
  return list.slice().sort((a, b) => b.id - a.id);
}

/** `change` added to or replaced in `list`, newest first, at most `limit`. */
export function upsertChange(list: AgentChange[], change: AgentChange, limit = Infinity): AgentChange[] {
  return sortChanges([...list.filter((c) => c.id !== change.id), change]).slice(0, limit);
}

/** Whether a decided change belongs in the history under `filter`. */
export function matchesFilter(change: Pick<AgentChange, 'status'>, filter: HistoryFilter): boolean {
  return change.status !== 'pending' && (filter === '' || change.status === filter);
}

/** The change as this data knows it, wherever it is held. */
function held(data: ChangesData, id: number): AgentChange | undefined {
  return (
    data.decided.find((c) => c.id === id) ??
    data.history.items.find((c) => c.id === id) ??
    data.pending.find((c) => c.id === id)
  );
}

function knownDecided(data: ChangesData, id: number): boolean {
  const known = held(data, id);
  return known !== undefined && known.status !== 'pending';
}

/**
 * What the server says a change is now (an event, or the answer to accept or
 * discard): it moves from waiting to the history. A decision is final, so a
 * late `pending` (a replayed event) for a change known decided is ignored.
 */
export function applyChange(data: ChangesData, change: AgentChange): void {
  if (change.status === 'pending' && knownDecided(data, change.id)) return;
  data.updates += 1;
  if (change.status === 'pending') {
    data.pending = upsertChange(data.pending, change, PENDING_LIMIT);
    return;
  }
  data.pending = data.pending.filter((c) => c.id !== change.id);
  // Being decided on the page (the event may come before the answer), or
  // decided there already: its outcome stays in place.
  if (data.busy[change.id] || data.decided.some((c) => c.id === change.id)) {
    data.decided = upsertChange(data.decided, change);
  }
  // Decided (here or elsewhere): an earlier failure no longer applies.
  delete data.failures[change.id];
  const h = data.history;
  if (h.loaded && matchesFilter(change, h.filter)) h.items = upsertChange(h.items, change, HISTORY_LIMIT);
  else if (h.items.some((c) => c.id === change.id)) h.items = h.items.filter((c) => c.id !== change.id);
}

/** The Changes page's waiting list: what waits, and what was just decided there (in place). */
export function waitingList(data: Pick<ChangesData, 'pending' | 'decided'>): AgentChange[] {
  const decided = data.decided.filter((d) => !data.pending.some((p) => p.id === d.id));
  return sortChanges([...data.pending, ...decided]);
}

/** The page is left (or opened): forget the outcomes shown in place. */
export function forgetDecided(data: ChangesData): void {
  data.decided = [];
  for (const id of Object.keys(data.failures).map(Number)) {
    if (!data.pending.some((c) => c.id === id)) delete data.failures[id];
  }
}

// ---------------------------------------------------------------------------
// Words

/** Where a change came from: a lead, then the senders (each with whether the relay authenticated it). */
export function describeProvenance(p: ChangeProvenance): { lead: string; senders: PeerSender[] } {
  switch (p.kind) {
    case 'session':
      return { lead: 'your session', senders: [] };
    case 'peerTurn':
      return p.senders.length > 0
        ? { lead: 'a turn answering', senders: p.senders }
        : { lead: 'a turn answering other agents', senders: [] };
    case 'untied':
      return { lead: 'a call Perch could not tie to one of your turns', senders: [] };
    default:
      return { lead: 'somewhere Perch does not know', senders: [] };
  }
}

/** Where a change came from, in one line: "a turn answering bob, carol (unauthenticated)". */
export function provenanceText(p: ChangeProvenance): string {
  const { lead, senders } = describeProvenance(p);
  if (senders.length === 0) return lead;
  return `${lead} ${senders.map((s) => (s.authenticated ? s.id : `${s.id} (unauthenticated)`)).join(', ')}`;
}

const STATUS_WORDS: Record<ChangeStatus, string> = {
  pending: 'waiting',
  applied: 'applied',
  discarded: 'discarded',
  failed: 'failed',
};

export function statusLabel(status: ChangeStatus): string {
  return STATUS_WORDS[status] ?? status;
}

/** Badge tone of a change's status. */
export function statusTone(status: ChangeStatus): 'ok' | 'err' | 'warn' | '' {
  switch (status) {
    case 'pending':
      return 'warn';
    case 'applied':
      return 'ok';
    case 'failed':
      return 'err';
    default:
      return '';
  }
}

/** The arguments as pretty JSON (shown as text, never as HTML). */
export function argumentsText(args: AgentChange['arguments']): string {
  return pretty(args ?? {}) || '{}';
}

/** What the tool answered, as text ('' when nothing). */
export function resultText(result: unknown): string {
  return result === undefined || result === null ? '' : pretty(result);
}

/** The outcome of a decided change, in a sentence. */
export function outcomeText(change: Pick<AgentChange, 'status' | 'error'>): string {
  switch (change.status) {
    case 'applied':
      return 'Applied: it ran.';
    case 'discarded':
      return 'Discarded: it will never run.';
    case 'failed':
      return `It ran and failed: ${change.error?.trim() || 'Perch gave no reason.'}`;
    default:
      return 'Waiting for you.';
  }
}

/** A failed accept or discard in words: what failed, what it means, whether to retry. */
export function failureOf(action: ChangeAction, e: unknown): ChangeFailure {
  const verb = action === 'accept' ? 'apply' : 'discard';
  const what = `Could not ${verb} this change: ${errMsg(e)}`;
  if (e instanceof ApiError) {
    if (e.status === 409) {
      return {
        action,
        what,
        meaning: 'It no longer waits: it was accepted or discarded already (in another window, or with `perch changes`).',
        retry: false,
      };
    }
    if (e.status === 404) return { action, what, meaning: 'Perch no longer knows this change.', retry: false };
    if (e.status === 503) {
      return { action, what, meaning: 'Perch’s tools are not running yet, so nothing ran. Try again in a moment.', retry: true };
    }
    if (e.status === 0) {
      return {
        action,
        what,
        meaning: action === 'accept' ? 'Perch may not have received it; the change is still shown as waiting.' : 'The change still waits.',
        retry: true,
      };
    }
  }
  return { action, what, meaning: 'The change still waits for you.', retry: true };
}

// ---------------------------------------------------------------------------
// Loads and decisions

function signedOut(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401;
}

/** Loads what waits. A change learnt meanwhile (an event) makes it load again. */
export async function loadPending(data: ChangesData): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = data.updates;
    try {
      const res = await api.changes({ status: 'pending', limit: PENDING_LIMIT });
      if (data.updates !== before && attempt < 2) continue;
      // A change decided meanwhile stays decided (see `applyChange`).
      data.pending = sortChanges(res.data.filter((c) => !knownDecided(data, c.id)));
      data.pendingLoaded = true;
      data.pendingError = null;
    } catch (e) {
      if (!signedOut(e)) data.pendingError = errMsg(e);
    }
    return;
  }
}

let historyRequest = 0;

/** Loads the history under `filter` (the newest request wins). */
export async function loadHistory(data: ChangesData, filter: HistoryFilter = data.history.filter): Promise<void> {
  const request = ++historyRequest;
  const h = data.history;
  if (h.filter !== filter) {
    h.filter = filter;
    h.items = [];
    h.loaded = false;
  }
  h.loading = true;
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = data.updates;
    try {
      const res = await api.changes({ status: filter || undefined, limit: HISTORY_LIMIT });
      if (request !== historyRequest) return;
      if (data.updates !== before && attempt < 2) continue;
      h.items = sortChanges(res.data.filter((c) => matchesFilter(c, filter))).slice(0, HISTORY_LIMIT);
      h.loaded = true;
      h.error = null;
    } catch (e) {
      if (request !== historyRequest) return;
      if (!signedOut(e)) h.error = errMsg(e);
    }
    break;
  }
  if (request === historyRequest) h.loading = false;
}

/** After events may have been missed: what waits, and the history if it is shown. */
export async function refreshChanges(data: ChangesData): Promise<void> {
  await Promise.all([loadPending(data), data.history.loaded ? loadHistory(data) : Promise.resolve()]);
}

/**
 * Accepts (runs) or discards a pending change. Its outcome stays in place
 * (`decided`); a failed request is in `failures`, with whether to retry.
 * Returns the change as the server answered it, or null.
 */
export async function decideChange(data: ChangesData, id: number, action: ChangeAction): Promise<AgentChange | null> {
  if (data.busy[id]) return null;
  data.busy[id] = action;
  delete data.failures[id];
  try {
    const change = action === 'accept' ? await api.acceptChange(id) : await api.discardChange(id);
    data.decided = upsertChange(data.decided, change);
    delete data.busy[id];
    applyChange(data, change);
    return change;
  } catch (e) {
    delete data.busy[id];
    const failure = failureOf(action, e);
    if (e instanceof ApiError && e.status === 409) {
      // Decided elsewhere: show how it ended up, in place.
      try {
        const now = await api.getChange(id);
        if (now.status !== 'pending') data.decided = upsertChange(data.decided, now);
        applyChange(data, now);
      } catch {
        /* the failure says enough */
      }
    } else if (e instanceof ApiError && e.status === 404) {
      data.pending = data.pending.filter((c) => c.id !== id);
    }
    data.failures[id] = failure;
    return null;
  }
}
