import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, commandCompletions, parseInput, runCommand, type CommandContext, type CommandResult } from '../src/lib/commands';
import type { Memory, Model, Plan, Session, Wakeup } from '../src/lib/types';

// Perch's API faked at the HTTP boundary: `routes` answers `METHOD /path?query`.
type Handler = (body: unknown) => { status?: number; body?: unknown };
let routes: Record<string, Handler> = {};
let calls: { method: string; url: string; body: unknown }[] = [];

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

beforeEach(() => {
  routes = {};
  calls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      const method = init.method ?? 'GET';
      const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
      calls.push({ method, url, body });
      const h = routes[`${method} ${url}`];
      if (!h) return json(404, { error: { code: 'not_found', message: `no route ${method} ${url}` } });
      const r = h(body);
      return json(r.status ?? 200, r.body);
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
  // No command ever starts a model turn.
  expect(calls.some((c) => c.url.endsWith('/messages'))).toBe(false);
});

const session = (over: Partial<Session> = {}): Session => ({
  id: 's1',
  name: 'Main',
  preview: '',
  pinned: false,
  archived: false,
  createdAt: 1,
  lastActivityAt: 1_000,
  model: 'gpt-a',
  effort: 'high',
  cwd: null,
  activeTurnId: null,
  tokenUsage: null,
  ...over,
});

const MODELS: Model[] = [
  { id: 'gpt-a', displayName: 'GPT A', efforts: ['low', 'medium', 'high'], defaultEffort: 'medium', isDefault: true },
  { id: 'gpt-b', displayName: 'GPT B', efforts: ['minimal', 'low'], defaultEffort: 'low', isDefault: false },
];

function ctx(over: Partial<CommandContext> = {}): CommandContext & { opened: Session[]; changed: Session[] } {
  const opened: Session[] = [];
  const changed: Session[] = [];
  return {
    session: session(),
    defaultModel: 'gpt-a',
    openSession: (s) => opened.push(s),
    sessionChanged: (s) => changed.push(s),
    now: 61_000,
    opened,
    changed,
    ...over,
  };
}

const run = (text: string, c: CommandContext = ctx()) => runCommand(parseInput(text), c);
const allText = (r: CommandResult) =>
  [r.title, r.note ?? '', ...(r.sections ?? []).flatMap((s) => [s.heading ?? '', ...s.lines.map((l) => `${l.text} ${l.detail ?? ''}`)])].join('\n');

