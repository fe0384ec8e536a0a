// Live updates for the Memory, Planner and Wakeups pages. The store
// (`state/connection.svelte.ts`) publishes the agent-state events of the SSE
// stream here, and `resync` when events may have been missed (a fresh stream
// after a drop, `lagged`, `reset`); a page subscribes while it is shown.

import type { AgentStateEvent, PerchEvent } from './types';

export type AgentSignal = AgentStateEvent | { type: 'resync' };
export type AgentListener = (signal: AgentSignal) => void;

const AGENT_TYPES = new Set<string>(['memory.changed', 'plan.changed', 'wakeup.changed', 'wakeup.run']);

/** Whether an event of the stream is about memory, plans or wakeups. */
export function isAgentStateEvent(ev: PerchEvent): ev is AgentStateEvent {
  return AGENT_TYPES.has(ev.type);
}

export class AgentBus {
  private readonly listeners = new Set<AgentListener>();

  /** Calls `listener` for every signal until the returned function is called. */
  subscribe(listener: AgentListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(signal: AgentSignal): void {
    for (const l of [...this.listeners]) {
      try {
        l(signal);
      } catch (e) {
        console.error('perch: agent-state listener failed', e);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

export const agentBus = new AgentBus();

/** Subscribes to the live agent-state signals (see `agentBus`). */
export function onAgentState(listener: AgentListener): () => void {
  return agentBus.subscribe(listener);
}
