// Slash commands of the chat's composer: `/help`, `/model gpt-5`, … They run
// here, through Perch's API, and never start a model turn (no
// `POST /api/sessions/{id}/messages`): their output is a local card in the
// chat, not sent to Codex and not kept. Unit-tested in tests/commands.test.ts.
//
// `//text` sends `/text` as a message (the escape), and a lone `/` or a
// slash not followed by a command-like word (`/etc/hosts`) is sent as typed.

import { api } from './api';
import { errMsg, relativeTime, relativeWhen, sessionTitle, shortDateTime } from './format';
import { memorySnippet, scoreHint } from './memory';
import { findPlan, planProgress, sortedItems } from './planner';
import { routeHash } from './routes';
import type { Model, Plan, Session } from './types';
import { describeSchedule, wakeupState } from './wakeups';

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
}

export const COMMANDS: CommandSpec[] = [
  { name: 'help', usage: '/help', summary: 'List the commands.' },
  { name: 'sessions', usage: '/sessions', summary: 'List your sessions.' },
  { name: 'new', usage: '/new [name]', summary: 'Start a new session and open it.' },
  { name: 'fork', usage: '/fork [name]', summary: 'Fork this session: a new one with the same history, opened.' },
  { name: 'compact', usage: '/compact', summary: 'Compact this session’s context (Codex summarises the conversation).' },
  { name: 'model', usage: '/model [name]', summary: 'Show the models, or set this session’s model.' },
  { name: 'reasoning', usage: '/reasoning [level]', summary: 'Show the reasoning efforts, or set this session’s.' },
  { name: 'memory', usage: '/memory [query]', summary: 'Search the memories, or show the newest.' },
  { name: 'plan', usage: '/plan [name]', summary: 'Show the plans’ open items, or one plan.' },
  { name: 'wakeups', usage: '/wakeups', summary: 'List the wakeups and when they fire next.' },
];

export const ESCAPE_HINT = 'To send a message that starts with a slash, start it with two: “//etc/hosts” sends “/etc/hosts”.';

export type ParsedInput =
  /** Text for Codex (possibly unescaped from `//`). */
  | { kind: 'message'; text: string }
  | { kind: 'command'; name: string; args: string }
  | { kind: 'unknown'; name: string };

/** What the composer's text is: a message for Codex or a command. */
export function parseInput(text: string): ParsedInput {
  const t = text.trim();
  if (!t.startsWith('/') || t === '/') return { kind: 'message', text };
  if (t.startsWith('//')) return { kind: 'message', text: text.replace('/', '') };
  const m = /^\/([A-Za-z][\w-]*)(?:\s+([\s\S]*))?$/.exec(t);
  if (!m) return { kind: 'message', text };
  const name = m[1].toLowerCase();
  if (!COMMANDS.some((c) => c.name === name)) return { kind: 'unknown', name: m[1] };
  return { kind: 'command', name, args: (m[2] ?? '').trim() };
}

/** The commands to offer while the person types a command's name ("/mo" -> /model). */
export function commandCompletions(text: string): CommandSpec[] {
  if (!text.startsWith('/') || text.startsWith('//') || /\s/.test(text)) return [];
  const prefix = text.slice(1).toLowerCase();
  return COMMANDS.filter((c) => c.name.startsWith(prefix));
}

// ---------------------------------------------------------------------------
// Output

export interface CommandLine {
  text: string;
  detail?: string;
  /** A route in the UI (`#/chat/<id>`). */
  href?: string;
  mark?: 'done' | 'open' | 'current';
}

export interface CommandSection {
  heading?: string;
  href?: string;
  lines: CommandLine[];
  /** Shown when `lines` is empty. */
  empty?: string;
}

export interface CommandResult {
  ok: boolean;
  title: string;
  sections?: CommandSection[];
  note?: string;
  /** The command opened this session (`/new`). */
  openedSessionId?: string;
}

