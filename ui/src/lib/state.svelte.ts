// The app's reactive state and the actions the components call. Each domain
// owns its state and actions in `state/`; this module signs in and out, which
// starts and resets them all, and re-exports them so components import from
// one place.

import { api, ApiError, onUnauthorized } from './api';
import { errMsg } from './format';
import { emptyData } from './reducer';
import { navigate, router, startRouter } from './router.svelte';
import type { Route } from './routes';
import { resetSignIn } from './state/account.svelte';
import { commandLog } from './state/chat.svelte';
import { reloadAll, startStream, stopStream } from './state/connection.svelte';
import { resetChanges } from './state/changes.svelte';
import { resetPeer } from './state/peer.svelte';
import { resetReview } from './state/review.svelte';
import { loadUsage, resetUsage } from './state/usage.svelte';
import { loadSelectedHistory, selectSession } from './state/sessions.svelte';
import { loadModels } from './state/settings.svelte';
import { data } from './state/store.svelte';

export * from './state/store.svelte';
export * from './state/connection.svelte';
export * from './state/sessions.svelte';
export * from './state/chat.svelte';
export * from './state/approvals.svelte';
export * from './state/settings.svelte';
export * from './state/peer.svelte';
export * from './state/changes.svelte';
export * from './state/account.svelte';
export * from './state/warnings.svelte';
export * from './state/projects.svelte';
export * from './state/review.svelte';
export * from './state/usage.svelte';

export const auth = $state({
  /** 'checking' until we know whether the cookie works. */
  status: 'checking' as 'checking' | 'signedOut' | 'signedIn',
  error: null as string | null,
});

const SESSION_ENDED = 'Your session has ended. Sign in again.';

/** Runs once on load: login code from the fragment, else the cookie. */
export async function boot(): Promise<void> {
  onUnauthorized(() => signedOut(SESSION_ENDED));
  // The router removes a `#login=` fragment from the address bar and history
  // before anything else, and shows its `next` route.
  const code = startRouter((later) => void signInWithCode(later));
  if (code) {
    try {
      await api.signIn({ code });
    } catch (e) {
      loginCodeFailed(e);
      return;
    }
  }
  try {
    await api.status(true);
  } catch (e) {
    auth.status = 'signedOut';
    if (!(e instanceof ApiError && e.status === 401)) auth.error = errMsg(e);
    return;
  }
  await startSignedIn();
}

function loginCodeFailed(e: unknown): void {
  auth.status = 'signedOut';
  auth.error =
    e instanceof ApiError && e.status === 401
      ? 'That login link has expired or was already used. Paste the token instead (`perch token`).'
      : errMsg(e);
}

/** A login fragment set after load (the desktop app navigating this page). */
async function signInWithCode(code: string): Promise<void> {
  if (auth.status === 'signedIn') return; // the cookie works; the code just expires
  try {
    await api.signIn({ code });
  } catch (e) {
    loginCodeFailed(e);
    return;
  }
  await startSignedIn();
}

export async function signInWithToken(token: string): Promise<void> {
  auth.error = null;
  await api.signIn({ token: token.trim() });
  await startSignedIn();
}

export async function signOut(): Promise<void> {
  try {
    await api.signOut();
  } catch {
    /* the cookie is cleared or already gone */
  }
  signedOut(null);
}

function signedOut(message: string | null): void {
  stopStream();
  auth.status = 'signedOut';
  auth.error = message;
  Object.assign(data, emptyData());
  resetPeer();
  resetChanges();
  resetSignIn();
  resetReview();
  resetUsage();
  for (const id of Object.keys(commandLog)) delete commandLog[id];
}

async function startSignedIn(): Promise<void> {
  const route = router.route;
  data.selectedId = route.page === 'chat' ? route.sessionId : null;
  auth.status = 'signedIn';
  auth.error = null;
  startStream(() => signedOut(SESSION_ENDED));
  await reloadAll();
  if (data.selectedId) void loadSelectedHistory();
  void loadModels();
  void loadUsage();
}

/** Applies a route to the data: `#/chat/<id>` opens that session, `#/chat`
 *  keeps the open one (and names it in the address). */
export function routeChanged(route: Route): void {
  if (auth.status !== 'signedIn' || route.page !== 'chat') return;
  if (route.sessionId === null) {
    if (data.selectedId) navigate({ page: 'chat', sessionId: data.selectedId }, { replace: true });
  } else if (route.sessionId !== data.selectedId) {
    selectSession(route.sessionId);
  }
}
