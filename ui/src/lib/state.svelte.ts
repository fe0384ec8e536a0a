// The app's reactive state and the actions the components call.

import { api, ApiError, EventStream, onUnauthorized } from './api';
import { navigate, router, startRouter } from './router.svelte';
import { agentBus, isAgentStateEvent } from './agentEvents';
import { runCommand, type CommandResult, type ParsedInput } from './commands';
import type { Route } from './routes';
import {
  activeTurnId,
  addLocalUserMessage,
  applyEvent,
  emptyData,
  loadHistory,
  loadSnapshot,
  upsertSession,
  type AppData,
} from './reducer';
import {
  applyPeerEvent,
  emptyPeer,
  markReadLocally,
  normalizePeerStatus,
  matchesFilter,
  mergeMessages,
  sameFilter,
  withToggled,
  type PeerData,
  type PeerFilter,
} from './peer';
import type {
  AccountInfo,
  Approval,
  ApprovalDecision,
  Model,
  PeerMessage,
  PerchEvent,
  SendPeerMessage,
  Session,
  Settings,
  SettingsPatch,
} from './types';

export const data: AppData = $state(emptyData());

/** The peer network: status (with the unread count), agents, the Inbox's messages. */
export const peer: PeerData = $state(emptyPeer());

export const ui = $state({
  /** 'checking' until we know whether the cookie works. */
  auth: 'checking' as 'checking' | 'signedOut' | 'signedIn',
  authError: null as string | null,
  connected: false,
  /** true once the stream has been up at least once; the indicator shows after that. */
  everConnected: false,
  showArchived: false,
  query: '',
  historyLoading: false,
  historyError: null as string | null,
  /** A one-line error for the person (cleared on the next success). */
  toast: null as string | null,
  models: [] as Model[],
  account: null as AccountInfo | null,
});

/** A slash command's output in the chat: local, never sent to Codex, not kept. */
export interface CommandEntry {
  id: string;
  /** What the person typed. */
  input: string;
  at: number;
  /** Shown after this turn (null: before the first). */
  afterTurn: string | null;
  /** null while it runs. */
  result: CommandResult | null;
}

/** Command outputs per session id. */
export const commandLog: Record<string, CommandEntry[]> = $state({});

let stream: EventStream | null = null;

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function showError(e: unknown): void {
  ui.toast = errMsg(e);
}

// ---------------------------------------------------------------------------
// Sign-in

/** Runs once on load: login code from the fragment, else the cookie. */
export async function boot(): Promise<void> {
  onUnauthorized(() => signedOut('Your session has ended. Sign in again.'));
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
    ui.auth = 'signedOut';
    if (!(e instanceof ApiError && e.status === 401)) ui.authError = errMsg(e);
    return;
  }
  await startSignedIn();
}

function loginCodeFailed(e: unknown): void {
  ui.auth = 'signedOut';
  ui.authError =
    e instanceof ApiError && e.status === 401
      ? 'That login link has expired or was already used. Paste the token instead (`perch token`).'
      : errMsg(e);
}

/** A login fragment set after load (the desktop app navigating this page). */
async function signInWithCode(code: string): Promise<void> {
  if (ui.auth === 'signedIn') return; // the cookie works; the code just expires
  try {
    await api.signIn({ code });
  } catch (e) {
    loginCodeFailed(e);
    return;
  }
  await startSignedIn();
}

export async function signInWithToken(token: string): Promise<void> {
  ui.authError = null;
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
  stream?.stop();
  stream = null;
  ui.connected = false;
  ui.everConnected = false;
  ui.auth = 'signedOut';
  ui.authError = message;
  Object.assign(data, emptyData());
  clearTimeout(peerStatusTimer);
  Object.assign(peer, emptyPeer());
  for (const id of Object.keys(commandLog)) delete commandLog[id];
}

async function startSignedIn(): Promise<void> {
  const route = router.route;
  data.selectedId = route.page === 'chat' ? route.sessionId : null;
  ui.auth = 'signedIn';
  ui.authError = null;
  startStream();
  await reloadAll();
  if (data.selectedId) void loadSelectedHistory();
  void loadModels();
}

