// Wakeups in the UI: durations ("10m"), schedules in words, the create
// form's body, and how lists follow `wakeup.changed` / `wakeup.run`. Pure
// functions, unit-tested in tests/wakeups.test.ts.

import { durationWords, localTimeZone, shortDateTime } from './format';
import type { Misfire, NewSchedule, NewWakeup, Schedule, WakeupRun, WakeupRunStatus, WakeupTarget, Wakeup } from './types';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

/**
 * A duration as people write it, in milliseconds: `90s`, `10m`, `2h`, `1d`,
 * `1h30m`, `1.5 h`, `15 min`. Null when it is not one (a bare number has no
 * unit, so it is not one either).
 */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (!t) return null;
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while (pos < t.length && (m = re.exec(t))) {
    const unit = UNIT_MS[m[2]];
    if (unit === undefined) return null;
    total += Number(m[1]) * unit;
    pos = re.lastIndex;
  }
  if (pos !== t.length || total <= 0 || !Number.isFinite(total)) return null;
  return Math.round(total);
}

/**
 * A delay in the server's one-unit form (`90s`, `10m`, `2h`, `1d`): the
 * largest unit that divides it, else whole seconds (rounded up).
 */
export function delayString(ms: number): string {
  for (const [size, unit] of [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}

/** The machine's IANA time zone (the default of a cron schedule). */
export { localTimeZone };

/**
 * A schedule in words, with the time zone its times are in: "at 22 Nov 10:00
 * (Europe/Paris)" (shown in the machine's zone), "every 15 min", "cron 0 9 *
 * * 1-5 (Europe/Paris)" (the schedule's own zone).
 */
export function describeSchedule(s: Schedule, now = Date.now(), zone = localTimeZone()): string {
  switch (s.kind) {
    case 'at':
      return `at ${shortDateTime(s.at, now)} (${zone})`;
    case 'every':
      return `every ${durationWords(s.everyMs)}`;
    case 'cron':
      return `cron ${s.expr}${s.tz ? ` (${s.tz})` : ''}`;
    default:
      return 'unknown schedule';
  }
}

/** Where a wakeup's prompt goes, in words (without the session's name). */
export function describeTarget(t: WakeupTarget): string {
  switch (t.kind) {
    case 'new':
      return t.cwd ? `a new session in ${t.cwd}` : 'a new session';
    case 'peer':
      return 'the peer session';
    case 'session':
      return 'session';
    default:
      return 'unknown';
  }
}

export const MISFIRE_OPTIONS: { value: Misfire; label: string; hint: string }[] = [
  { value: 'once', label: 'Run once', hint: 'Missed while Perch was off: run it once when Perch is back.' },
  { value: 'skip', label: 'Skip', hint: 'Missed runs are skipped.' },
  { value: 'ask', label: 'Ask me', hint: 'Missed runs wait here for Run or Dismiss.' },
];

export function misfireLabel(m: Misfire): string {
  return MISFIRE_OPTIONS.find((o) => o.value === m)?.label ?? m;
}

/** Badge tone of a run's status. */
export function runTone(status: WakeupRunStatus): 'ok' | 'err' | 'warn' | 'info' | '' {
  switch (status) {
    case 'completed':
      return 'ok';
    case 'failed':
      return 'err';
    case 'interrupted':
    case 'missed':
      return 'warn';
    case 'claimed':
    case 'running':
      return 'info';
    default:
      return '';
  }
}

/** How late a run fired (fired − scheduled, ms), or null before it fired. */
export function runDelayMs(run: WakeupRun): number | null {
  return run.firedAt === null ? null : run.firedAt - run.scheduledAt;
}

export type WakeupState = 'scheduled' | 'paused' | 'running' | 'missed' | 'done';

/**
 * Where a wakeup stands: `scheduled` (it has a next fire time), `paused`, or,
 * for a one-off that fired (the server turns it off then, so "enabled" says
 * nothing about it): `running` while its turn runs, `missed` while its missed
 * run waits for Run or Dismiss, else `done`. A schedule with no time left is
 * `done` too.
 */
export function wakeupState(w: Pick<Wakeup, 'enabled' | 'nextFireAt' | 'schedule' | 'lastRun'>): WakeupState {
  if (w.nextFireAt !== null) return 'scheduled';
  if (w.schedule.kind === 'at' && w.lastRun !== null) {
    if (w.lastRun.status === 'claimed' || w.lastRun.status === 'running') return 'running';
    if (w.lastRun.status === 'missed') return 'missed';
    return 'done';
  }
  return w.enabled ? 'done' : 'paused';
}

/** Enabled first, then the next fire time (none last), then id: the server's order. */
export function sortWakeups(list: Wakeup[]): Wakeup[] {
  return list.slice().sort((a, b) => {
    if (a.enabled !== b.enabled) return a.enabled ? -1 : 1;
    const an = a.nextFireAt ?? Infinity;
    const bn = b.nextFireAt ?? Infinity;
    if (an !== bn) return an < bn ? -1 : 1;
    return a.id - b.id;
  });
}

/** `wakeup.changed`: the wakeup replaced or added, or removed (null). */
export function applyWakeupChange(list: Wakeup[], wakeupId: number, wakeup: Wakeup | null): Wakeup[] {
  const rest = list.filter((w) => w.id !== wakeupId);
  return sortWakeups(wakeup ? [...rest, wakeup] : rest);
}

/** A run merged into the log: newest (highest id) first, at most `limit`. */
export function upsertRun(runs: WakeupRun[], run: WakeupRun, limit = 100): WakeupRun[] {
  const rest = runs.filter((r) => r.id !== run.id);
  return [...rest, run].sort((a, b) => b.id - a.id).slice(0, limit);
}

/** A run's news on its wakeup (`lastRun`), when it is the latest run. */
export function applyRunToWakeups(list: Wakeup[], run: WakeupRun): Wakeup[] {
  return list.map((w) =>
    w.id === run.wakeupId && (!w.lastRun || w.lastRun.id <= run.id) ? { ...w, lastRun: run } : w,
  );
}

// ---------------------------------------------------------------------------
// The create form

export type ScheduleKind = NewSchedule['kind'];

export interface WakeupForm {
  prompt: string;
  label: string;
  kind: ScheduleKind;
  /** `<input type="datetime-local">`'s value, local time. */
  at: string;
  /** `10m`, `2h`. */
  delay: string;
  every: string;
  expr: string;
  tz: string;
  target: 'new' | 'peer' | 'session';
  sessionId: string;
  /** With a new session each time: its project folder ('' = the default). */
  cwd: string;
  misfire: Misfire;
  /** `1h`. */
  grace: string;
  notify: boolean;
}

export function emptyWakeupForm(tz = localTimeZone()): WakeupForm {
  return {
    prompt: '',
    label: '',
    kind: 'in',
    at: '',
    delay: '10m',
    every: '1h',
    expr: '0 9 * * 1-5',
    tz,
    target: 'new',
    sessionId: '',
    cwd: '',
    misfire: 'once',
    grace: '1h',
    notify: true,
  };
}

/** A `datetime-local` value ("2026-11-22T10:00") as local milliseconds, or null. */
export function parseLocalDateTime(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(y, mo - 1, d, h, mi, Number.isNaN(s) ? 0 : s);
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return date.getTime();
}

/** The shortest interval the server takes: a wakeup is a model turn, not a heartbeat. */
export const MIN_EVERY_MS = 10_000;

const DURATION_HINT = 'Write a duration with a unit, like 90s, 10m, 2h or 1d.';

/** The schedule part of the form, or what to fix. */
export function scheduleFromForm(form: WakeupForm, now = Date.now()): { schedule: NewSchedule } | { error: string } {
  switch (form.kind) {
    case 'at': {
      const at = parseLocalDateTime(form.at);
      if (at === null) return { error: 'Pick the date and time to run at.' };
      if (at <= now) return { error: 'That time has passed: pick a time in the future.' };
      return { schedule: { kind: 'at', at } };
    }
    case 'in': {
      const ms = parseDuration(form.delay);
      if (ms === null) return { error: `“${form.delay.trim()}” is not a delay. ${DURATION_HINT}` };
      return { schedule: { kind: 'in', delay: delayString(ms) } };
    }
    case 'every': {
      const ms = parseDuration(form.every);
      if (ms === null) return { error: `“${form.every.trim()}” is not an interval. ${DURATION_HINT}` };
      if (ms < MIN_EVERY_MS) return { error: 'Repeat at most every 10 seconds: each run is a model turn.' };
      return { schedule: { kind: 'every', every: ms } };
    }
    case 'cron': {
      const expr = form.expr.trim().replace(/\s+/g, ' ');
      const fields = expr ? expr.split(' ').length : 0;
      if (fields !== 5) {
        return { error: 'A cron expression has 5 fields: minute hour day-of-month month day-of-week (e.g. 0 9 * * 1-5).' };
      }
      const tz = form.tz.trim();
      return { schedule: tz ? { kind: 'cron', expr, tz } : { kind: 'cron', expr } };
    }
  }
}

/** The body of `POST /api/wakeups` from the form, or what to fix first. */
export function wakeupFromForm(form: WakeupForm, now = Date.now()): { body: NewWakeup } | { error: string } {
  const prompt = form.prompt.trim();
  if (!prompt) return { error: 'Write the prompt the agent gets when the wakeup fires.' };
  const sched = scheduleFromForm(form, now);
  if ('error' in sched) return sched;
  let target: WakeupTarget;
  if (form.target === 'session') {
    if (!form.sessionId) return { error: 'Pick the session the prompt goes to.' };
    target = { kind: 'session', sessionId: form.sessionId };
  } else if (form.target === 'new') {
    target = form.cwd ? { kind: 'new', cwd: form.cwd } : { kind: 'new' };
  } else {
    target = { kind: form.target };
  }
  const graceText = form.grace.trim();
  const graceMs = graceText ? parseDuration(graceText) : 3_600_000;
  if (graceMs === null) return { error: `“${graceText}” is not a grace period. ${DURATION_HINT}` };
  const body: NewWakeup = {
    prompt,
    schedule: sched.schedule,
    target,
    misfire: form.misfire,
    graceMs,
    notify: form.notify,
  };
  const label = form.label.trim();
  if (label) body.label = label;
  return { body };
}
