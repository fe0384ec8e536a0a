import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, errorFromResponse, onUnauthorized, SseParser } from '../src/lib/api';

afterEach(() => {
  vi.unstubAllGlobals();
  onUnauthorized(null);
});

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('API client errors', () => {
  it('turns a JSON error body into an ApiError with its message and code', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse(409, { error: { code: 'conflict', message: 'That approval was already answered.' } })));
    const err = await api.answerApproval('a1', 'accept').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect((err as ApiError).code).toBe('conflict');
    expect((err as ApiError).message).toBe('That approval was already answered.');
  });

  it('falls back to the status line for a non-JSON body', async () => {
    const err = await errorFromResponse(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    expect(err.message).toBe('502 Bad Gateway');
    expect(err.code).toBe('http_502');
  });

  it('reports network failures as ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => { throw new TypeError('Failed to fetch'); }));
    const err = await api.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('network_error');
  });

  it('calls the unauthorized handler on 401 except for sign-in', async () => {
    const handler = vi.fn();
    onUnauthorized(handler);
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(401, { error: { code: 'unauthorized', message: 'no' } })));
    await expect(api.listSessions()).rejects.toThrow('no');
    expect(handler).toHaveBeenCalledTimes(1);
    await expect(api.signIn({ token: 'x' })).rejects.toThrow('no');
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('sends JSON with Content-Type and same-origin credentials, and handles 204', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 204 }));
    vi.stubGlobal('fetch', fetchMock);
    await expect(api.signIn({ code: 'abc' })).resolves.toBeUndefined();
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/auth/session');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(init.body).toBe('{"code":"abc"}');
  });

  it('encodes query parameters for the session list', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, { data: [] }));
    vi.stubGlobal('fetch', fetchMock);
    await api.listSessions({ archived: true, q: 'fix & test' });
    expect(fetchMock.mock.calls[0][0]).toBe('/api/sessions?archived=true&q=fix+%26+test');
  });
});

describe('settings routes', () => {
  it('uses the documented methods, paths and bodies', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.settings();
    await api.patchSettings({ notifications: { dnd: true } });
    await api.setProviderKey('sk-1');
    await api.clearProviderKey();
    await api.setRelayToken('rt-1');
    await api.clearRelayToken();
    await api.restartCodex();
    await api.diagnostics();
    const calls = fetchMock.mock.calls.map(([url, init]) => [init.method, url, init.body ?? null]);
    expect(calls).toEqual([
      ['GET', '/api/settings', null],
      ['PATCH', '/api/settings', '{"notifications":{"dnd":true}}'],
      ['PUT', '/api/settings/provider-key', '{"key":"sk-1"}'],
      ['DELETE', '/api/settings/provider-key', null],
      ['PUT', '/api/settings/relay-token', '{"token":"rt-1"}'],
      ['DELETE', '/api/settings/relay-token', null],
      ['POST', '/api/codex/restart', '{}'],
      ['GET', '/api/diagnostics', null],
    ]);
  });

  it('reports a validation error with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse(400, { error: { code: 'bad_request', message: 'provider.baseUrl: not a URL' } })));
    await expect(api.patchSettings({ provider: null })).rejects.toThrow('provider.baseUrl: not a URL');
  });
});

describe('list routes', () => {
  it('answer the list envelope as it is, with total and hasMore where the route has them', async () => {
    vi.stubGlobal('fetch', vi.fn(async (url: string) => {
      if (url.startsWith('/api/memories')) return jsonResponse(200, { data: [{ id: 1 }], total: 7 });
      if (url.startsWith('/api/peer/messages')) return jsonResponse(200, { data: [{ id: 2 }], hasMore: true });
      return jsonResponse(200, { data: [{ id: 'x' }] });
    }));
    await expect(api.memories()).resolves.toEqual({ data: [{ id: 1 }], total: 7 });
    await expect(api.peerMessages()).resolves.toEqual({ data: [{ id: 2 }], hasMore: true });
    for (const list of [
      api.listSessions(), api.history('s1'), api.listApprovals(), api.models(), api.plans(), api.wakeups(),
      api.wakeupRuns(), api.peerAgents(), api.peerPairs(), api.peerTasks(),
    ]) {
      await expect(list).resolves.toEqual({ data: [{ id: 'x' }] });
    }
  });
});

