import { describe, expect, it, vi } from 'vitest';
import { AgentBus, isAgentStateEvent } from '../src/lib/agentEvents';
import type { PerchEvent } from '../src/lib/types';

describe('agent-state events', () => {
  it('recognises memory, plan and wakeup events only', () => {
    const ev = (type: string) => ({ seq: 1, at: 1, type }) as unknown as PerchEvent;
    for (const t of ['memory.changed', 'plan.changed', 'wakeup.changed', 'wakeup.run']) expect(isAgentStateEvent(ev(t)), t).toBe(true);
    for (const t of ['session.updated', 'settings.changed', 'reset', 'peer.message']) expect(isAgentStateEvent(ev(t)), t).toBe(false);
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