// ---------------------------------------------------------------------------
// Events

function startStream(): void {
  stream?.stop();
  stream = new EventStream({
    onEvent: handleEvent,
    onConnection: (connected, { resumed }) => {
      ui.connected = connected;
      if (connected) {
        // A fresh stream (no Last-Event-ID) may have missed events since the
        // last REST load; a resumed one gets them replayed.
        if (ui.everConnected && !resumed) {
          void reloadAll(true);
          agentBus.publish({ type: 'resync' });
        }
        ui.everConnected = true;
      }
    },
    onUnauthorized: () => signedOut('Your session has ended. Sign in again.'),
  });
  stream.start();
}

function handleEvent(ev: PerchEvent): void {
  const effects = applyEvent(data, ev);
  for (const fx of effects) {
    if (fx.type === 'reload') {
      void reloadAll(true);
      agentBus.publish({ type: 'resync' });
    }
  }
  if (isAgentStateEvent(ev)) agentBus.publish(ev);
  if (ev.type === 'peer.message' || ev.type === 'peer.status') {
    const { newUnread } = applyPeerEvent(peer, ev);
    // The unread count was raised locally: confirm it with the server soon.
    if (newUnread) schedulePeerStatus();
  }
  if (ev.type === 'codex.state' && ev.state === 'ready') {
    // A (re)started Codex has a new version, pid and restart count; a
    // restart also applies pending settings.
    void refreshStatus();
    if (data.settings?.restartRequired) void loadSettings().catch(() => {});
  }
}

/** Fetches `/api/status` alone (health, version, warnings). */
export async function refreshStatus(): Promise<void> {
  try {
    const status = await api.status();
    data.status = status;
    data.codexState = status.codex.state;
    data.codexDetail = status.codex.detail;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(e);
  }
}

let reloading: Promise<void> | null = null;
let again: { withHistory: boolean } | null = null;

/** Reload sessions, status, approvals and (optionally) the open history.
 *  Calls during a reload coalesce into one more reload after it. */
export async function reloadAll(withHistory = false): Promise<void> {
  if (reloading) {
    again = { withHistory: withHistory || (again?.withHistory ?? false) };
    return reloading;
  }
  reloading = (async () => {
    let next: { withHistory: boolean } | null = { withHistory };
    while (next) {
      again = null;
      await reloadOnce(next.withHistory);
      next = again;
    }
  })();
  try {
    await reloading;
  } finally {
    reloading = null;
  }
}

async function reloadOnce(withHistory: boolean): Promise<void> {
  try {
    const [status, sessions, approvals] = await Promise.all([
      api.status(),
      api.listSessions({ archived: ui.showArchived, q: ui.query.trim() || undefined }),
      api.listApprovals('pending'),
    ]);
    loadSnapshot(data, { status, sessions: sessions.data, approvals: approvals.data });
    // Peer events may have been missed as well (the nav shows the unread count).
    void refreshPeer();
    if (data.selectedId && !data.sessions.some((s) => s.id === data.selectedId)) {
      // Selected but filtered out (archived, search): keep it visible.
      try {
        upsertSession(data, await api.getSession(data.selectedId));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) selectSession(null);
      }
    }
    if (withHistory && data.selectedId) await loadSelectedHistory();
    // Settings changes may have been missed with the events.
    if (data.settings) await loadSettings().catch(() => {});
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(e);
  }
}

export async function refreshSessions(): Promise<void> {
  try {
    const res = await api.listSessions({ archived: ui.showArchived, q: ui.query.trim() || undefined });
    const selected = data.selectedId ? data.sessions.find((s) => s.id === data.selectedId) : undefined;
    data.sessions = res.data;
    if (selected && !res.data.some((s) => s.id === selected.id)) data.sessions.push(selected);
    for (const s of data.sessions) if (s.tokenUsage) data.tokens[s.id] = s.tokenUsage;
  } catch (e) {
    showError(e);
  }
}

// ---------------------------------------------------------------------------
// Sessions

export function selectedSession(): Session | undefined {
  return data.sessions.find((s) => s.id === data.selectedId);
}