/** What the commands need from the app. */
export interface CommandContext {
  /** The open session, as the app knows it. */
  session: Session | null;
  /** The server's default model (`status.model`). */
  defaultModel: string | null;
  /** Opens a session the command created. */
  openSession: (s: Session) => void;
  /** A session the command changed (model, effort). */
  sessionChanged: (s: Session) => void;
  now?: number;
}

const chatHref = (id: string) => routeHash({ page: 'chat', sessionId: id });
const MAX_LINES = 20;

function needSession(ctx: CommandContext, name: string): Session {
  if (!ctx.session) throw new CommandError(`/${name} works in a session: open one first.`);
  return ctx.session;
}

class CommandError extends Error {}

/** Runs a command; never throws (a failure is a result with `ok: false`). */
export async function runCommand(input: ParsedInput, ctx: CommandContext): Promise<CommandResult> {
  if (input.kind === 'message') return { ok: false, title: 'Not a command.' };
  if (input.kind === 'unknown') {
    return {
      ok: false,
      title: `Unknown command /${input.name}.`,
      sections: [{ heading: 'Commands', lines: helpLines() }],
      note: ESCAPE_HINT,
    };
  }
  try {
    switch (input.name) {
      case 'help':
        return { ok: true, title: 'Commands run here, without asking the model.', sections: [{ lines: helpLines() }], note: ESCAPE_HINT };
      case 'sessions':
        return await sessions(ctx);
      case 'new':
        return await newSession(input.args, ctx);
      case 'fork':
        return await fork(input.args, ctx);
      case 'compact':
        return await compact(ctx);
      case 'model':
        return await model(input.args, ctx);
      case 'reasoning':
        return await reasoning(input.args, ctx);
      case 'memory':
        return await memory(input.args);
      case 'plan':
        return await plan(input.args);
      case 'wakeups':
        return await wakeups(ctx);
      default:
        return { ok: false, title: `/${input.name} is not implemented.` };
    }
  } catch (e) {
    if (e instanceof CommandError) return { ok: false, title: e.message };
    return { ok: false, title: `/${input.name} failed: ${errMsg(e)}` };
  }
}

function helpLines(): CommandLine[] {
  return COMMANDS.map((c) => ({ text: c.usage, detail: c.summary }));
}

async function sessions(ctx: CommandContext): Promise<CommandResult> {
  const now = ctx.now ?? Date.now();
  const list = (await api.listSessions()).data;
  const lines = list.slice(0, MAX_LINES).map((s): CommandLine => {
    const facts = [
      s.id === ctx.session?.id ? 'this session' : null,
      s.activeTurnId ? 'running' : null,
      s.pinned ? 'pinned' : null,
      `active ${relativeTime(s.lastActivityAt, now)}`,
    ].filter(Boolean);
    return { text: sessionTitle(s), detail: facts.join(' · '), href: chatHref(s.id), mark: s.id === ctx.session?.id ? 'current' : undefined };
  });
  return {
    ok: true,
    title: list.length === 1 ? '1 session.' : `${list.length} sessions.`,
    sections: [{ lines, empty: 'No sessions yet: /new starts one.' }],
    note: list.length > MAX_LINES ? `The ${MAX_LINES} most recent are shown.` : undefined,
  };
}

async function newSession(args: string, ctx: CommandContext): Promise<CommandResult> {
  const s = await api.createSession(args ? { name: args } : {});
  ctx.openSession(s);
  return {
    ok: true,
    title: `Started ${args ? `session “${args}”` : 'a new session'}.`,
    sections: [{ lines: [{ text: sessionTitle(s), href: chatHref(s.id) }] }],
    openedSessionId: s.id,
  };
}

async function fork(args: string, ctx: CommandContext): Promise<CommandResult> {
  const source = needSession(ctx, 'fork');
  let s = await api.forkSession(source.id);
  if (args) s = await api.patchSession(s.id, { name: args });
  ctx.openSession(s);
  return {
    ok: true,
    title: `Forked “${sessionTitle(source)}” into a new session.`,
    sections: [{ lines: [{ text: sessionTitle(s), href: chatHref(s.id) }] }],
    openedSessionId: s.id,
  };
}

