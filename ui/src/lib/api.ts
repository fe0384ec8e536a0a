// Typed wrappers around the Perch HTTP API (docs/api.md) and an SSE client.
//
// Every request relies on the HttpOnly `perch_session` cookie set by
// `POST /api/auth/session`; the token never lives in storage, URLs or logs.

import type {
  AccountState,
  AgentChange,
  Attachment,
  ChangeStatus,
  AccountLogin,
  Answer,
  BulkDelete,
  Deleted,
  DeviceLinkCode,
  Approval,
  ApprovalDecision,
  ApprovalFilter,
  Compacting,
  Diagnostics,
  FileMatch,
  Health,
  HistoryTurn,
  Interrupting,
  JoinDevice,
  List,
  LoginStarted,
  Memory,
  MemoryFormat,
  MemoryImportResult,
  MemoryPatch,
  MemoryQuery,
  Model,
  NewMemory,
  NewPlan,
  NewPlanItem,
  NewSession,
  NewWakeup,
  Plan,
  PlanClear,
  PlanItemPatch,
  PlanRename,
  PeerAgent,
  PeerMessage,
  PeerMessageQuery,
  PeerPair,
  PeersKeys,
  PeerStatus,
  PeerTask,
  PersonDevices,
  PinKeys,
  PerchEvent,
  ProviderCheck,
  ProviderChecked,
  ProviderKey,
  ReadMarks,
  RelayToken,
  Resend,
  SendPeerMessage,
  Sent,
  Session,
  SessionPatch,
  SessionQuery,
  Settings,
  SettingsPatch,
  SignIn,
  Status,
  Unread,
  UserText,
  Wakeup,
  WakeupPatch,
  WakeupRun,
  SearchResults,
  Project,
} from './types';
import { errMsg } from './format';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Called on any 401 from an authenticated route (e.g. cookie expired). */
let unauthorizedHandler: (() => void) | null = null;
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

/** Turns a failed response into an ApiError with a message for a person. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = res.statusText ? `${res.status} ${res.statusText}` : `Request failed (${res.status})`;
  let text = '';
  try {
    text = await res.text();
  } catch {
    /* body unreadable: keep the status line */
  }
  if (text) {
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
        if (typeof body.error.code === 'string') code = body.error.code;
        if (typeof body.error.message === 'string' && body.error.message) message = body.error.message;
      }
    } catch {
      // Not JSON (e.g. a proxy's HTML page): use a short plain-text body if any.
      const plain = text.trim();
      if (plain && plain.length <= 200 && !plain.startsWith('<')) message = plain;
    }
  }
  return new ApiError(res.status, code, message);
}

interface RequestOptions {
  body?: unknown;
  /** A body sent as it is (not JSON: text, or a file's bytes), with its content type. */
  text?: { body: string | Blob; contentType: string };
  /** The Accept header (default JSON). */
  accept?: string;
  /** Do not call the global 401 handler (login routes). */
  quiet401?: boolean;
}

/** Sends a request; a failed answer becomes an ApiError. */
async function send(method: string, path: string, opts: RequestOptions): Promise<Response> {
  // `X-Perch-Request`: Perch refuses browser writes without it (or a JSON
  // body), which a page of another origin cannot send without a preflight.
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json', 'X-Perch-Request': '1' };
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (opts.text !== undefined) {
    headers['Content-Type'] = opts.text.contentType;
    init.body = opts.text.body;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network_error', 'Cannot reach Perch: ' + errMsg(e));
  }
  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (res.status === 401 && !opts.quiet401 && unauthorizedHandler) unauthorizedHandler();
    throw err;
  }
  return res;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'Perch answered with something that is not JSON');
  }
}

/** A request whose answer is text (a file), not JSON. */
export async function requestText(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
  const res = await send(method, path, { accept: '*/*', ...opts });
  return res.status === 204 ? '' : res.text();
}

/** `?a=1&b=x` from the defined values, or '' when there are none. */
function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const qs = p.toString();
  return qs ? '?' + qs : '';
}

