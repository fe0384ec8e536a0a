// The open session's review: what it changed (the chat header counts it,
// the review pane shows it), reloaded when a file change completes or a turn
// ends in that session. The routes and pure parts are in `../review.ts`.

import { errMsg } from '../format';
import { fetchReview, revertInReview, type Review } from '../review';
import type { PerchEvent } from '../types';

export const review = $state({
  /** The session the review is about (the open one). */
  sessionId: null as string | null,
  data: null as Review | null,
  /** A read is under way. */
  loading: false,
  /** Why the last read failed, in words. */
  error: null as string | null,
});

/** Bumped by every read, so that an answer for another session (or an
 *  older read) is dropped. */
let generation = 0;
let inFlight: Promise<void> | null = null;
let again = false;

/** Shows `sessionId`'s review (reading it); `null` forgets it. */
export function showReviewOf(sessionId: string | null): Promise<void> {
  if (review.sessionId !== sessionId) {
    generation += 1;
    inFlight = null;
    again = false;
    review.sessionId = sessionId;
    review.data = null;
    review.error = null;
    review.loading = false;
  }
  return sessionId ? reloadReview() : Promise.resolve();
}

/** Reads the review again; calls during a read coalesce into one more read after it. */
export function reloadReview(): Promise<void> {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  const run = (async () => {
    do {
      again = false;
      await readOnce();
    } while (again);
  })();
  inFlight = run;
  void run.finally(() => {
    if (inFlight === run) inFlight = null;
  });
  return run;
}

async function readOnce(): Promise<void> {
  const id = review.sessionId;
  if (!id) return;
  const mine = generation;
  review.loading = true;
  try {
    const next = await fetchReview(id);
    if (mine !== generation) return;
    review.data = next;
    review.error = null;
  } catch (e) {
    if (mine !== generation) return;
    review.error = errMsg(e);
  } finally {
    if (mine === generation) review.loading = false;
  }
}

/** Reverts a file (or one of its hunks) of the shown review; the answer
 *  replaces the review. Throws ApiError (409: reload; 422: not revertible). */
export async function revertReviewed(path: string, hunk?: number): Promise<void> {
  const id = review.sessionId;
  if (!id) return;
  const mine = generation;
  const next = await revertInReview(id, path, hunk);
  if (mine !== generation) return;
  review.data = next;
  review.error = null;
}

/** An event of the stream: a completed file change or turn of the shown
 *  session reads its review again. */
export function onReviewEvent(ev: PerchEvent): void {
  if (!review.sessionId) return;
  const completedFileChange = ev.type === 'item.completed' && ev.item.type === 'fileChange';
  if ((completedFileChange || ev.type === 'turn.completed') && ev.sessionId === review.sessionId) void reloadReview();
}

/** Signed out: forgets the review. */
export function resetReview(): void {
  void showReviewOf(null);
}
