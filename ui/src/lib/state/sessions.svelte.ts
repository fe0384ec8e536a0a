// Sessions: the sidebar's list and its filter, the open session and its
// history, and the changes a person makes to a session.

import { api } from '../api';
import { errMsg } from '../format';
import { loadHistory, upsertSession } from '../reducer';
import { navigate, router } from '../router.svelte';
import type { Session, SessionQuery } from '../types';
import { data, showError } from './store.svelte';
import { rememberedFolder, rememberFolder } from './projects.svelte';

/** The sidebar's list: archived sessions shown too or not. */
export const sessionList = $state({
  showArchived: false,
});

/** Loading the open session's history. */
export const sessionHistory = $state({
  loading: false,
  error: null as string | null,
});

/** The sidebar's list as `GET /api/sessions` parameters: "Show archived"
 *  adds archived sessions to the others. */
export function sessionListQuery(): SessionQuery {
  return { includeArchived: sessionList.showArchived || undefined };
}

export async function refreshSessions(): Promise<void> {
  try {
    const res = await api.listSessions(sessionListQuery());
    const selected = data.selectedId ? data.sessions.find((s) => s.id === data.selectedId) : undefined;
    data.sessions = res.data;
    if (selected && !res.data.some((s) => s.id === selected.id)) data.sessions.push(selected);
    for (const s of data.sessions) if (s.tokenUsage) data.tokens[s.id] = s.tokenUsage;
  } catch (e) {
    showError(e);
  }
}

export function selectedSession(): Session | undefined {
  return data.sessions.find((s) => s.id === data.selectedId);
}

export function selectSession(id: string | null, opts: { loadHistory?: boolean } = {}): void {
  data.selectedId = id;
  // Not listed (archived, or made elsewhere just now): fetched on its own.
  if (id && !data.sessions.some((s) => s.id === id)) void fetchSession(id);
  if (id) delete data.unread[id];
  // The address names the open session while the chat is shown.
  if (router.route.page === 'chat') navigate({ page: 'chat', sessionId: id }, { replace: true });
  if (id && opts.loadHistory !== false) void loadSelectedHistory();
}

async function fetchSession(id: string): Promise<void> {
  try {
    upsertSession(data, await api.getSession(id));
  } catch (e) {
    if (data.selectedId === id) showError(e);
  }
}

export async function loadSelectedHistory(): Promise<void> {
  const id = data.selectedId;
  if (!id) return;
  sessionHistory.loading = !data.turns[id];
  sessionHistory.error = null;
  try {
    // The answered approvals too: their outcomes stay where they were asked.
    const [res, approvals] = await Promise.all([api.history(id), api.sessionApprovals(id)]);
    for (const a of approvals.data) data.approvals[a.id] ??= a;
    loadHistory(data, id, res.data);
  } catch (e) {
    const s = data.sessions.find((x) => x.id === id);
    if (s && !s.preview && !s.activeTurnId) {
      // No first message yet: Codex has no history to give (it refuses to
      // list turns of a thread before its first user message).
      data.turns[id] ??= [];
    } else if (data.selectedId === id) {
      sessionHistory.error = errMsg(e);
    }
  } finally {
    if (data.selectedId === id) sessionHistory.loading = false;
  }
}

/** Opens a session just made (here, by `/new` or a fork); a new one has
 *  no history yet, a fork has its source's. */
export function openNewSession(s: Session): void {
  upsertSession(data, s);
  const empty = !s.preview;
  if (empty) data.turns[s.id] ??= [];
  selectSession(s.id, { loadHistory: !empty });
}

/** Starts a session in `cwd` (remembered for the next ones), or in the
 *  folder last chosen, else Codex's default. */
export async function createSession(cwd?: string | null): Promise<void> {
  if (cwd !== undefined) rememberFolder(cwd);
  const folder = cwd === undefined ? rememberedFolder() : cwd;
  try {
    openNewSession(await api.createSession(folder ? { cwd: folder } : {}));
  } catch (e) {
    if (cwd === undefined && folder) {
      // The remembered folder went away: the next session starts in the default.
      rememberFolder(null);
      showError(`${errMsg(e)}. New sessions start in the default folder again.`);
    } else {
      showError(e);
    }
  }
}

async function patch(id: string, body: Parameters<typeof api.patchSession>[1]): Promise<void> {
  try {
    upsertSession(data, await api.patchSession(id, body));
  } catch (e) {
    showError(e);
  }
}

export const renameSession = (id: string, name: string) => patch(id, { name });
export const setPinned = (id: string, pinned: boolean) => patch(id, { pinned });
/** The last archiving, undoable for a while: "Archived “x”. Undo". */
export const archiveUndo = $state({ sessionId: null as string | null, title: '' });
let undoTimer: ReturnType<typeof setTimeout> | null = null;

export async function setArchived(id: string, archived: boolean): Promise<void> {
  await patch(id, { archived });
  if (undoTimer) clearTimeout(undoTimer);
  const s = data.sessions.find((x) => x.id === id);
  if (archived && s?.archived) {
    archiveUndo.sessionId = id;
    archiveUndo.title = s.name?.trim() || s.preview?.trim() || 'New session';
    undoTimer = setTimeout(() => (archiveUndo.sessionId = null), 10_000);
  } else {
    archiveUndo.sessionId = null;
  }
}
export const setModel = (id: string, model: string, effort?: string) =>
  patch(id, effort ? { model, effort } : { model });
export const setEffort = (id: string, effort: string) => patch(id, { effort });
