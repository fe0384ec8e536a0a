// Applies SSE events to the UI's data. Pure functions over a plain object so
// they can be unit-tested; the store passes its `$state` proxy in.

import type {
  AccountState,
  Approval,
  CodexState,
  DeltaKind,
  HistoryTurn,
  Item,
  PerchEvent,
  RuntimeEvent,
  Session,
  Settings,
  ShownItem,
  ShownItemOf,
  Status,
  TokenUsage,
  Turn,
  TurnProblem,
  UserInput,
} from './types';

export interface Warning {
  /** The session it is about, if any. */
  sessionId: string | null;
  message: string;
  at: number;
}

/** Codex's live trouble with the model in a session's running turn. */
export interface ShownProblem {
  /** The turn it is about (null: the session's running turn). */
  turnId: string | null;
  problem: TurnProblem;
  at: number;
}

export interface AppData {
  status: Status | null;
  /** Whom Codex is signed in as (null until Codex first answered); kept live by `account.updated`. */
  account: AccountState | null;
  /** sessionId -> the running turn's latest trouble with the model, until the turn makes progress or ends. */
  problems: Record<string, ShownProblem>;
  codexState: CodexState | null;
  codexDetail: string | null;
  sessions: Session[];
  /** Turns per session whose history has been loaded. */
  turns: Record<string, Turn[]>;
  approvals: Record<string, Approval>;
  tokens: Record<string, TokenUsage>;
  /** turnId -> silentForMs, for turns reported stalled and not heard from since. */
  stalled: Record<string, number>;
  unread: Record<string, boolean>;
  warnings: Warning[];
  /** Loaded by the Settings page, then kept live by `settings.changed`. */
  settings: Settings | null;
  selectedId: string | null;
  lastSeq: number;
}

export function emptyData(): AppData {
  return {
    status: null,
    account: null,
    problems: {},
    codexState: null,
    codexDetail: null,
    sessions: [],
    turns: {},
    approvals: {},
    tokens: {},
    stalled: {},
    unread: {},
    warnings: [],
    settings: null,
    selectedId: null,
    lastSeq: 0,
  };
}

export type Effect = { type: 'reload'; reason: 'lagged' | 'reset' };

/** Pinned first, then newest activity first (the API's order). */
export function sortSessions(list: Session[]): void {
  list.sort((a, b) => {
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
    return b.lastActivityAt - a.lastActivityAt;
  });
}

export function upsertSession(data: AppData, s: Session): void {
  const i = data.sessions.findIndex((x) => x.id === s.id);
  if (i === -1) data.sessions.push(s);
  else data.sessions[i] = s;
  if (s.tokenUsage) data.tokens[s.id] = s.tokenUsage;
  sortSessions(data.sessions);
}

function session(data: AppData, id: string): Session | undefined {
  return data.sessions.find((s) => s.id === id);
}

/** The turn, created if the session's history is loaded but the turn is new. */
function ensureTurn(data: AppData, sessionId: string, turnId: string): Turn | undefined {
  const turns = data.turns[sessionId];
  if (!turns) return undefined;
  let t = turns.find((x) => x.id === turnId);
  if (!t) {
    t = { id: turnId, status: 'inProgress', error: null, items: [] };
    turns.push(t);
    t = turns[turns.length - 1];
  }
  return t;
}

function upsertItem(turn: Turn, item: ShownItem): void {
  const i = turn.items.findIndex((x) => x.id === item.id);
  if (i === -1) {
    if (item.type === 'userMessage') dropLocalEcho(turn, userText(item));
    turn.items.push(item);
  } else {
    turn.items[i] = item;
  }
}