const enc = encodeURIComponent;

export const api = {
  health: () => request<Health>('GET', '/api/health'),

  signIn: (cred: SignIn) => request<void>('POST', '/api/auth/session', { body: cred, quiet401: true }),
  signOut: () => request<void>('DELETE', '/api/auth/session', { quiet401: true }),

  status: (quiet401 = false) => request<Status>('GET', '/api/status', { quiet401 }),

  listSessions: (opts: SessionQuery = {}) =>
    request<List<Session>>(
      'GET',
      '/api/sessions' +
        query({
          archived: opts.archived ?? false,
          includeArchived: opts.includeArchived || undefined,
          q: opts.q,
          project: opts.project,
        }),
    ),
  projects: () => request<List<Project>>('GET', '/api/projects'),
  addProject: (path: string) => request<Project>('POST', '/api/projects', { body: { path } }),
  removeProject: (id: number) => request<void>('DELETE', `/api/projects/${id}`),
  search: (q: string, limit = 30) => request<SearchResults>('GET', '/api/search' + query({ q, limit })),
  createSession: (body: NewSession = {}) =>
    request<Session>('POST', '/api/sessions', { body }),
  getSession: (id: string) => request<Session>('GET', `/api/sessions/${enc(id)}`),
  patchSession: (
    id: string,
    body: SessionPatch,
  ) => request<Session>('PATCH', `/api/sessions/${enc(id)}`, { body }),
  forkSession: (id: string, lastTurnId?: string) =>
    request<Session>('POST', `/api/sessions/${enc(id)}/fork`, { body: lastTurnId ? { lastTurnId } : {} }),
  /** `attachments`: ids from `uploadAttachment`, sent with the text again. */
  resend: (id: string, turnId: string, text: string, attachments: string[] = []) =>
    request<Sent>('POST', `/api/sessions/${enc(id)}/resend`, {
      body: (attachments.length ? { turnId, text, attachments } : { turnId, text }) satisfies Resend,
    }),
  compactSession: (id: string) => request<Compacting>('POST', `/api/sessions/${enc(id)}/compact`, { body: {} }),
  history: (id: string) => request<List<HistoryTurn>>('GET', `/api/sessions/${enc(id)}/history`),
  /** `attachments`: ids from `uploadAttachment` (at most 10); the text may then be empty. */
  sendMessage: (id: string, text: string, attachments: string[] = []) =>
    request<Sent>('POST', `/api/sessions/${enc(id)}/messages`, {
      body: (attachments.length ? { text, attachments } : { text }) satisfies UserText,
    }),
  /** Keeps an image (its raw bytes; `mime`: one of `ATTACHMENT_TYPES`) to send with a message. */
  uploadAttachment: (file: Blob, mime: string) =>
    request<Attachment>('POST', '/api/attachments', { text: { body: file, contentType: mime } }),
  /** Codex's fuzzy search of the files in the session's folder (`@` mentions). */
  sessionFiles: (id: string, q: string, limit = 20) =>
    request<List<FileMatch>>('GET', `/api/sessions/${enc(id)}/files` + query({ q, limit })),
  interrupt: (id: string) =>
    request<Interrupting>('POST', `/api/sessions/${enc(id)}/interrupt`, { body: {} }),

  listApprovals: (status: ApprovalFilter = 'pending') =>
    request<List<Approval>>('GET', `/api/approvals?status=${status}`),
  sessionApprovals: (sessionId: string) => request<List<Approval>>('GET', '/api/approvals' + query({ sessionId })),
  answerApproval: (id: string, decision: ApprovalDecision, reason?: string) =>
    request<Approval>('POST', `/api/approvals/${enc(id)}`, {
      body: (reason ? { decision, reason } : { decision }) satisfies Answer,
    }),

  account: () => request<AccountState>('GET', '/api/account'),
  accountLogin: (body: AccountLogin) =>
    request<LoginStarted>('POST', '/api/account/login', { body }),
  /** Signs Codex out; answers the account after. */
  accountLogout: () => request<AccountState>('POST', '/api/account/logout', { body: {} }),
  models: () => request<List<Model>>('GET', '/api/models'),

  settings: () => request<Settings>('GET', '/api/settings'),
  patchSettings: (body: SettingsPatch) => request<Settings>('PATCH', '/api/settings', { body }),
  setProviderKey: (key: string) => request<Settings>('PUT', '/api/settings/provider-key', { body: { key } satisfies ProviderKey }),
  clearProviderKey: () => request<Settings>('DELETE', '/api/settings/provider-key'),
  /** Tries an OpenAI-compatible server (its model listing); nothing is stored. */
  checkProvider: (body: ProviderCheck) => request<ProviderChecked>('POST', '/api/settings/provider-check', { body }),
  setRelayToken: (token: string) => request<Settings>('PUT', '/api/settings/relay-token', { body: { token } satisfies RelayToken }),
  clearRelayToken: () => request<Settings>('DELETE', '/api/settings/relay-token'),
  restartCodex: () => request<unknown>('POST', '/api/codex/restart', { body: {} }),
  diagnostics: () => request<Diagnostics>('GET', '/api/diagnostics'),

  peerStatus: () => request<PeerStatus>('GET', '/api/peer'),
  peerAgents: () => request<List<PeerAgent>>('GET', '/api/peer/agents'),
  /** Ascending ids; `hasMore` when older messages remain (page with `beforeId`). */
  peerMessages: (query: PeerMessageQuery = {}) => {
    const p = new URLSearchParams();
    if (query.channel) p.set('channel', query.channel);
    if (query.agent) p.set('agent', query.agent);
    if (query.beforeId !== undefined) p.set('beforeId', String(query.beforeId));
    if (query.limit !== undefined) p.set('limit', String(query.limit));
    const qs = p.toString();
    return request<List<PeerMessage> & { hasMore: boolean }>('GET', '/api/peer/messages' + (qs ? '?' + qs : ''));
  },
  sendPeerMessage: (body: SendPeerMessage) => request<PeerMessage>('POST', '/api/peer/messages', { body }),
  markPeerRead: (ids: number[]) => request<Unread>('POST', '/api/peer/read', { body: { ids } satisfies ReadMarks }),
  peerPairs: () => request<List<PeerPair>>('GET', '/api/peer/pairs'),
  peerTasks: () => request<List<PeerTask>>('GET', '/api/peer/tasks'),
  peerKeys: () => request<PeersKeys>('GET', '/api/peer/keys'),
  pinPeerKeys: (id: string) => request<PeersKeys>('POST', '/api/peer/keys/pin', { body: { id } satisfies PinKeys }),
  unpinPeerKeys: (id: string) => request<PeersKeys>('POST', '/api/peer/keys/unpin', { body: { id } satisfies PinKeys }),
  rotatePeerKeys: () => request<PeersKeys>('POST', '/api/peer/keys/rotate'),
  /** The computers that hold the person's id, each with a key of its own. */
  personDevices: () => request<PersonDevices>('GET', '/api/peer/devices'),
  /** A one-time code (10 minutes) another computer joins the person's id with. */
  linkDevice: () => request<DeviceLinkCode>('POST', '/api/peer/devices/link', { body: {} }),
  joinDevice: (code: string) =>
    request<PersonDevices>('POST', '/api/peer/devices/join', { body: { code } satisfies JoinDevice }),
  unlinkDevice: (device: string) => request<PersonDevices>('DELETE', `/api/peer/devices/${enc(device)}`),

  // Memory
  /** `total`: all memories (without `q`), or the matches (with `q`, capped). */
  memories: (q: MemoryQuery = {}) =>
    request<List<Memory> & { total: number }>('GET', '/api/memories' + query({ q: q.q?.trim(), tag: q.tag, limit: q.limit, offset: q.offset })),
  getMemory: (id: number) => request<Memory>('GET', `/api/memories/${id}`),
  addMemory: (body: NewMemory) => request<Memory>('POST', '/api/memories', { body }),
  patchMemory: (id: number, body: MemoryPatch) => request<Memory>('PATCH', `/api/memories/${id}`, { body }),
  deleteMemory: (id: number) => request<void>('DELETE', `/api/memories/${id}`),
  deleteMemories: (ids: number[]) => request<Deleted>('POST', '/api/memories/delete', { body: { ids } satisfies BulkDelete }),
  /** The export file's text (JSON lines or Markdown). */
  exportMemories: (format: MemoryFormat) => requestText('GET', `/api/memories/export?format=${format}`),
  /** Imports a file's text; the format names how to read it. */
  importMemories: (text: string, format: MemoryFormat) =>
    request<MemoryImportResult>('POST', `/api/memories/import?format=${format}`, {
      text: { body: text, contentType: 'text/plain; charset=utf-8' },
    }),

  // Planner
  plans: () => request<List<Plan>>('GET', '/api/plans'),
  createPlan: (body: NewPlan) => request<Plan>('POST', '/api/plans', { body }),
  getPlan: (id: number) => request<Plan>('GET', `/api/plans/${id}`),
  renamePlan: (id: number, name: string) => request<Plan>('PATCH', `/api/plans/${id}`, { body: { name } satisfies PlanRename }),
  deletePlan: (id: number) => request<void>('DELETE', `/api/plans/${id}`),
  addPlanItem: (id: number, body: NewPlanItem) =>
    request<Plan>('POST', `/api/plans/${id}/items`, { body }),
  patchPlanItem: (id: number, itemId: number, body: PlanItemPatch) =>
    request<Plan>('PATCH', `/api/plans/${id}/items/${itemId}`, { body }),
  deletePlanItem: (id: number, itemId: number) => request<Plan>('DELETE', `/api/plans/${id}/items/${itemId}`),
  /** `doneOnly` removes the checked items; otherwise every item. */
  clearPlan: (id: number, doneOnly: boolean) => request<Plan>('POST', `/api/plans/${id}/clear`, { body: { doneOnly } satisfies PlanClear }),

  // Wakeups
  wakeups: () => request<List<Wakeup>>('GET', '/api/wakeups'),
  createWakeup: (body: NewWakeup) => request<Wakeup>('POST', '/api/wakeups', { body }),
  patchWakeup: (id: number, body: WakeupPatch) => request<Wakeup>('PATCH', `/api/wakeups/${id}`, { body }),
  deleteWakeup: (id: number) => request<void>('DELETE', `/api/wakeups/${id}`),
  /** Fires a wakeup now, outside its schedule. */
  runWakeup: (id: number) => request<WakeupRun>('POST', `/api/wakeups/${id}/run`, { body: {} }),
  wakeupRuns: (opts: { wakeupId?: number; limit?: number } = {}) =>
    request<List<WakeupRun>>('GET', '/api/wakeups/runs' + query({ wakeupId: opts.wakeupId, limit: opts.limit })),
  /** Runs a `missed` run (the `ask` policy) now. */
  fireWakeupRun: (runId: number) => request<WakeupRun>('POST', `/api/wakeups/runs/${runId}/fire`, { body: {} }),
  dismissWakeupRun: (runId: number) => request<WakeupRun>('POST', `/api/wakeups/runs/${runId}/dismiss`, { body: {} }),

  // Agent changes (what the agent did or asks to do with Perch's tools)
  /** Newest first; every status without `status`. */
  changes: (opts: { status?: ChangeStatus; limit?: number } = {}) =>
    request<List<AgentChange>>('GET', '/api/changes' + query({ status: opts.status, limit: opts.limit })),
  getChange: (id: number) => request<AgentChange>('GET', `/api/changes/${id}`),
  /** Runs a pending change now: the answer is `applied`, or `failed` with its `error`. */
  acceptChange: (id: number) => request<AgentChange>('POST', `/api/changes/${id}/accept`, { body: {} }),
  discardChange: (id: number) => request<AgentChange>('POST', `/api/changes/${id}/discard`, { body: {} }),
};

