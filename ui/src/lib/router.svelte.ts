// The current hash route, kept in step with `location.hash`. The desktop
// app also navigates by setting `location.hash` (e.g. to `#/approvals/<id>`
// when a notification is clicked), so this listens to `hashchange`.

import {
  DEFAULT_ROUTE,
  legacySessionRoute,
  parseLoginFragment,
  parseRoute,
  routeHash,
  type Route,
} from './routes';

export const router = $state({
  route: { ...DEFAULT_ROUTE } as Route,
  /** Grows on every navigation, also to the same route (e.g. a second
   *  notification for the same approval): pages re-focus on a change. */
  visit: 0,
});

let started = false;
let loginHandler: ((code: string) => void) | null = null;

function setRoute(route: Route): void {
  router.route = route;
  router.visit += 1;
}

function replaceUrl(hash: string, search = location.search): void {
  history.replaceState(history.state, '', location.pathname + search + hash);
}

/** Reads the address bar. A login fragment is removed at once (before the
 *  code is used) and replaced by its `next` route; returns its code. */
function sync(): string | null {
  const login = parseLoginFragment(location.hash);
  if (login) {
    replaceUrl(routeHash(login.next));
    setRoute(login.next);
    return login.code;
  }
  const route = parseRoute(location.hash);
  if (route) {
    setRoute(route);
  } else {
    replaceUrl(routeHash(DEFAULT_ROUTE));
    setRoute({ ...DEFAULT_ROUTE });
  }
  return null;
}

function onHashChange(): void {
  const code = sync();
  if (code) loginHandler?.(code);
}

/**
 * Starts following the address bar. Returns the login code of the initial
 * fragment, if any; codes that arrive later (the desktop app setting
 * `#login=…`) go to `onLoginCode`.
 */
export function startRouter(onLoginCode: (code: string) => void): string | null {
  loginHandler = onLoginCode;
  if (started) return null;
  started = true;
  // `?session=<id>` was the address of a session before hash routes.
  const legacy = legacySessionRoute(location.search);
  if (legacy) {
    const search = new URLSearchParams(location.search);
    search.delete('session');
    const rest = search.toString();
    const current = parseRoute(location.hash);
    const keepHash = location.hash && !(current?.page === 'chat' && current.sessionId === null);
    replaceUrl(keepHash ? location.hash : routeHash(legacy), rest ? '?' + rest : '');
  }
  window.addEventListener('hashchange', onHashChange);
  return sync();
}

/** Stops following the address bar (tests). */
export function stopRouter(): void {
  window.removeEventListener('hashchange', onHashChange);
  loginHandler = null;
  started = false;
}

/** Goes to a route; `replace` does not add a history entry. */
export function navigate(route: Route, opts: { replace?: boolean } = {}): void {
  const hash = routeHash(route);
  if (opts.replace || location.hash === hash) {
    if (location.hash !== hash) replaceUrl(hash);
    setRoute(route);
  } else {
    location.hash = hash; // -> hashchange -> sync
  }
}