export function selectSession(id: string | null, opts: { loadHistory?: boolean } = {}): void {
  data.selectedId = id;
  if (id) delete data.unread[id];
  // The address names the open session while the chat is shown.
  if (router.route.page === 'chat') navigate({ page: 'chat', sessionId: id }, { replace: true });
  if (id && opts.loadHistory !== false) void loadSelectedHistory();
}

/** Applies a route to the data: `#/chat/<id>` opens that session, `#/chat`
 *  keeps the open one (and names it in the address). */
export function routeChanged(route: Route): void {
  if (ui.auth !== 'signedIn' || route.page !== 'chat') return;
  if (route.sessionId === null) {
    if (data.selectedId) navigate({ page: 'chat', sessionId: data.selectedId }, { replace: true });
  } else if (route.sessionId !== data.selectedId) {
    selectSession(route.sessionId);
    if (!data.sessions.some((s) => s.id === route.sessionId)) void reloadAll();
  }
}

export async function loadSelectedHistory(): Promise<void> {
  const id = data.selectedId;
  if (!id) return;
  ui.historyLoading = !data.turns[id];
  ui.historyError = null;
  try {
    const res = await api.history(id);
    loadHistory(data, id, res.turns);
  } catch (e) {
    const s = data.sessions.find((x) => x.id === id);
    if (s && !s.preview && !s.activeTurnId) {
      // No first message yet: Codex has no history to give (it refuses to
      // list turns of a thread before its first user message).
      data.turns[id] ??= [];
    } else if (data.selectedId === id) {
      ui.historyError = errMsg(e);
    }
  } finally {
    if (data.selectedId === id) ui.historyLoading = false;
  }
}

