import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../src/lib/api';
import {
  applyChange,
  argumentsText,
  decideChange,
  describeProvenance,
  emptyChanges,
  failureOf,
  forgetDecided,
  loadHistory,
  loadPending,
  matchesFilter,
  outcomeText,
  pendingCount,
  provenanceText,
  statusTone,
  upsertChange,
  waitingList,
  type ChangesData,
} from '../src/lib/changes';
import type { AgentChange, ChangeProvenance } from '../src/lib/types';

const PEER_TURN: ChangeProvenance = {
  kind: 'peerTurn',
  sessionId: 'peer-session',
  senders: [
    { id: 'bob', authenticated: true },
    { id: 'carol', authenticated: false },
  ],
};

function change(id: number, over: Partial<AgentChange> = {}): AgentChange {
  return {
    id,
    tool: 'memory_add',
    arguments: { text: `fact ${id}` },
    summary: `Remember “fact ${id}”`,
    provenance: PEER_TURN,
    status: 'pending',
    result: null,
    error: null,
    createdAt: 1000 * id,
    decidedAt: null,
    ...over,
  };
}

const applied = (id: number, over: Partial<AgentChange> = {}) =>
  change(id, { status: 'applied', result: { id: 40 + id }, decidedAt: 1000 * id + 500, ...over });

const ids = (list: AgentChange[]) => list.map((c) => c.id);

describe('live changes (change.pending / change.decided)', () => {
  it('lists what waits, newest first, and counts it', () => {
    const data = emptyChanges();
    expect(pendingCount(data)).toBe(0);
    applyChange(data, change(1));
    applyChange(data, change(3));
    applyChange(data, change(2));
    expect(ids(data.pending)).toEqual([3, 2, 1]);
    expect(pendingCount(data)).toBe(3);
    // The same change again replaces it.
    applyChange(data, change(2, { summary: 'again' }));
    expect(ids(data.pending)).toEqual([3, 2, 1]);
    expect(data.pending[1].summary).toBe('again');
  });

  it('moves a decided change from waiting to the history (when it is shown and fits the filter)', () => {
    const data = emptyChanges();
    for (const id of [1, 2, 3]) applyChange(data, change(id));
    // History not loaded yet: nothing is added to it.
    applyChange(data, applied(1));
    expect(ids(data.pending)).toEqual([3, 2]);
    expect(data.history.items).toEqual([]);

    data.history = { filter: '', items: [], loaded: true, loading: false, error: null };
    applyChange(data, change(2, { status: 'discarded', decidedAt: 2500 }));
    applyChange(data, applied(3));
    expect(ids(data.pending)).toEqual([]);
    expect(pendingCount(data)).toBe(0);
    expect(ids(data.history.items)).toEqual([3, 2]);

    data.history.filter = 'failed';
    data.history.items = [];
    applyChange(data, applied(4));
    expect(data.history.items).toEqual([]);
    applyChange(data, change(5, { status: 'failed', error: 'no such plan', decidedAt: 5100 }));
    expect(ids(data.history.items)).toEqual([5]);
  });

  it('ignores a late `pending` for a change known decided (a decision is final)', () => {
    const data = emptyChanges();
    data.history.loaded = true;
    applyChange(data, change(7));
    applyChange(data, applied(7));
    applyChange(data, change(7)); // replayed after a reconnect
    expect(pendingCount(data)).toBe(0);
    expect(data.history.items[0].status).toBe('applied');
  });

  it('keeps a change decided on the page in place, and clears its failure', () => {
    const data = emptyChanges();
    applyChange(data, change(1));
    applyChange(data, change(2));
    data.busy[2] = 'accept';
    data.failures[2] = failureOf('accept', new ApiError(503, 'unavailable', 'tools are starting'));
    // The event comes before the answer to accept.
    applyChange(data, applied(2));
    expect(ids(data.pending)).toEqual([1]);
    expect(ids(data.decided)).toEqual([2]);
    expect(data.failures[2]).toBeUndefined();
    expect(waitingList(data).map((c) => [c.id, c.status])).toEqual([
      [2, 'applied'],
      [1, 'pending'],
    ]);
    // Leaving the page forgets it.
    delete data.busy[2];
    forgetDecided(data);
    expect(ids(waitingList(data))).toEqual([1]);
  });

  it('drops a change decided elsewhere from waiting without showing it in place', () => {
    const data = emptyChanges();
    applyChange(data, change(1));
    applyChange(data, change(1, { status: 'discarded', decidedAt: 1200 }));
    expect(waitingList(data)).toEqual([]);
  });

  it('upserts newest first with a limit', () => {
    const list = [change(5), change(3)];
    expect(ids(upsertChange(list, change(4)))).toEqual([5, 4, 3]);
    expect(ids(upsertChange(list, change(9), 2))).toEqual([9, 5]);
  });
});