describe('peer routes', () => {
  it('uses the documented methods, paths, queries and bodies', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.peerStatus();
    await api.peerAgents();
    await api.peerMessages();
    await api.peerMessages({ channel: 'ops & dev', agent: 'bob', beforeId: 40, limit: 50 });
    await api.sendPeerMessage({ to: 'tag:ops', body: 'hi', subject: 'S', channel: 'ops', replyTo: 3 });
    await api.markPeerRead([1, 2]);
    await api.peerPairs();
    await api.peerTasks();
    const calls = fetchMock.mock.calls.map(([url, init]) => [init.method, url, init.body ?? null]);
    expect(calls).toEqual([
      ['GET', '/api/peer', null],
      ['GET', '/api/peer/agents', null],
      ['GET', '/api/peer/messages', null],
      ['GET', '/api/peer/messages?channel=ops+%26+dev&agent=bob&beforeId=40&limit=50', null],
      ['POST', '/api/peer/messages', '{"to":"tag:ops","body":"hi","subject":"S","channel":"ops","replyTo":3}'],
      ['POST', '/api/peer/read', '{"ids":[1,2]}'],
      ['GET', '/api/peer/pairs', null],
      ['GET', '/api/peer/tasks', null],
    ]);
  });

  it('person devices: list, link, join and unlink (the device encoded)', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.personDevices();
    await api.linkDevice();
    await api.joinDevice('3f9a-c21b-07de-55a0-9b1c');
    await api.unlinkDevice('a/b c');
    const calls = fetchMock.mock.calls.map(([url, init]) => [init.method, url, init.body ?? null]);
    expect(calls).toEqual([
      ['GET', '/api/peer/devices', null],
      ['POST', '/api/peer/devices/link', '{}'],
      ['POST', '/api/peer/devices/join', '{"code":"3f9a-c21b-07de-55a0-9b1c"}'],
      ['DELETE', '/api/peer/devices/a%2Fb%20c', null],
    ]);
  });

  it('reports a refused join code with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse(403, { error: { code: 'relay_refused', message: 'the relay refused: unknown or expired link code' } })));
    const err = await api.joinDevice('0000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('relay_refused');
    expect((err as ApiError).message).toContain('expired link code');
  });

  it('reports an invalid message with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse(400, { error: { code: 'bad_request', message: 'to: unknown target' } })));
    const err = await api.sendPeerMessage({ to: 'x y', body: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toBe('to: unknown target');
  });
});

