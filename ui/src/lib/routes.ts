// Hash routes of the web UI. Pure functions, so they can be unit-tested;
// `router.svelte.ts` wires them to `location` and `hashchange`.
//
//   #/  #/chat            Chat (keeps the session already open, if any)
//   #/chat/<sessionId>    Chat with that session open
//   #/dashboard           Dashboard
//   #/approvals           Dashboard, scrolled to its approvals
//   #/approvals/<id>      Dashboard, that approval highlighted and focused
//   #/settings            Settings
//   #/inbox               Inbox (peer messages to and from the person)
//   #/inbox/<threadId>    Inbox with that thread open (a message id)
//   #/peers               Peers (this Perch on the peer network, agents, pairs, tasks)
//   #/memory              Memory (what the agent remembers)
//   #/memory/<id>         Memory with that memory shown (a search result)
//   #/planner             Planner (plans and their items)
//   #/planner/<planId>    Planner with that plan open
//   #/wakeups             Wakeups (scheduled prompts and their runs)
//   #/changes             Changes (what the agent asks to change, and did)
//
// The sign-in fragment `#login=<code>[&next=<urlencoded route>]` is not a
// route: it is consumed on load (see `parseLoginFragment`).

export type Page = 'chat' | 'dashboard' | 'inbox' | 'peers' | 'memory' | 'planner' | 'wakeups' | 'changes' | 'settings';

export type Route =
  | { page: 'chat'; sessionId: string | null }
  | { page: 'dashboard'; approvals: boolean; approvalId: string | null }
  | { page: 'inbox'; threadId: number | null }
  | { page: 'peers' }
  | { page: 'memory'; memoryId?: number | null }
  | { page: 'planner'; planId?: number | null }
  | { page: 'wakeups' }
  | { page: 'changes' }
  | { page: 'settings' };

export const DEFAULT_ROUTE: Route = { page: 'chat', sessionId: null };

/** The pages in the navigation's order, with their names. */
export const PAGES: { page: Page; label: string }[] = [
  { page: 'chat', label: 'Chat' },
  { page: 'dashboard', label: 'Dashboard' },
  { page: 'inbox', label: 'Inbox' },
  { page: 'peers', label: 'Peers' },
  { page: 'memory', label: 'Memory' },
  { page: 'planner', label: 'Planner' },
  { page: 'wakeups', label: 'Wakeups' },
  { page: 'changes', label: 'Changes' },
  { page: 'settings', label: 'Settings' },
];

/** A page's plain route (the chat keeps the open session). */
export function pageRoute(page: Page, openSession: string | null): Route {
  switch (page) {
    case 'chat':
      return { page, sessionId: openSession };
    case 'dashboard':
      return { page, approvals: false, approvalId: null };
    case 'inbox':
      return { page, threadId: null };
    default:
      return { page };
  }
}

export const PAGE_TITLES: Record<Page, string> = {
  chat: 'Perch — Chat',
  dashboard: 'Perch — Dashboard',
  inbox: 'Perch — Inbox',
  peers: 'Perch — Peers',
  memory: 'Perch — Memory',
  planner: 'Perch — Planner',
  wakeups: 'Perch — Wakeups',
  changes: 'Perch — Changes',
  settings: 'Perch — Settings',
};

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/**
 * A route from `location.hash` (`#/chat/abc`) or a route path (`/chat/abc`).
 * An empty hash is the default route; anything unknown (including a login
 * fragment) is `null`.
 */
export function parseRoute(hash: string): Route | null {
  let path = hash.startsWith('#') ? hash.slice(1) : hash;
  if (path === '' || path === '/') return { ...DEFAULT_ROUTE };
  if (!path.startsWith('/')) return null;
  path = path.replace(/\/+$/, '');
  const parts = path.slice(1).split('/');
  if (parts.length > 2) return null;
  const [head, rawId] = parts;
  let id: string | null = null;
  if (rawId !== undefined) {
    id = decode(rawId);
    if (!id) return null;
  }
  switch (head) {
    case 'chat':
      return { page: 'chat', sessionId: id };
    case 'dashboard':
      return id === null ? { page: 'dashboard', approvals: false, approvalId: null } : null;
    case 'approvals':
      return { page: 'dashboard', approvals: true, approvalId: id };
    case 'settings':
      return id === null ? { page: 'settings' } : null;
    case 'inbox': {
      if (id === null) return { page: 'inbox', threadId: null };
      // A thread is named by its first message's id.
      const threadId = positiveId(id);
      return threadId === null ? null : { page: 'inbox', threadId };
    }
    case 'memory': {
      const memoryId = id === null ? null : positiveId(id);
      return id !== null && memoryId === null ? null : { page: 'memory', memoryId };
    }
    case 'planner': {
      const planId = id === null ? null : positiveId(id);
      return id !== null && planId === null ? null : { page: 'planner', planId };
    }
    case 'peers':
    case 'wakeups':
    case 'changes':
      return id === null ? { page: head } : null;
    default:
      return null;
  }
}

/** A record id in a path: a positive safe integer, else null. */
function positiveId(part: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(part)) return null;
  const n = Number(part);
  return Number.isSafeInteger(n) ? n : null;
}

/** The route as a path: `/chat/abc`, `/approvals/xyz`. `'#' + path` is its hash. */
export function routePath(route: Route): string {
  const enc = encodeURIComponent;
  switch (route.page) {
    case 'chat':
      return route.sessionId ? `/chat/${enc(route.sessionId)}` : '/chat';
    case 'dashboard':
      if (route.approvalId) return `/approvals/${enc(route.approvalId)}`;
      return route.approvals ? '/approvals' : '/dashboard';
    case 'inbox':
      return route.threadId === null ? '/inbox' : `/inbox/${route.threadId}`;
    case 'memory':
      return route.memoryId ? `/memory/${route.memoryId}` : '/memory';
    case 'planner':
      return route.planId ? `/planner/${route.planId}` : '/planner';
    case 'peers':
    case 'wakeups':
    case 'changes':
      return '/' + route.page;
    case 'settings':
      return '/settings';
  }
}

export function routeHash(route: Route): string {
  return '#' + routePath(route);
}

export function sameRoute(a: Route, b: Route): boolean {
  return routePath(a) === routePath(b);
}

export interface LoginFragment {
  code: string;
  /** The route to show after sign-in (default: chat). */
  next: Route;
}

/**
 * `#login=CODE` or `#login=CODE&next=%2Fdashboard`. `next` must name a known
 * route (with or without its leading `/` or `#`); otherwise it is ignored.
 */
export function parseLoginFragment(hash: string): LoginFragment | null {
  const body = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!body.startsWith('login=')) return null;
  const params: Record<string, string> = {};
  for (const pair of body.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq);
    const value = decode(pair.slice(eq + 1));
    if (value !== null && !(key in params)) params[key] = value;
  }
  const code = params.login?.trim();
  if (!code) return null;
  let next: Route = { page: 'chat', sessionId: null };
  if (params.next) {
    let target = params.next.trim();
    if (target.startsWith('#')) target = target.slice(1);
    if (!target.startsWith('/')) target = '/' + target;
    next = parseRoute(target) ?? next;
  }
  return { code, next };
}

/**
 * The pre-routing address of a session, `?session=<id>`, as a route (so old
 * links and bookmarks keep working), or null.
 */
export function legacySessionRoute(search: string): Route | null {
  const id = new URLSearchParams(search).get('session');
  return id ? { page: 'chat', sessionId: id } : null;
}