// ---------------------------------------------------------------------------
// Server-sent events

export interface RawSseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental parser for the text/event-stream format (WHATWG rules). */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  private hasId = false;

  push(chunk: string): RawSseEvent[] {
    this.buf += chunk;
    const out: RawSseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone trailing \r may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: RawSseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({ id: this.hasId ? this.id : null, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.data = [];
      this.event = '';
      this.hasId = false;
      this.id = null;
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.hasId = true;
        }
        break;
      default:
        break; // `retry` and unknown fields are ignored
    }
  }
}

export interface EventStreamHandlers {
  /** A parsed event from the stream. */
  onEvent: (ev: PerchEvent) => void;
  /** `true` once the stream is open; `false` while it is down. `replaying` is
   *  `resumed` is true when the open sent Last-Event-ID. */
  onConnection: (connected: boolean, info: { resumed: boolean }) => void;
  /** The stream answered 401: the caller should show the sign-in page. */
  onUnauthorized?: () => void;
}

/**
 * `GET /api/events` over fetch (so we can send `Last-Event-ID` ourselves and
 * see the status code), reconnecting with backoff. After a reconnect the
 * server replays missed events; if it cannot, it sends `reset`.
 */
export class EventStream {
  private lastId: string | null = null;
  private controller: AbortController | null = null;
  private stopped = true;
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly handlers: EventStreamHandlers;
  private readonly url: string;
  private readonly silenceMs: number;

