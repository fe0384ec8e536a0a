import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventStream } from '../src/lib/api';
import type { PerchEvent } from '../src/lib/types';

afterEach(() => {
  vi.unstubAllGlobals();
});

function sseResponse(text: string): Response {
  return new Response(new Blob([text]).stream(), { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
}

describe('EventStream', () => {
  it('reconnects with Last-Event-ID after the stream ends', async () => {
    const seen: PerchEvent[] = [];
    const connections: boolean[] = [];
    const calls: Record<string, string>[] = [];
    let n = 0;
    const stream = new EventStream({
      onEvent: (e) => seen.push(e),
      onConnection: (c) => connections.push(c),
    });
    vi.stubGlobal('fetch', vi.fn(async (_url: string, init: RequestInit) => {
      calls.push({ ...(init.headers as Record<string, string>) });
      n += 1;
      // Runtime events carry their seq as the SSE id; the control events
      // (`reset`, `lagged`) have neither and leave Last-Event-ID alone.
      if (n === 1) {
        return sseResponse(
          'id: 7\nevent: warning\ndata: {"seq":7,"at":1,"type":"warning","sessionId":null,"message":"w"}\n\n' +
            'event: reset\ndata: {"type":"reset","at":1}\n\n',
        );
      }
      if (n === 2) {
        return sseResponse(
          'event: lagged\ndata: {"type":"lagged","skipped":3,"at":2}\n\n' +
            'id: 8\nevent: turn.started\ndata: {"seq":8,"at":2,"type":"turn.started","sessionId":"s1","turnId":"t1"}\n\n',
        );
      }
      stream.stop();
      return sseResponse('');
    }));
    stream.start();
    await vi.waitFor(() => expect(n).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    expect(seen.map((e) => e.type)).toEqual(['warning', 'reset', 'lagged', 'turn.started']);
    expect(seen[1]).toEqual({ type: 'reset', at: 1 });
    expect(calls[0]['Last-Event-ID']).toBeUndefined();
    expect(calls[1]['Last-Event-ID']).toBe('7');
    expect(calls[2]['Last-Event-ID']).toBe('8');
    expect(connections.slice(0, 2)).toEqual([true, false]);
  });

  it('stops and reports a 401', async () => {
    const onUnauthorized = vi.fn();
    const fetchMock = vi.fn(async () => new Response('{}', { status: 401 }));
    vi.stubGlobal('fetch', fetchMock);
    const stream = new EventStream({ onEvent: () => {}, onConnection: () => {}, onUnauthorized });
    stream.start();
    await vi.waitFor(() => expect(onUnauthorized).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 700));
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('reconnects when the stream goes silent', async () => {
    let n = 0;
    const stream = new EventStream({ onEvent: () => {}, onConnection: () => {} }, '/api/events', 150);
    vi.stubGlobal('fetch', vi.fn(async (_url: string, init: RequestInit) => {
      n += 1;
      if (n >= 2) stream.stop();
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          init.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
        },
      });
      return new Response(body, { status: 200 });
    }));
    stream.start();
    await vi.waitFor(() => expect(n).toBe(2), { timeout: 5000 });
  });
});