async function compact(ctx: CommandContext): Promise<CommandResult> {
  const s = needSession(ctx, 'compact');
  await api.compactSession(s.id);
  return { ok: true, title: 'Compacting this session: Codex summarises the conversation so far to free context.' };
}

/** The models, or null when Codex cannot list them now. */
async function listModels(): Promise<Model[] | null> {
  try {
    return (await api.models()).data;
  } catch {
    return null;
  }
}

function findModel(models: Model[], name: string): Model | undefined {
  const q = name.trim().toLowerCase();
  return models.find((m) => m.id.toLowerCase() === q) ?? models.find((m) => m.displayName.toLowerCase() === q);
}

function currentModelId(ctx: CommandContext, models: Model[] | null): string | null {
  return ctx.session?.model ?? ctx.defaultModel ?? models?.find((m) => m.isDefault)?.id ?? null;
}

function modelLines(models: Model[], current: string | null): CommandLine[] {
  return models.map((m) => ({
    text: m.id,
    detail: [
      m.displayName && m.displayName !== m.id ? m.displayName : null,
      m.efforts.length ? `reasoning: ${m.efforts.join(', ')}` : null,
      m.isDefault ? 'default' : null,
    ]
      .filter(Boolean)
      .join(' · '),
    mark: m.id === current ? 'current' : undefined,
  }));
}

async function model(args: string, ctx: CommandContext): Promise<CommandResult> {
  const models = await listModels();
  const current = currentModelId(ctx, models);
  if (!args) {
    return {
      ok: true,
      title: `Model: ${current ?? 'Codex’s default'}${ctx.session?.effort ? ` (reasoning ${ctx.session.effort})` : ''}.`,
      sections: models ? [{ heading: 'Available models', lines: modelLines(models, current), empty: 'Codex lists no models.' }] : [],
      note: models ? 'Set one with /model NAME.' : 'Codex cannot list the models right now.',
    };
  }
  const s = needSession(ctx, 'model');
  const found = models ? findModel(models, args) : undefined;
  if (models && models.length > 0 && !found) {
    return {
      ok: false,
      title: `Unknown model “${args}”.`,
      sections: [{ heading: 'Available models', lines: modelLines(models, current) }],
    };
  }
  const id = found?.id ?? args;
  // Keep the session's effort when the new model has it, else its default.
  const effort = found && !(s.effort && found.efforts.includes(s.effort)) ? (found.defaultEffort ?? undefined) : undefined;
  const updated = await api.patchSession(s.id, effort ? { model: id, effort } : { model: id });
  ctx.sessionChanged(updated);
  return {
    ok: true,
    title: `Model set to ${updated.model ?? id}${updated.effort ? ` (reasoning ${updated.effort})` : ''}.`,
    note: models ? 'It applies from the next turn.' : 'Not checked: Codex cannot list the models right now. It applies from the next turn.',
  };
}

async function reasoning(args: string, ctx: CommandContext): Promise<CommandResult> {
  const models = await listModels();
  const current = currentModelId(ctx, models);
  const m = models && current ? findModel(models, current) : undefined;
  const efforts = m?.efforts ?? [];
  const effort = ctx.session?.effort ?? m?.defaultEffort ?? null;
  if (!args) {
    return {
      ok: true,
      title: `Reasoning effort: ${effort ?? 'the model’s default'}.`,
      sections: efforts.length
        ? [{ heading: `Efforts of ${m?.id}`, lines: efforts.map((e) => ({ text: e, mark: e === effort ? 'current' : undefined })) }]
        : [],
      note: 'Set one with /reasoning LEVEL.',
    };
  }
  const s = needSession(ctx, 'reasoning');
  const wanted = args.trim().toLowerCase();
  if (efforts.length > 0 && !efforts.includes(wanted)) {
    return { ok: false, title: `${m?.id ?? 'This model'} has no reasoning effort “${args}”. Pick one of: ${efforts.join(', ')}.` };
  }
  const updated = await api.patchSession(s.id, { effort: wanted });
  ctx.sessionChanged(updated);
  return { ok: true, title: `Reasoning effort set to ${updated.effort ?? wanted}.`, note: 'It applies from the next turn.' };
}