  constructor(handlers: EventStreamHandlers, url = '/api/events', silenceMs = 45_000) {
    this.handlers = handlers;
    this.url = url;
    this.silenceMs = silenceMs;
  }

  get lastEventId(): string | null {
    return this.lastId;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
    this.controller = null;
  }

  /** Drop the connection now and reconnect (keeps Last-Event-ID). */
  reconnectNow(): void {
    if (this.stopped) return;
    this.controller?.abort();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const controller = new AbortController();
    this.controller = controller;
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    const resumed = this.lastId !== null;
    if (this.lastId !== null) headers['Last-Event-ID'] = this.lastId;
    let opened = false;
    try {
      const res = await fetch(this.url, {
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        signal: controller.signal,
      });
      if (res.status === 401) {
        this.stopped = true;
        this.handlers.onConnection(false, { resumed });
        this.handlers.onUnauthorized?.();
        return;
      }
      if (!res.ok || !res.body) throw await errorFromResponse(res);
      opened = true;
      this.retryMs = 500;
      this.handlers.onConnection(true, { resumed });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      // The server sends a keep-alive every 15 s: silence for much longer
      // means a dead connection that TCP has not noticed yet.
      let silence: ReturnType<typeof setTimeout> | null = null;
      const arm = () => {
        if (silence) clearTimeout(silence);
        silence = setTimeout(() => controller.abort(), this.silenceMs);
      };
      arm();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm();
          for (const raw of parser.push(value)) this.dispatch(raw);
        }
      } finally {
        if (silence) clearTimeout(silence);
      }
    } catch {
      /* network error, abort or bad status: fall through to reconnect */
    }
    if (this.controller === controller) this.controller = null;
    if (this.stopped) return;
    this.handlers.onConnection(false, { resumed });
    const delay = opened ? 250 : this.retryMs;
    if (!opened) this.retryMs = Math.min(this.retryMs * 2, 10_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private dispatch(raw: RawSseEvent): void {
    if (raw.id !== null) this.lastId = raw.id;
    let parsed: PerchEvent;
    try {
      parsed = JSON.parse(raw.data) as PerchEvent;
    } catch {
      return;
    }
    if (!parsed || typeof parsed !== 'object') return;
    if (!parsed.type && raw.event !== 'message') (parsed as { type: string }).type = raw.event;
    try {
      this.handlers.onEvent(parsed);
    } catch (e) {
      console.error('perch: event handler failed', e);
    }
  }
}
