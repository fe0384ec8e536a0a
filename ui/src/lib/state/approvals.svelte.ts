// Answering approvals. They live in `data.approvals`, kept by the reducer.

import { api, ApiError } from '../api';
import type { Approval, ApprovalDecision } from '../types';
import { data, showError } from './store.svelte';

/** Answers an approval; a decline's `reason` reaches the model as the
 *  person's next words. */
export async function answerApproval(id: string, decision: ApprovalDecision, reason?: string): Promise<void> {
  try {
    data.approvals[id] = await api.answerApproval(id, decision, reason);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      // Already answered elsewhere: show the real outcome.
      try {
        const all = await api.listApprovals('all');
        for (const a of all.data) data.approvals[a.id] = a;
      } catch {
        /* keep the error below */
      }
    }
    showError(e);
  }
}

/** Makes sure an approval named in the address is known, answered or not. */
export async function ensureApproval(id: string): Promise<Approval | null> {
  if (data.approvals[id]) return data.approvals[id];
  try {
    const found = (await api.listApprovals('all')).data.find((a) => a.id === id);
    if (found) data.approvals[id] ??= found;
  } catch (e) {
    showError(e);
  }
  return data.approvals[id] ?? null;
}