async function memory(args: string): Promise<CommandResult> {
  const page = await api.memories(args ? { q: args, limit: 10 } : { limit: 10 });
  const best = Math.max(0, ...page.data.map((m) => (typeof m.score === 'number' ? m.score : 0)));
  const lines = page.data.map((m): CommandLine => ({
    text: memorySnippet(m.text, 200),
    detail: [
      typeof m.score === 'number' ? scoreHint(m.score, best) : null,
      m.tags.length ? m.tags.map((t) => `#${t}`).join(' ') : null,
      `importance ${m.importance}`,
    ]
      .filter(Boolean)
      .join(' · '),
  }));
  const title = args
    ? page.total === 0
      ? `No memory matches “${args}”.`
      : `${page.total} ${page.total === 1 ? 'memory matches' : 'memories match'} “${args}”.`
    : page.total === 0
      ? 'No memories yet.'
      : `The newest memories (${page.total} in all).`;
  return {
    ok: true,
    title,
    sections: lines.length ? [{ lines, href: routeHash({ page: 'memory' }), heading: 'Memory' }] : [],
  };
}

function planSection(p: Plan, openOnly: boolean): CommandSection {
  const { done, total } = planProgress(p);
  const items = sortedItems(p).filter((i) => !openOnly || !i.done);
  return {
    heading: `${p.name} (${done}/${total} done)`,
    href: routeHash({ page: 'planner' }),
    lines: items.slice(0, MAX_LINES).map((i) => ({ text: i.text, mark: i.done ? 'done' : 'open' })),
    empty: total === 0 ? 'No items.' : 'Everything is done.',
  };
}

async function plan(args: string): Promise<CommandResult> {
  const plans = (await api.plans()).data;
  if (args) {
    const p = findPlan(plans, args);
    if (!p) {
      return {
        ok: false,
        title: `No plan named “${args}”.`,
        note: plans.length ? `Plans: ${plans.map((x) => x.name).join(', ')}.` : 'There are no plans yet.',
      };
    }
    return { ok: true, title: `Plan “${p.name}”.`, sections: [planSection(p, false)] };
  }
  if (plans.length === 0) return { ok: true, title: 'No plans yet.', note: 'Create one on the Planner page, or ask the agent to make one.' };
  const open = plans.reduce((n, p) => n + p.items.filter((i) => !i.done).length, 0);
  return {
    ok: true,
    title: `${plans.length} ${plans.length === 1 ? 'plan' : 'plans'}, ${open} open ${open === 1 ? 'item' : 'items'}.`,
    sections: plans.map((p) => planSection(p, true)),
  };
}

async function wakeups(ctx: CommandContext): Promise<CommandResult> {
  const now = ctx.now ?? Date.now();
  const list = (await api.wakeups()).data;
  const lines = list.map((w): CommandLine => {
    const when =
      w.nextFireAt === null ? wakeupState(w) : `next ${shortDateTime(w.nextFireAt, now)} (${relativeWhen(w.nextFireAt, now)})`;
    return { text: w.label || memorySnippet(w.prompt, 80), detail: `${describeSchedule(w.schedule, now)} · ${when}` };
  });
  return {
    ok: true,
    title: list.length === 0 ? 'No wakeups.' : `${list.length} ${list.length === 1 ? 'wakeup' : 'wakeups'}.`,
    sections: lines.length ? [{ heading: 'Wakeups', href: routeHash({ page: 'wakeups' }), lines }] : [],
    note: list.length === 0 ? 'Create one on the Wakeups page, or ask the agent to schedule one.' : undefined,
  };
}
