// What every domain of the store shares: the data the event reducer keeps
// (sessions, turns, approvals, status, settings) and the toast.

import { errMsg } from '../format';
import { emptyData, type AppData } from '../reducer';

export const data: AppData = $state(emptyData());

export const toast = $state({
  /** A one-line error for the person (cleared on the next success). */
  message: null as string | null,
});

export function showError(e: unknown): void {
  toast.message = errMsg(e);
}