describe('memory, planner and wakeup routes', () => {
  const callsOf = (fetchMock: ReturnType<typeof vi.fn>) =>
    fetchMock.mock.calls.map(([url, init]) => [(init as RequestInit).method, url, (init as RequestInit).body ?? null]);

  it('memories: list, search, add, edit, delete, bulk delete', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.memories();
    await api.memories({ q: ' dark & mode ', tag: 'ui', limit: 50, offset: 100 });
    await api.addMemory({ text: 'Likes tea', tags: ['drinks'], importance: 0.7 });
    await api.patchMemory(4, { importance: 0.9 });
    await api.deleteMemory(4);
    await api.deleteMemories([1, 2]);
    expect(callsOf(fetchMock)).toEqual([
      ['GET', '/api/memories', null],
      ['GET', '/api/memories?q=dark+%26+mode&tag=ui&limit=50&offset=100', null],
      ['POST', '/api/memories', '{"text":"Likes tea","tags":["drinks"],"importance":0.7}'],
      ['PATCH', '/api/memories/4', '{"importance":0.9}'],
      ['DELETE', '/api/memories/4', null],
      ['POST', '/api/memories/delete', '{"ids":[1,2]}'],
    ]);
  });

  it('memories: export answers the file as text; import posts the text as it is', async () => {
    const fetchMock = vi.fn(async (url: string, _init: RequestInit) =>
      url.includes('/export')
        ? new Response('# Perch memories\n\n- Likes tea\n', { status: 200, headers: { 'Content-Type': 'text/markdown' } })
        : jsonResponse(200, { imported: 2, skipped: 1, errors: ['line 3: not JSON'] }));
    vi.stubGlobal('fetch', fetchMock);
    await expect(api.exportMemories('markdown')).resolves.toBe('# Perch memories\n\n- Likes tea\n');
    const file = '{"text":"a"}\n{"text":"b"}\nnot json\n';
    await expect(api.importMemories(file, 'jsonl')).resolves.toEqual({ imported: 2, skipped: 1, errors: ['line 3: not JSON'] });
    const [exportUrl, exportInit] = fetchMock.mock.calls[0];
    expect(exportUrl).toBe('/api/memories/export?format=markdown');
    expect(exportInit.method).toBe('GET');
    expect((exportInit.headers as Record<string, string>).Accept).toBe('*/*');
    const [importUrl, importInit] = fetchMock.mock.calls[1];
    expect(importUrl).toBe('/api/memories/import?format=jsonl');
    expect(importInit.method).toBe('POST');
    expect(importInit.body).toBe(file);
    expect((importInit.headers as Record<string, string>)['Content-Type']).toBe('text/plain; charset=utf-8');
    expect(importInit.credentials).toBe('same-origin');
  });

  it('memories: a failed export is an ApiError with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(400, { error: { code: 'invalid', message: 'format: jsonl or markdown' } })));
    await expect(api.exportMemories('jsonl')).rejects.toThrow('format: jsonl or markdown');
  });

  it('plans and their items', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.plans();
    await api.createPlan({ name: 'Release', items: ['Tag'] });
    await api.getPlan(3);
    await api.renamePlan(3, 'Ship');
    await api.deletePlan(3);
    await api.addPlanItem(3, { text: 'Notes' });
    await api.patchPlanItem(3, 9, { done: true });
    await api.patchPlanItem(3, 9, { position: 0 });
    await api.deletePlanItem(3, 9);
    await api.clearPlan(3, true);
    expect(callsOf(fetchMock)).toEqual([
      ['GET', '/api/plans', null],
      ['POST', '/api/plans', '{"name":"Release","items":["Tag"]}'],
      ['GET', '/api/plans/3', null],
      ['PATCH', '/api/plans/3', '{"name":"Ship"}'],
      ['DELETE', '/api/plans/3', null],
      ['POST', '/api/plans/3/items', '{"text":"Notes"}'],
      ['PATCH', '/api/plans/3/items/9', '{"done":true}'],
      ['PATCH', '/api/plans/3/items/9', '{"position":0}'],
      ['DELETE', '/api/plans/3/items/9', null],
      ['POST', '/api/plans/3/clear', '{"doneOnly":true}'],
    ]);
  });

  it('wakeups and their runs', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.wakeups();
    await api.createWakeup({ prompt: 'Check CI', schedule: { kind: 'in', delay: '2s' }, target: { kind: 'new' } });
    await api.patchWakeup(5, { enabled: false });
    await api.deleteWakeup(5);
    await api.runWakeup(5);
    await api.wakeupRuns();
    await api.wakeupRuns({ wakeupId: 5, limit: 100 });
    await api.fireWakeupRun(12);
    await api.dismissWakeupRun(12);
    expect(callsOf(fetchMock)).toEqual([
      ['GET', '/api/wakeups', null],
      ['POST', '/api/wakeups', '{"prompt":"Check CI","schedule":{"kind":"in","delay":"2s"},"target":{"kind":"new"}}'],
      ['PATCH', '/api/wakeups/5', '{"enabled":false}'],
      ['DELETE', '/api/wakeups/5', null],
      ['POST', '/api/wakeups/5/run', '{}'],
      ['GET', '/api/wakeups/runs', null],
      ['GET', '/api/wakeups/runs?wakeupId=5&limit=100', null],
      ['POST', '/api/wakeups/runs/12/fire', '{}'],
      ['POST', '/api/wakeups/runs/12/dismiss', '{}'],
    ]);
  });

  it('settings: the memory section and the wakeup notification', async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, {}));
    vi.stubGlobal('fetch', fetchMock);
    await api.patchSettings({ memory: { autoArchive: true } });
    await api.patchSettings({ notifications: { wakeups: false } });
    expect(callsOf(fetchMock)).toEqual([
      ['PATCH', '/api/settings', '{"memory":{"autoArchive":true}}'],
      ['PATCH', '/api/settings', '{"notifications":{"wakeups":false}}'],
    ]);
  });
});

describe('SseParser', () => {
  it('parses ids, event names, multi-line data and comments across chunks', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\n\nid: 4')).toEqual([]);
    const out = p.push('2\nevent: turn.completed\ndata: {"a":\ndata: 1}\n\nid: 43\r\ndata: x\r\n\r\n');
    expect(out).toEqual([
      { id: '42', event: 'turn.completed', data: '{"a":\n1}' },
      { id: '43', event: 'message', data: 'x' },
    ]);
  });
});
