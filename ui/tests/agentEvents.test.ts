import { describe, expect, it, vi } from 'vitest';
import { AgentBus, isAgentStateEvent } from '../src/lib/agentEvents';
import type { PerchEvent } from '../src/lib/types';

describe('agent-state events', () => {
  it('recognises memory, plan and wakeup events only', () => {
    const agent: PerchEvent[] = [
      { seq: 1, at: 1, type: 'memory.changed', action: 'deleted', ids: [1] },
      { seq: 2, at: 2, type: 'plan.changed', planId: 1, plan: null },
      { seq: 3, at: 3, type: 'wakeup.changed', wakeupId: 1, wakeup: null },
      {
        seq: 4,
        at: 4,
        type: 'wakeup.run',
        run: { id: 1, wakeupId: 1, label: 'w1', scheduledAt: 1, firedAt: null, status: 'missed', sessionId: null, turnId: null, summary: null, finishedAt: null },
        notify: true,
      },
    ];
    const other: PerchEvent[] = [
      { seq: 5, at: 5, type: 'warning', sessionId: null, message: 'w' },
      { seq: 6, at: 6, type: 'turn.started', sessionId: 's1', turnId: 't1' },
      { seq: 7, at: 7, type: 'peer.failed', error: 'codex is down', queued: 2 },
      { type: 'reset', at: 7 },
      { type: 'lagged', skipped: 3, at: 8 },
    ];
    for (const ev of agent) expect(isAgentStateEvent(ev), ev.type).toBe(true);
    for (const ev of other) expect(isAgentStateEvent(ev), ev.type).toBe(false);
  });

  it('delivers to subscribers until they unsubscribe, and survives a failing one', () => {
    const bus = new AgentBus();
    const seen: string[] = [];
    const off = bus.subscribe((s) => seen.push(s.type));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    bus.subscribe(() => {
      throw new Error('boom');
    });
    bus.publish({ seq: 1, at: 1, type: 'plan.changed', planId: 1, plan: null });
    bus.publish({ type: 'resync' });
    off();
    bus.publish({ type: 'resync' });
    expect(seen).toEqual(['plan.changed', 'resync']);
    expect(bus.size).toBe(1);
    expect(errors).toHaveBeenCalledTimes(3);
    errors.mockRestore();
  });
});