describe('parseInput', () => {
  it('finds commands and their arguments', () => {
    expect(parseInput('/help')).toEqual({ kind: 'command', name: 'help', args: '' });
    expect(parseInput('  /MODEL   gpt-b  ')).toEqual({ kind: 'command', name: 'model', args: 'gpt-b' });
    expect(parseInput('/new Release work')).toEqual({ kind: 'command', name: 'new', args: 'Release work' });
    expect(parseInput('/memory dark\nmode')).toEqual({ kind: 'command', name: 'memory', args: 'dark\nmode' });
  });

  it('knows an unknown command', () => {
    expect(parseInput('/foo bar')).toEqual({ kind: 'unknown', name: 'foo' });
  });

  it('sends plain text, a lone slash, paths and the // escape as messages', () => {
    expect(parseInput('hello /help')).toEqual({ kind: 'message', text: 'hello /help' });
    expect(parseInput('/')).toEqual({ kind: 'message', text: '/' });
    expect(parseInput(' / ')).toEqual({ kind: 'message', text: ' / ' });
    expect(parseInput('/etc/hosts is broken')).toEqual({ kind: 'message', text: '/etc/hosts is broken' });
    expect(parseInput('//help is a command')).toEqual({ kind: 'message', text: '/help is a command' });
    expect(parseInput('//')).toEqual({ kind: 'message', text: '/' });
  });

  it('completes command names while they are typed', () => {
    expect(commandCompletions('/').map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    expect(commandCompletions('/m').map((c) => c.name)).toEqual(['model', 'memory']);
    expect(commandCompletions('/MO').map((c) => c.name)).toEqual(['model']);
    expect(commandCompletions('/model ')).toEqual([]);
    expect(commandCompletions('//')).toEqual([]);
    expect(commandCompletions('hi')).toEqual([]);
    expect(commandCompletions('/zz')).toEqual([]);
  });
});

describe('commands', () => {
  it('/help lists every command and the escape, without a request', async () => {
    const r = await run('/help');
    expect(r.ok).toBe(true);
    for (const c of COMMANDS) expect(allText(r)).toContain(c.usage);
    expect(r.note).toContain('//');
    expect(calls).toEqual([]);
  });

  it('an unknown command is an error that lists the commands', async () => {
    const r = await run('/foo');
    expect(r.ok).toBe(false);
    expect(r.title).toBe('Unknown command /foo.');
    expect(allText(r)).toContain('/model [name]');
    expect(calls).toEqual([]);
  });

  it('/sessions lists sessions with links, marking this one', async () => {
    routes['GET /api/sessions?archived=false'] = () => ({
      body: { data: [session(), session({ id: 's2', name: null, preview: 'Fix the build', activeTurnId: 't', pinned: true })] },
    });
    const r = await run('/sessions');
    expect(r.title).toBe('2 sessions.');
    const lines = r.sections![0].lines;
    expect(lines[0]).toMatchObject({ text: 'Main', href: '#/chat/s1', mark: 'current' });
    expect(lines[0].detail).toContain('this session');
    expect(lines[1]).toMatchObject({ text: 'Fix the build', href: '#/chat/s2' });
    expect(lines[1].detail).toContain('running · pinned · active 1 min ago');
  });

  it('/new creates a named session and opens it', async () => {
    routes['POST /api/sessions'] = (body) => ({ status: 201, body: session({ id: 's9', name: (body as { name?: string }).name ?? null }) });
    const c = ctx();
    const r = await run('/new Release work', c);
    expect(calls[0].body).toEqual({ name: 'Release work' });
    expect(c.opened.map((s) => s.id)).toEqual(['s9']);
    expect(r).toMatchObject({ ok: true, openedSessionId: 's9', title: 'Started session “Release work”.' });
    await run('/new', c);
    expect(calls[1].body).toEqual({});
  });

  it('/compact compacts this session, and needs one', async () => {
    routes['POST /api/sessions/s1/compact'] = () => ({ status: 202, body: {} });
    expect((await run('/compact')).ok).toBe(true);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/sessions/s1/compact']);
    const none = await run('/compact', ctx({ session: null }));
    expect(none).toMatchObject({ ok: false, title: '/compact works in a session: open one first.' });
  });

  it('/model shows the current model and the list', async () => {
    routes['GET /api/models'] = () => ({ body: { data: MODELS } });
    const r = await run('/model');
    expect(r.title).toBe('Model: gpt-a (reasoning high).');
    expect(r.sections![0].lines.map((l) => [l.text, l.mark])).toEqual([
      ['gpt-a', 'current'],
      ['gpt-b', undefined],
    ]);
    expect(r.sections![0].lines[1].detail).toContain('reasoning: minimal, low');
    expect(calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('/model NAME sets it, with an effort the new model has', async () => {
    routes['GET /api/models'] = () => ({ body: { data: MODELS } });
    routes['PATCH /api/sessions/s1'] = (body) => ({ body: session(body as Partial<Session>) });
    const c = ctx();
    const r = await run('/model GPT B', c);
    expect(calls[1]).toMatchObject({ method: 'PATCH', url: '/api/sessions/s1', body: { model: 'gpt-b', effort: 'low' } });
    expect(r).toMatchObject({ ok: true, title: 'Model set to gpt-b (reasoning low).' });
    expect(c.changed[0].model).toBe('gpt-b');
    // The session's effort is kept when the model has it.
    await run('/model gpt-a', ctx({ session: session({ model: 'gpt-b', effort: 'low' }) }));
    expect(calls[3].body).toEqual({ model: 'gpt-a' });
  });

  it('/model refuses an unknown model and sends nothing', async () => {
    routes['GET /api/models'] = () => ({ body: { data: MODELS } });
    const r = await run('/model gpt-z');
    expect(r.ok).toBe(false);
    expect(r.title).toBe('Unknown model “gpt-z”.');
    expect(allText(r)).toContain('gpt-b');
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
  });

  it('/model sets a name unchecked when Codex cannot list models', async () => {
    routes['GET /api/models'] = () => ({ status: 503, body: { error: { code: 'codex_unavailable', message: 'Codex is restarting' } } });
    routes['PATCH /api/sessions/s1'] = (body) => ({ body: session(body as Partial<Session>) });
    const r = await run('/model local-llm');
    expect(r.ok).toBe(true);
    expect(calls[1].body).toEqual({ model: 'local-llm' });
    expect(r.note).toContain('Not checked');
  });

  it('/reasoning shows and sets the effort, checked against the model', async () => {
    routes['GET /api/models'] = () => ({ body: { data: MODELS } });
    routes['PATCH /api/sessions/s1'] = (body) => ({ body: session(body as Partial<Session>) });
    const shown = await run('/reasoning');
    expect(shown.title).toBe('Reasoning effort: high.');
    expect(shown.sections![0].lines.map((l) => l.text)).toEqual(['low', 'medium', 'high']);
    const set = await run('/reasoning LOW');
    expect(set).toMatchObject({ ok: true, title: 'Reasoning effort set to low.' });
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([{ effort: 'low' }]);
    const bad = await run('/reasoning extreme');
    expect(bad).toMatchObject({ ok: false, title: 'gpt-a has no reasoning effort “extreme”. Pick one of: low, medium, high.' });
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
  });

  it('/memory QUERY searches, ranked with a score hint', async () => {
    const m = (id: number, text: string, score: number): Memory => ({
      id, text, tags: ['ui'], source: 'person', sourceRef: null, senders: [], importance: 0.8, createdAt: 1, updatedAt: 1, lastUsedAt: null, score,
    });
    routes['GET /api/memories?q=dark+mode&limit=10'] = () => ({ body: { data: [m(1, 'Prefers dark mode', 4), m(2, 'Dark IDE theme', 2)], total: 2 } });
    const r = await run('/memory dark mode');
    expect(r.title).toBe('2 memories match “dark mode”.');
    expect(r.sections![0].href).toBe('#/memory');
    expect(r.sections![0].lines.map((l) => [l.text, l.detail])).toEqual([
      ['Prefers dark mode', 'best match · #ui · importance 0.8'],
      ['Dark IDE theme', '50% of best · #ui · importance 0.8'],
    ]);
    routes['GET /api/memories?q=zebra&limit=10'] = () => ({ body: { data: [], total: 0 } });
    expect((await run('/memory zebra')).title).toBe('No memory matches “zebra”.');
    routes['GET /api/memories?limit=10'] = () => ({ body: { data: [m(3, 'x', 0)], total: 31 } });
    expect((await run('/memory')).title).toBe('The newest memories (31 in all).');
  });

  it('/plan lists the open items; /plan NAME shows one plan', async () => {
    const plans: Plan[] = [
      {
        id: 1, name: 'Release', createdAt: 1, updatedAt: 2,
        items: [
          { id: 1, text: 'Tag', done: false, position: 1, updatedAt: 1, doneAt: null },
          { id: 2, text: 'Changelog', done: true, position: 0, updatedAt: 1, doneAt: 1 },
        ],
      },
      { id: 2, name: 'Groceries', createdAt: 1, updatedAt: 1, items: [] },
    ];
    routes['GET /api/plans'] = () => ({ body: { data: plans } });
    const all = await run('/plan');
    expect(all.title).toBe('2 plans, 1 open item.');
    expect(all.sections!.map((s) => [s.heading, s.lines.map((l) => l.text)])).toEqual([
      ['Release (1/2 done)', ['Tag']],
      ['Groceries (0/0 done)', []],
    ]);
    const one = await run('/plan rel');
    expect(one.title).toBe('Plan “Release”.');
    expect(one.sections![0].lines.map((l) => [l.text, l.mark])).toEqual([
      ['Changelog', 'done'],
      ['Tag', 'open'],
    ]);
    const missing = await run('/plan zzz');
    expect(missing).toMatchObject({ ok: false, title: 'No plan named “zzz”.', note: 'Plans: Release, Groceries.' });
  });

  it('/wakeups lists schedules and next fire times', async () => {
    const now = new Date(2026, 10, 22, 9, 0).getTime();
    const w = (over: Partial<Wakeup>): Wakeup => ({
      id: 1, label: 'Standup', prompt: 'p', schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Paris' },
      target: { kind: 'new' }, misfire: 'once', graceMs: 1, enabled: true, notify: true,
      nextFireAt: now + 15 * 60_000, createdBy: 'person', createdAt: 1, updatedAt: 1, lastRun: null, ...over,
    });
    routes['GET /api/wakeups'] = () => ({
      body: { data: [w({}), w({ id: 2, label: '', prompt: 'Check CI', enabled: false, nextFireAt: null, schedule: { kind: 'every', everyMs: 900_000, anchor: 0 } })] },
    });
    const r = await run('/wakeups', ctx({ now }));
    expect(r.title).toBe('2 wakeups.');
    expect(r.sections![0].lines.map((l) => [l.text, l.detail])).toEqual([
      ['Standup', 'cron 0 9 * * 1-5 (Europe/Paris) · next 22 Nov 09:15 (in 15 min)'],
      ['Check CI', 'every 15 min · paused'],
    ]);
  });

  it('shows an API error readably', async () => {
    routes['GET /api/plans'] = () => ({ status: 500, body: { error: { code: 'internal', message: 'database is locked' } } });
    const r = await run('/plan');
    expect(r).toEqual({ ok: false, title: '/plan failed: database is locked' });
  });
});
