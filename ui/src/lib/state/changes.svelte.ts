// The agent's changes: what waits for the person (the nav counts it) and,
// while the Changes page shows it, the history. The logic is in
// `../changes.ts`; this holds its reactive data and binds the actions to it.

import {
  applyChange,
  decideChange,
  emptyChanges,
  forgetDecided,
  loadHistory,
  loadPending,
  refreshChanges,
  type ChangeAction,
  type ChangesData,
  type HistoryFilter,
} from '../changes';
import type { AgentChange, ChangeEvent } from '../types';

export const changes: ChangesData = $state(emptyChanges());

/** Signed out: forgets every change. */
export function resetChanges(): void {
  Object.assign(changes, emptyChanges());
}

/** A `change.pending` or `change.decided` event of the stream. */
export function onChangeEvent(ev: ChangeEvent): void {
  applyChange(changes, ev.change);
}

/** What waits (on sign-in, after a reconnect or `reset`), and the history if it was loaded. */
export function refreshAgentChanges(): Promise<void> {
  return refreshChanges(changes);
}

export function loadPendingChanges(): Promise<void> {
  return loadPending(changes);
}

export function loadChangeHistory(filter?: HistoryFilter): Promise<void> {
  return loadHistory(changes, filter);
}

/** Accepts (runs) or discards a pending change; the outcome is shown in place. */
export function decideAgentChange(id: number, action: ChangeAction): Promise<AgentChange | null> {
  return decideChange(changes, id, action);
}

/** The Changes page is opened or left: the outcomes it showed in place go. */
export function forgetDecidedChanges(): void {
  forgetDecided(changes);
}