export async function createSession(): Promise<void> {
  try {
    const s = await api.createSession({});
    upsertSession(data, s);
    data.turns[s.id] ??= [];
    // A new session has no history yet.
    selectSession(s.id, { loadHistory: false });
  } catch (e) {
    showError(e);
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
export async function setArchived(id: string, archived: boolean): Promise<void> {
  await patch(id, { archived });
}
export const setModel = (id: string, model: string, effort?: string) =>
  patch(id, effort ? { model, effort } : { model });
export const setEffort = (id: string, effort: string) => patch(id, { effort });

// ---------------------------------------------------------------------------
// Turns

export function runningTurn(sessionId: string | null): string | null {
  return sessionId ? activeTurnId(data, sessionId) : null;
}

export async function send(text: string): Promise<'start' | 'steer' | null> {
  const id = data.selectedId;
  if (!id || !text.trim()) return null;
  if (!data.turns[id]) data.turns[id] = [];
  const res = await api.sendMessage(id, text);
  ui.toast = null;
  addLocalUserMessage(data, id, res.turnId, text);
  const s = data.sessions.find((x) => x.id === id);
  if (s && !s.activeTurnId) s.activeTurnId = res.turnId;
  return res.mode;
}

/**
 * Runs a slash command typed in `sessionId`'s composer and shows its output
 * there (a `/new` output moves to the session it opened). No model turn.
 */
export async function runSlashCommand(sessionId: string, input: string, parsed: ParsedInput): Promise<void> {
  const turns = data.turns[sessionId] ?? [];
  const entry: CommandEntry = {
    id: `cmd-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    input: input.trim(),
    at: Date.now(),
    afterTurn: turns.length ? turns[turns.length - 1].id : null,
    result: null,
  };
  appendCommand(sessionId, entry);
  const result = await runCommand(parsed, {
    session: data.sessions.find((s) => s.id === sessionId) ?? null,
    defaultModel: data.status?.model ?? null,
    openSession: (s) => {
      upsertSession(data, s);
      data.turns[s.id] ??= [];
      // A new session has no history yet.
      selectSession(s.id, { loadHistory: false });
    },
    sessionChanged: (s) => upsertSession(data, s),
  });
  const log = commandLog[sessionId] ?? [];
  const i = log.findIndex((e) => e.id === entry.id);
  if (i === -1) return; // dismissed meanwhile
  if (result.openedSessionId && result.openedSessionId !== sessionId) {
    const moved = { ...log[i], result, afterTurn: null };
    log.splice(i, 1);
    appendCommand(result.openedSessionId, moved);
  } else {
    log[i].result = result;
  }
}

/** Adds an output to a session's log (through the store's proxy, so the chat sees it). */
function appendCommand(sessionId: string, entry: CommandEntry): void {
  if (!commandLog[sessionId]) commandLog[sessionId] = [];
  commandLog[sessionId].push(entry);
}

export function dismissCommand(sessionId: string, id: string): void {
  const log = commandLog[sessionId];
  if (!log) return;
  const i = log.findIndex((e) => e.id === id);
  if (i !== -1) log.splice(i, 1);
}

export async function interrupt(sessionId: string): Promise<void> {
  try {
    await api.interrupt(sessionId);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) {
      // Nothing runs any more: our view is stale.
      const s = data.sessions.find((x) => x.id === sessionId);
      if (s) s.activeTurnId = null;
      void reloadAll(true);
      return;
    }
    showError(e);
  }
}

export async function answerApproval(id: string, decision: ApprovalDecision): Promise<void> {
  try {
    data.approvals[id] = await api.answerApproval(id, decision);
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

// ---------------------------------------------------------------------------
// Settings

export async function loadSettings(): Promise<Settings> {
  const s = await api.settings();
  data.settings = s;
  return s;
}

/** PATCHes settings and shows the server's answer; throws ApiError. */
export async function saveSettings(body: SettingsPatch): Promise<Settings> {
  const s = await api.patchSettings(body);
  data.settings = s;
  return s;
}

export async function setProviderKey(key: string | null): Promise<Settings> {
  const s = key === null ? await api.clearProviderKey() : await api.setProviderKey(key);
  data.settings = s;
  return s;
}

/** Stores (a string) or removes (null) the relay token; used from the next start. */
export async function setRelayToken(token: string | null): Promise<Settings> {
  const s = token === null ? await api.clearRelayToken() : await api.setRelayToken(token);
  data.settings = s;
  return s;
}

// ---------------------------------------------------------------------------
// Account and models

export async function loadModels(): Promise<void> {
  try {
    ui.models = (await api.models()).data;
  } catch {
    ui.models = []; // Codex may not be ready yet; the pickers fall back to text.
  }
}

export async function loadAccount(): Promise<void> {
  ui.account = await api.account();
}

// ---------------------------------------------------------------------------
// Peer network

function notFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

/** The peer network is off in this Perch (its routes answer 503 `peer_off`);
 *  remembers the server's explanation. */
function peerOff(e: unknown): boolean {
  if (!(e instanceof ApiError && e.code === 'peer_off')) return false;
  peer.offMessage = e.message;
  return true;
}

/** Grows whenever `POST /api/peer/read` answers with the unread count. */
let readEpoch = 0;

/** Fetches `GET /api/peer` (the status and the person's unread count). */
export async function loadPeerStatus(): Promise<void> {
  const epoch = readEpoch;
  try {
    const status = normalizePeerStatus(await api.peerStatus());
    // Messages were marked read while this was under way: the count from
    // that answer is newer.
    if (epoch !== readEpoch && peer.status) status.unread = peer.status.unread;
    peer.status = status;
    peer.available = true;
    peer.statusError = null;
    if (status.enabled) peer.offMessage = null;
  } catch (e) {
    if (notFound(e)) peer.available = false;
    else if (!(e instanceof ApiError && e.status === 401)) peer.statusError = errMsg(e);
  }
}

let peerStatusTimer: ReturnType<typeof setTimeout> | undefined;

function schedulePeerStatus(): void {
  clearTimeout(peerStatusTimer);
  peerStatusTimer = setTimeout(() => void loadPeerStatus(), 300);
}

/** After a reconnect or `reset`: the status, and the Inbox if it was loaded. */
async function refreshPeer(): Promise<void> {
  await loadPeerStatus();
  if (peer.available && peer.inbox.loaded) await loadInbox(peer.inbox.filter);
}

export async function loadPeerAgents(): Promise<void> {
  try {
    peer.agents = (await api.peerAgents()).agents;
    peer.agentsLoaded = true;
  } catch (e) {
    if (peerOff(e)) {
      peer.agents = [];
      peer.agentsLoaded = true;
    } else if (notFound(e)) {
      peer.available = false;
    } else if (!(e instanceof ApiError && e.status === 401)) {
      peer.statusError = errMsg(e);
    }
  }
}

let inboxRequest = 0;

/** Loads the newest messages for `filter` into the Inbox. Live messages
 *  that arrive meanwhile are kept. */
export async function loadInbox(filter: PeerFilter): Promise<void> {
  const request = ++inboxRequest;
  const inbox = peer.inbox;
  if (!sameFilter(inbox.filter, filter)) {
    inbox.filter = { ...filter };
    inbox.messages = [];
    inbox.hasMore = false;
    inbox.loaded = false;
  }
  inbox.loading = true;
  inbox.error = null;
  try {
    const res = await api.peerMessages({ channel: filter.channel || undefined, agent: filter.agent || undefined });
    if (request !== inboxRequest) return;
    inbox.messages = mergeMessages(inbox.messages, res.messages);
    inbox.hasMore = res.hasMore;
    inbox.loaded = true;
  } catch (e) {
    if (request !== inboxRequest) return;
    if (peerOff(e)) {
      inbox.loaded = true;
    } else {
      if (notFound(e)) peer.available = false;
      inbox.error = errMsg(e);
    }
  } finally {
    if (request === inboxRequest) inbox.loading = false;
  }
}

/** Loads the page before the oldest loaded message. */
export async function loadOlderInbox(): Promise<void> {
  const inbox = peer.inbox;
  const first = inbox.messages[0];
  if (!first || inbox.loading) return;
  const request = ++inboxRequest;
  const filter = { ...inbox.filter };
  inbox.loading = true;
  inbox.error = null;
  try {
    const res = await api.peerMessages({
      channel: filter.channel || undefined,
      agent: filter.agent || undefined,
      beforeId: first.id,
    });
    if (request !== inboxRequest) return;
    inbox.messages = mergeMessages(inbox.messages, res.messages);
    inbox.hasMore = res.hasMore;
  } catch (e) {
    if (request === inboxRequest) inbox.error = errMsg(e);
  } finally {
    if (request === inboxRequest) inbox.loading = false;
  }
}

const markingRead = new Set<number>();

/** Marks messages read by the person (shown at once, then confirmed). */
export async function markPeerRead(ids: number[]): Promise<void> {
  const todo = ids.filter((id) => !markingRead.has(id));
  if (todo.length === 0) return;
  for (const id of todo) markingRead.add(id);
  markReadLocally(peer.inbox.messages, todo, peer.status?.personId ?? null);
  try {
    const res = await api.markPeerRead(todo);
    if (peer.status && typeof res?.unread === 'number') {
      readEpoch += 1;
      peer.status.unread = res.unread;
    }
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) peer.inbox.error = 'Could not mark messages read: ' + errMsg(e);
  } finally {
    for (const id of todo) markingRead.delete(id);
  }
}

/** Sends a message as the person; throws ApiError (a 400 carries the reason). */
export async function sendPeerMessage(body: SendPeerMessage): Promise<PeerMessage> {
  const m = await api.sendPeerMessage(body);
  const inbox = peer.inbox;
  if (inbox.loaded && matchesFilter(m, inbox.filter) && !inbox.messages.some((x) => x.id === m.id)) {
    inbox.messages = mergeMessages(inbox.messages, [m]);
  }
  return m;
}

/** Opens the Inbox's compose form addressed to `to`. */
export function composePeerMessage(to: string): void {
  peer.composeTo = to;
  navigate({ page: 'inbox', threadId: null });
}

/** Mutes or unmutes notifications for a peer agent or channel. */
export async function setPeerMuted(kind: 'agent' | 'channel', name: string, muted: boolean): Promise<void> {
  const settings = data.settings ?? (await loadSettings());
  const n = settings.notifications;
  const body: SettingsPatch =
    kind === 'agent'
      ? { notifications: { mutedAgents: withToggled(n.mutedAgents ?? [], name, muted) } }
      : { notifications: { mutedChannels: withToggled(n.mutedChannels ?? [], name, muted) } };
  await saveSettings(body);
}