/** The text parts of a userMessage, joined (images and the like have none). */
export function userText(item: ShownItemOf<'userMessage'>): string {
  return item.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

function dropLocalEcho(turn: Turn, text: string): void {
  const i = turn.items.findIndex((x) => x.type === 'userMessage' && x.local === true && userText(x) === text);
  if (i !== -1) turn.items.splice(i, 1);
}

/**
 * Shows a message the person sent until Codex echoes it as a userMessage
 * item (the echo may also arrive before the POST answers). `images`: the
 * parts shown after the text (the attachments sent with it).
 */
export function addLocalUserMessage(
  data: AppData,
  sessionId: string,
  turnId: string,
  text: string,
  images: UserInput[] = [],
): void {
  const turn = ensureTurn(data, sessionId, turnId);
  if (!turn) return;
  if (turn.items.some((x) => x.type === 'userMessage' && userText(x) === text)) return;
  turn.items.push({
    type: 'userMessage',
    id: `local-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    content: [{ type: 'text', text }, ...images],
    local: true,
  });
}

/**
 * A message the server took (`POST …/messages` answered `turnId`): shown
 * in its turn, and the turn marked running unless its end came first (a
 * fast failure can end the turn before the answer to the POST arrives).
 */
export function addSentMessage(
  data: AppData,
  sessionId: string,
  turnId: string,
  text: string,
  images: UserInput[] = [],
): void {
  if (!data.turns[sessionId]) data.turns[sessionId] = [];
  addLocalUserMessage(data, sessionId, turnId, text, images);
  const s = session(data, sessionId);
  const turn = data.turns[sessionId]?.find((t) => t.id === turnId);
  if (s && !s.activeTurnId && turn?.status === 'inProgress') s.activeTurnId = turnId;
}

/** The item a delta streams into when it arrives before its `item.started`. */
function placeholder(itemId: string, kind: DeltaKind): ShownItem {
  switch (kind) {
    case 'agentMessage':
      return { type: 'agentMessage', id: itemId, text: '', phase: null };
    case 'reasoning':
      return { type: 'reasoning', id: itemId, summary: [], content: [] };
    case 'commandOutput':
      return {
        type: 'commandExecution',
        id: itemId,
        command: '',
        cwd: '',
        status: 'inProgress',
        aggregatedOutput: '',
        exitCode: null,
        durationMs: null,
      };
    case 'fileChange':
      return { type: 'fileChange', id: itemId, changes: [], status: 'inProgress' };
    default:
      // A delta kind newer than this UI (the event is parsed JSON): keep the
      // item, drawn as a generic one.
      return { type: 'other', id: itemId, codexType: String(kind), data: {} };
  }
}

/** Appends a delta to its item; one whose kind does not fit the item is dropped. */
function applyDelta(item: ShownItem, kind: DeltaKind, text: string): void {
  if (kind === 'agentMessage' && item.type === 'agentMessage') {
    item.text += text;
  } else if (kind === 'reasoning' && item.type === 'reasoning') {
    // Deltas extend the last summary part.
    if (item.summary.length === 0) item.summary.push('');
    item.summary[item.summary.length - 1] += text;
  } else if (kind === 'commandOutput' && item.type === 'commandExecution') {
    item.aggregatedOutput = (item.aggregatedOutput ?? '') + text;
  } else if (kind === 'fileChange' && item.type === 'fileChange') {
    item.output = (item.output ?? '') + text;
  }
}

/**
 * A started item in place of the one already held (a placeholder its deltas
 * made): Codex's fields, but never losing what was streamed into it.
 */
function keepStreamed(started: Item, held: ShownItem): ShownItem {
  if (started.type === 'agentMessage' && held.type === 'agentMessage' && held.text) {
    return { ...started, text: held.text };
  }
  if (started.type === 'reasoning' && held.type === 'reasoning' && held.summary.length > 0) {
    return { ...started, summary: held.summary };
  }
  if (started.type === 'commandExecution' && held.type === 'commandExecution' && held.aggregatedOutput) {
    return { ...started, aggregatedOutput: held.aggregatedOutput };
  }
  if (started.type === 'fileChange' && held.type === 'fileChange' && held.output) {
    return { ...started, output: held.output };
  }
  return started;
}

/** Keeps the newest 20; the same message again (for the same session) moves to the end instead of showing twice. */
export function addWarning(data: AppData, warning: Warning): void {
  const same = data.warnings.findIndex((w) => w.message === warning.message && w.sessionId === warning.sessionId);
  if (same !== -1) data.warnings.splice(same, 1);
  data.warnings.push(warning);
  if (data.warnings.length > 20) data.warnings.splice(0, data.warnings.length - 20);
}

function touchActivity(data: AppData, sessionId: string): void {
  if (sessionId !== data.selectedId && session(data, sessionId)) data.unread[sessionId] = true;
}

function clearStall(data: AppData, turnId: string): void {
  if (turnId in data.stalled) delete data.stalled[turnId];
}

/** The turn made progress or ended: its trouble with the model is over. */
function clearProblem(data: AppData, sessionId: string, turnId: string): void {
  const p = data.problems[sessionId];
  if (p && (p.turnId === null || p.turnId === turnId)) delete data.problems[sessionId];
}

export function applyEvent(data: AppData, ev: PerchEvent): Effect[] {
  // The stream's own events (no seq): events were missed, reload.
  if (ev.type === 'lagged' || ev.type === 'reset') return [{ type: 'reload', reason: ev.type }];
  // Sequence numbers only grow; a smaller one means the server restarted
  // (its buffer starts again at 1), so what we hold may be stale. (`seq` is
  // checked because the event is parsed JSON.)
  const hasSeq = typeof ev.seq === 'number';
  const restarted = hasSeq && data.lastSeq > 0 && ev.seq <= data.lastSeq;
  if (hasSeq) data.lastSeq = restarted ? ev.seq : Math.max(data.lastSeq, ev.seq);
  applyKind(data, ev);
  return restarted ? [{ type: 'reload', reason: 'reset' }] : [];
}

function applyKind(data: AppData, ev: RuntimeEvent): void {
  switch (ev.type) {
    case 'codex.state':
      data.codexState = ev.state;
      data.codexDetail = ev.detail ?? null;
      if (data.status) {
        data.status.codex.state = ev.state;
        data.status.codex.detail = ev.detail ?? null;
      }
      return;
    case 'session.updated': {
      const prev = session(data, ev.session.id);
      upsertSession(data, ev.session);
      if (prev && ev.session.lastActivityAt > prev.lastActivityAt) touchActivity(data, ev.session.id);
      return;
    }
    case 'session.replaced': {
      // A session without messages moved to a new thread: same session, new id.
      const prev = ev.previousId;
      data.sessions = data.sessions.filter((x) => x.id !== prev);
      upsertSession(data, ev.session);
      const id = ev.session.id;
      for (const table of [data.turns, data.problems, data.tokens, data.unread] as Record<string, unknown>[]) {
        if (prev in table && !(id in table)) table[id] = table[prev];
        delete table[prev];
      }
      if (data.selectedId === prev) data.selectedId = id;
      return;
    }
    case 'session.rewound': {
      // Edited or retried: those turns left the session's history.
      const gone = new Set(ev.turnIds);
      const turns = data.turns[ev.sessionId];
      if (turns) data.turns[ev.sessionId] = turns.filter((t) => !gone.has(t.id));
      return;
    }
    case 'turn.started': {
      delete data.problems[ev.sessionId];
      ensureTurn(data, ev.sessionId, ev.turnId);
      const s = session(data, ev.sessionId);
      if (s) s.activeTurnId = ev.turnId;
      if (data.status && !data.status.activeTurns.some((x) => x.turnId === ev.turnId)) {
        data.status.activeTurns.push({ sessionId: ev.sessionId, turnId: ev.turnId, stalled: false, startedAt: ev.at });
      }
      return;
    }
    case 'turn.completed': {
      const t = ensureTurn(data, ev.sessionId, ev.turnId);
      if (t) {
        t.status = ev.status;
        t.error = ev.error ?? null;
      }
      const s = session(data, ev.sessionId);
      if (s && (s.activeTurnId === ev.turnId || s.activeTurnId === null)) s.activeTurnId = null;
      clearStall(data, ev.turnId);
      clearProblem(data, ev.sessionId, ev.turnId);
      if (data.status) data.status.activeTurns = data.status.activeTurns.filter((x) => x.turnId !== ev.turnId);
      touchActivity(data, ev.sessionId);
      return;
    }
    case 'turn.stalled':
      data.stalled[ev.turnId] = ev.silentForMs;
      return;
    case 'turn.problem': {
      // A late report about a turn that has ended is not shown.
      const turn = ev.turnId ? data.turns[ev.sessionId]?.find((t) => t.id === ev.turnId) : undefined;
      if (turn && turn.status !== 'inProgress') return;
      data.problems[ev.sessionId] = { turnId: ev.turnId, problem: ev.problem, at: ev.at };
      return;
    }
    case 'account.updated':
      data.account = ev.account;
      if (data.status) data.status.account = ev.account;
      return;
    case 'item.started':
    case 'item.completed': {
      clearStall(data, ev.turnId);
      // The model answering is progress (the person's own message is not).
      if (ev.item.type !== 'userMessage') clearProblem(data, ev.sessionId, ev.turnId);
      const t = ensureTurn(data, ev.sessionId, ev.turnId);
      if (!t) return;
      if (ev.type === 'item.completed') {
        upsertItem(t, { ...ev.item, _done: true });
        return;
      }
      const i = t.items.findIndex((x) => x.id === ev.item.id);
      if (i === -1) upsertItem(t, ev.item);
      // A late start never undoes the item's completion.
      else if (t.items[i]._done !== true) t.items[i] = keepStreamed(ev.item, t.items[i]);
      return;
    }
    case 'item.delta': {
      clearStall(data, ev.turnId);
      clearProblem(data, ev.sessionId, ev.turnId);
      const t = ensureTurn(data, ev.sessionId, ev.turnId);
      if (!t) return;
      let item = t.items.find((x) => x.id === ev.itemId);
      if (!item) {
        t.items.push(placeholder(ev.itemId, ev.kind));
        item = t.items[t.items.length - 1];
      }
      applyDelta(item, ev.kind, ev.delta);
      return;
    }
    case 'turn.diff': {
      const t = ensureTurn(data, ev.sessionId, ev.turnId);
      if (t) t.diff = ev.diff;
      return;
    }
    case 'tokens.updated': {
      data.tokens[ev.sessionId] = ev.usage;
      const s = session(data, ev.sessionId);
      if (s) s.tokenUsage = ev.usage;
      return;
    }
    case 'approval.requested':
    case 'approval.resolved':
      data.approvals[ev.approval.id] = ev.approval;
      if (ev.type === 'approval.requested' && ev.approval.turnId) clearStall(data, ev.approval.turnId);
      return;
    case 'warning':
      addWarning(data, { sessionId: ev.sessionId, message: ev.message, at: ev.at });
      return;
    case 'peer.fenced':
      addWarning(data, { sessionId: null, message: ev.message, at: ev.at });
      return;
    case 'settings.changed':
      if (ev.settings && typeof ev.settings === 'object') data.settings = ev.settings;
      return;
    default:
      // peer.*, change.*, memory.changed, plan.changed, wakeup.*, account.login: other stores'.
      return;
  }
}

/** Replace the data with fresh REST state (after sign-in, `lagged`, `reset`). */
export function loadSnapshot(
  data: AppData,
  snap: { status: Status; sessions: Session[]; approvals: Approval[] },
): void {
  data.status = snap.status;
  // Null: Perch has not read it (yet, e.g. after a restart); keep what we know.
  data.account = snap.status.account ?? data.account;
  data.codexState = snap.status.codex.state;
  data.codexDetail = snap.status.codex.detail;
  data.sessions = snap.sessions.slice();
  sortSessions(data.sessions);
  for (const s of data.sessions) if (s.tokenUsage) data.tokens[s.id] = s.tokenUsage;
  // Keep answered approvals we already know (they show their outcome inline);
  // pending ones come from the server's list.
  const keep: Record<string, Approval> = {};
  for (const a of Object.values(data.approvals)) if (a.status !== 'pending') keep[a.id] = a;
  for (const a of snap.approvals) keep[a.id] = a;
  data.approvals = keep;
  const stalled: Record<string, number> = {};
  for (const t of snap.status.activeTurns) if (t.stalled) stalled[t.turnId] = data.stalled[t.turnId] ?? 0;
  data.stalled = stalled;
  // Trouble of turns that ended meanwhile is over.
  const running = new Set(snap.status.activeTurns.map((t) => t.sessionId));
  for (const id of Object.keys(data.problems)) if (!running.has(id)) delete data.problems[id];
}

export function loadHistory(data: AppData, sessionId: string, turns: HistoryTurn[]): void {
  data.turns[sessionId] = turns;
}

/** The running turn of a session, if any. */
export function activeTurnId(data: AppData, sessionId: string): string | null {
  const s = session(data, sessionId);
  if (s?.activeTurnId) return s.activeTurnId;
  const fromStatus = data.status?.activeTurns.find((t) => t.sessionId === sessionId);
  if (fromStatus) return fromStatus.turnId;
  const turns = data.turns[sessionId];
  const last = turns?.[turns.length - 1];
  return last && last.status === 'inProgress' ? last.id : null;
}