describe('words', () => {
  it('says where a change came from', () => {
    expect(describeProvenance(PEER_TURN)).toEqual({ lead: 'a turn answering', senders: PEER_TURN.senders });
    expect(provenanceText(PEER_TURN)).toBe('a turn answering bob, carol (unauthenticated)');
    expect(provenanceText({ kind: 'peerTurn', sessionId: null, senders: [] })).toBe('a turn answering other agents');
    expect(provenanceText({ kind: 'untied', sessionId: null, senders: [] })).toBe('a call Perch could not tie to one of your turns');
    expect(provenanceText({ kind: 'session', sessionId: 's1', senders: [] })).toBe('your session');
  });

  it('tones statuses and says outcomes', () => {
    expect(statusTone('pending')).toBe('warn');
    expect(statusTone('applied')).toBe('ok');
    expect(statusTone('failed')).toBe('err');
    expect(statusTone('discarded')).toBe('');
    expect(outcomeText(applied(1))).toBe('Applied: it ran.');
    expect(outcomeText(change(1, { status: 'discarded' }))).toBe('Discarded: it will never run.');
    expect(outcomeText(change(1, { status: 'failed', error: 'plan 9 does not exist' }))).toBe('It ran and failed: plan 9 does not exist');
    expect(outcomeText(change(1, { status: 'failed', error: null }))).toBe('It ran and failed: Perch gave no reason.');
  });

  it('filters the history by decided status', () => {
    expect(matchesFilter(change(1), '')).toBe(false);
    expect(matchesFilter(applied(1), '')).toBe(true);
    expect(matchesFilter(applied(1), 'applied')).toBe(true);
    expect(matchesFilter(applied(1), 'failed')).toBe(false);
  });

  it('shows arguments as pretty JSON text (markup stays text)', () => {
    expect(argumentsText({ to: 'bob', body: '<img src=x onerror=alert(1)>' })).toBe(
      '{\n  "to": "bob",\n  "body": "<img src=x onerror=alert(1)>"\n}',
    );
    expect(argumentsText({})).toBe('{}');
  });

  it('explains failed requests and whether to retry', () => {
    const conflict = failureOf('accept', new ApiError(409, 'conflict', 'change 3 is applied, not pending'));
    expect(conflict).toMatchObject({ action: 'accept', retry: false });
    expect(conflict.what).toBe('Could not apply this change: change 3 is applied, not pending');
    expect(conflict.meaning).toMatch(/accepted or discarded already/);
    const starting = failureOf('accept', new ApiError(503, 'unavailable', 'Perch’s tools are not running'));
    expect(starting.retry).toBe(true);
    expect(starting.meaning).toMatch(/nothing ran/);
    const offline = failureOf('discard', new ApiError(0, 'network_error', 'Cannot reach Perch: failed to fetch'));
    expect(offline).toMatchObject({ action: 'discard', retry: true, what: 'Could not discard this change: Cannot reach Perch: failed to fetch' });
    expect(failureOf('discard', new ApiError(404, 'not_found', 'no change 3')).retry).toBe(false);
    expect(failureOf('accept', new Error('boom')).retry).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Loads and decisions, with Perch's API faked at the HTTP boundary.

type Handler = (body: unknown) => { status?: number; body?: unknown };
let routes: Record<string, Handler> = {};
let calls: string[] = [];

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

beforeEach(() => {
  routes = {};
  calls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      const method = init.method ?? 'GET';
      calls.push(`${method} ${url}`);
      const h = routes[`${method} ${url}`];
      if (!h) return json(404, { error: { code: 'not_found', message: `no route ${method} ${url}` } });
      const r = h(typeof init.body === 'string' ? JSON.parse(init.body) : undefined);
      return json(r.status ?? 200, r.body);
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('loading', () => {
  it('loads what waits', async () => {
    routes['GET /api/changes?status=pending&limit=500'] = () => ({ body: { data: [change(2), change(5)] } });
    const data = emptyChanges();
    await loadPending(data);
    expect(data.pendingLoaded).toBe(true);
    expect(ids(data.pending)).toEqual([5, 2]);
    expect(pendingCount(data)).toBe(2);
  });

  it('loads again when a change arrived during the load, and keeps decided ones decided', async () => {
    const data = emptyChanges();
    let answers = 0;
    routes['GET /api/changes?status=pending&limit=500'] = () => {
      answers += 1;
      // The first answer races an event (change 3 decided meanwhile).
      if (answers === 1) applyChange(data, change(3, { status: 'discarded', decidedAt: 3100 }));
      return { body: { data: [change(3), change(1)] } };
    };
    data.history.loaded = true;
    await loadPending(data);
    expect(answers).toBe(2);
    expect(ids(data.pending)).toEqual([1]);
  });

  it('says why the list did not load', async () => {
    routes['GET /api/changes?status=pending&limit=500'] = () => ({ status: 500, body: { error: { code: 'internal', message: 'database is locked' } } });
    const data = emptyChanges();
    await loadPending(data);
    expect(data.pendingLoaded).toBe(false);
    expect(data.pendingError).toBe('database is locked');
  });

  it('loads the history without the pending ones, and by status', async () => {
    routes['GET /api/changes?limit=100'] = () => ({ body: { data: [change(4), applied(3), change(2, { status: 'failed', error: 'x' })] } });
    routes['GET /api/changes?status=applied&limit=100'] = () => ({ body: { data: [applied(3)] } });
    const data = emptyChanges();
    await loadHistory(data, '');
    expect(ids(data.history.items)).toEqual([3, 2]);
    expect(data.history).toMatchObject({ loaded: true, loading: false, error: null, filter: '' });
    await loadHistory(data, 'applied');
    expect(ids(data.history.items)).toEqual([3]);
    expect(data.history.filter).toBe('applied');
  });
});

describe('accept and discard', () => {
  function waiting(...list: AgentChange[]): ChangesData {
    const data = emptyChanges();
    for (const c of list) applyChange(data, c);
    data.history.loaded = true;
    return data;
  }

  it('accepts: the change runs, its outcome stays in place and enters the history', async () => {
    const data = waiting(change(1), change(2));
    routes['POST /api/changes/2/accept'] = () => ({ body: applied(2) });
    const pending = decideChange(data, 2, 'accept');
    expect(data.busy[2]).toBe('accept');
    // A second click while it runs does nothing.
    expect(await decideChange(data, 2, 'accept')).toBeNull();
    const result = await pending;
    expect(result?.status).toBe('applied');
    expect(data.busy[2]).toBeUndefined();
    expect(ids(data.pending)).toEqual([1]);
    expect(pendingCount(data)).toBe(1);
    expect(waitingList(data).map((c) => [c.id, c.status])).toEqual([
      [2, 'applied'],
      [1, 'pending'],
    ]);
    expect(ids(data.history.items)).toEqual([2]);
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /api/changes/2/accept']);
  });

  it('shows a change that ran and failed with its error', async () => {
    const data = waiting(change(1));
    routes['POST /api/changes/1/accept'] = () => ({ body: change(1, { status: 'failed', error: 'no plan "x"', decidedAt: 1500 }) });
    await decideChange(data, 1, 'accept');
    expect(data.decided[0]).toMatchObject({ id: 1, status: 'failed', error: 'no plan "x"' });
    expect(data.failures[1]).toBeUndefined();
    expect(pendingCount(data)).toBe(0);
  });

  it('discards', async () => {
    const data = waiting(change(1));
    routes['POST /api/changes/1/discard'] = () => ({ body: change(1, { status: 'discarded', decidedAt: 1500 }) });
    await decideChange(data, 1, 'discard');
    expect(data.decided.map((c) => c.status)).toEqual(['discarded']);
    expect(data.history.items.map((c) => c.status)).toEqual(['discarded']);
  });

  it('keeps a change waiting when Perch’s tools are not running, with a retry', async () => {
    const data = waiting(change(1));
    routes['POST /api/changes/1/accept'] = () => ({ status: 503, body: { error: { code: 'unavailable', message: 'Perch’s tools are not running yet' } } });
    expect(await decideChange(data, 1, 'accept')).toBeNull();
    expect(data.busy[1]).toBeUndefined();
    expect(data.failures[1]).toMatchObject({ action: 'accept', retry: true });
    expect(ids(data.pending)).toEqual([1]);
    // The retry works.
    routes['POST /api/changes/1/accept'] = () => ({ body: applied(1) });
    await decideChange(data, 1, 'accept');
    expect(data.failures[1]).toBeUndefined();
    expect(pendingCount(data)).toBe(0);
  });

  it('on a conflict, shows how the change ended up (decided elsewhere)', async () => {
    const data = waiting(change(1));
    routes['POST /api/changes/1/discard'] = () => ({ status: 409, body: { error: { code: 'conflict', message: 'change 1 is applied, not pending' } } });
    routes['GET /api/changes/1'] = () => ({ body: applied(1) });
    await decideChange(data, 1, 'discard');
    expect(pendingCount(data)).toBe(0);
    expect(data.decided.map((c) => [c.id, c.status])).toEqual([[1, 'applied']]);
    expect(data.failures[1]).toMatchObject({ action: 'discard', retry: false });
  });
});
