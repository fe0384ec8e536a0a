import { describe, expect, it } from 'vitest';
import {
  applyRunToWakeups,
  applyWakeupChange,
  delayString,
  describeSchedule,
  describeTarget,
  emptyWakeupForm,
  misfireLabel,
  parseDuration,
  parseLocalDateTime,
  runDelayMs,
  runTone,
  sortWakeups,
  upsertRun,
  wakeupFromForm,
  wakeupState,
} from '../src/lib/wakeups';
import type { Wakeup, WakeupRun } from '../src/lib/types';

function wakeup(id: number, over: Partial<Wakeup> = {}): Wakeup {
  return {
    id,
    label: `w${id}`,
    prompt: 'p',
    schedule: { kind: 'every', everyMs: 900_000, anchor: 0 },
    target: { kind: 'new' },
    misfire: 'once',
    graceMs: 3_600_000,
    enabled: true,
    notify: true,
    nextFireAt: 1000 * id,
    createdBy: 'person',
    createdAt: 1,
    updatedAt: 1,
    lastRun: null,
    ...over,
  };
}

function run(id: number, over: Partial<WakeupRun> = {}): WakeupRun {
  return {
    id,
    wakeupId: 1,
    label: 'w1',
    scheduledAt: 10_000,
    firedAt: null,
    status: 'claimed',
    sessionId: null,
    turnId: null,
    summary: null,
    finishedAt: null,
    ...over,
  };
}

describe('parseDuration', () => {
  it('reads the server’s forms and friendlier ones', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration(' 1h30m ')).toBe(5_400_000);
    expect(parseDuration('1.5 h')).toBe(5_400_000);
    expect(parseDuration('15 min')).toBe(900_000);
    expect(parseDuration('2 hours 5 minutes')).toBe(7_500_000);
    expect(parseDuration('2S')).toBe(2000);
    expect(parseDuration('1w')).toBe(604_800_000);
  });

  it('refuses what is not a duration', () => {
    for (const t of ['', ' ', '15', 'm', '10 parsecs', '-5m', '0s', '5m x', 'soon', '1h-2m']) {
      expect(parseDuration(t), t).toBeNull();
    }
  });
});

describe('delayString', () => {
  it('uses the largest unit that divides the delay', () => {
    expect(delayString(2000)).toBe('2s');
    expect(delayString(90_000)).toBe('90s');
    expect(delayString(600_000)).toBe('10m');
    expect(delayString(5_400_000)).toBe('90m');
    expect(delayString(7_200_000)).toBe('2h');
    expect(delayString(86_400_000)).toBe('1d');
    expect(delayString(1500)).toBe('2s');
    expect(delayString(10)).toBe('1s');
  });
});

describe('describeSchedule', () => {
  const now = new Date(2026, 10, 1, 8, 0).getTime();
  it('puts each kind in words', () => {
    // A time of day says its zone (the machine's, the one it is shown in).
    expect(describeSchedule({ kind: 'at', at: new Date(2026, 10, 22, 10, 0).getTime() }, now, 'Europe/Paris')).toBe('at 22 Nov 10:00 (Europe/Paris)');
    expect(describeSchedule({ kind: 'at', at: new Date(2027, 0, 2, 7, 5).getTime() }, now, 'UTC')).toBe('at 2 Jan 2027 07:05 (UTC)');
    expect(describeSchedule({ kind: 'every', everyMs: 900_000, anchor: 0 }, now)).toBe('every 15 min');
    expect(describeSchedule({ kind: 'every', everyMs: 5_400_000, anchor: 0 }, now)).toBe('every 1 h 30 min');
    expect(describeSchedule({ kind: 'every', everyMs: 86_400_000, anchor: 0 }, now)).toBe('every 1 d');
    expect(describeSchedule({ kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Paris' }, now)).toBe('cron 0 9 * * 1-5 (Europe/Paris)');
  });

  it('names targets, misfire policies and run tones', () => {
    expect(describeTarget({ kind: 'new' })).toBe('a new session');
    expect(describeTarget({ kind: 'peer' })).toBe('the peer session');
    expect(describeTarget({ kind: 'session', sessionId: 's' })).toBe('session');
    expect(misfireLabel('ask')).toBe('Ask me');
    expect(runTone('completed')).toBe('ok');
    expect(runTone('failed')).toBe('err');
    expect(runTone('missed')).toBe('warn');
    expect(runTone('running')).toBe('info');
    expect(runTone('dismissed')).toBe('');
  });
});

describe('wakeup lists', () => {
  it('sorts enabled first, then by next fire time, finished last', () => {
    const list = [
      wakeup(1, { enabled: false, nextFireAt: null }),
      wakeup(2, { nextFireAt: null }),
      wakeup(3, { nextFireAt: 50 }),
      wakeup(4, { nextFireAt: 20 }),
    ];
    expect(sortWakeups(list).map((w) => w.id)).toEqual([4, 3, 2, 1]);
  });

  it('follows wakeup.changed: replace, add, remove', () => {
    let list = [wakeup(1), wakeup(2)];
    list = applyWakeupChange(list, 2, wakeup(2, { nextFireAt: 1 }));
    expect(list.map((w) => w.id)).toEqual([2, 1]);
    list = applyWakeupChange(list, 3, wakeup(3, { nextFireAt: 1500 }));
    expect(list.map((w) => w.id)).toEqual([2, 1, 3]);
    list = applyWakeupChange(list, 1, null);
    expect(list.map((w) => w.id)).toEqual([2, 3]);
  });

  it('keeps the run log newest first, without duplicates, within the limit', () => {
    let runs: WakeupRun[] = [];
    runs = upsertRun(runs, run(1));
    runs = upsertRun(runs, run(2));
    runs = upsertRun(runs, run(1, { status: 'completed' }));
    expect(runs.map((r) => [r.id, r.status])).toEqual([
      [2, 'claimed'],
      [1, 'completed'],
    ]);
    expect(upsertRun(runs, run(3), 2).map((r) => r.id)).toEqual([3, 2]);
  });

  it('puts the latest run on its wakeup', () => {
    const list = [wakeup(1, { lastRun: run(5) }), wakeup(2)];
    expect(applyRunToWakeups(list, run(6, { status: 'running' }))[0].lastRun?.id).toBe(6);
    expect(applyRunToWakeups(list, run(4))[0].lastRun?.id).toBe(5);
    expect(applyRunToWakeups(list, run(6))[1].lastRun).toBeNull();
  });

  it('tells scheduled, paused, running, missed and done wakeups apart', () => {
    expect(wakeupState(wakeup(1))).toBe('scheduled');
    expect(wakeupState(wakeup(1, { enabled: false, nextFireAt: null }))).toBe('paused');
    // A one-off that fired is done, "enabled" or not (the server turns it off).
    const fired = { schedule: { kind: 'at' as const, at: 5 }, nextFireAt: null, lastRun: run(1, { status: 'completed' }) };
    expect(wakeupState(wakeup(1, fired))).toBe('done');
    expect(wakeupState(wakeup(1, { ...fired, enabled: false }))).toBe('done');
    expect(wakeupState(wakeup(1, { ...fired, lastRun: run(1, { status: 'failed' }) }))).toBe('done');
    expect(wakeupState(wakeup(1, { ...fired, lastRun: run(1, { status: 'running' }) }))).toBe('running');
    expect(wakeupState(wakeup(1, { ...fired, lastRun: run(1, { status: 'missed' }) }))).toBe('missed');
    expect(wakeupState(wakeup(1, { schedule: { kind: 'at', at: 5 }, nextFireAt: null, enabled: false }))).toBe('paused');
    // A repeating one stays scheduled while a run goes.
    expect(wakeupState(wakeup(1, { lastRun: run(1, { status: 'running' }) }))).toBe('scheduled');
  });

  it('measures the delay of a run', () => {
    expect(runDelayMs(run(1))).toBeNull();
    expect(runDelayMs(run(1, { scheduledAt: 1000, firedAt: 1042 }))).toBe(42);
  });
});

describe('the create form', () => {
  const now = new Date(2026, 10, 22, 9, 0).getTime();

  it('reads datetime-local values as local time', () => {
    expect(parseLocalDateTime('2026-11-22T10:00')).toBe(new Date(2026, 10, 22, 10, 0).getTime());
    expect(parseLocalDateTime('2026-11-22T10:00:30')).toBe(new Date(2026, 10, 22, 10, 0, 30).getTime());
    expect(parseLocalDateTime('2026-02-30T10:00')).toBeNull();
    expect(parseLocalDateTime('')).toBeNull();
  });

  it('builds an "in" wakeup with the defaults spelled out', () => {
    const form = { ...emptyWakeupForm('Europe/Paris'), prompt: '  Check the build ', delay: '2s' };
    expect(wakeupFromForm(form, now)).toEqual({
      body: {
        prompt: 'Check the build',
        schedule: { kind: 'in', delay: '2s' },
        target: { kind: 'new' },
        misfire: 'once',
        graceMs: 3_600_000,
        notify: true,
      },
    });
  });

  it('builds at, every and cron schedules, a label and a session target', () => {
    const base = { ...emptyWakeupForm('Europe/Paris'), prompt: 'p', label: ' Morning ' };
    const at = wakeupFromForm({ ...base, kind: 'at', at: '2026-11-22T10:00' }, now);
    expect(at).toMatchObject({ body: { label: 'Morning', schedule: { kind: 'at', at: new Date(2026, 10, 22, 10).getTime() } } });
    const every = wakeupFromForm({ ...base, kind: 'every', every: '15m', misfire: 'ask', grace: '10m', notify: false }, now);
    expect(every).toMatchObject({ body: { schedule: { kind: 'every', every: 900_000 }, misfire: 'ask', graceMs: 600_000, notify: false } });
    const cron = wakeupFromForm({ ...base, kind: 'cron', expr: ' 0  9 * * 1-5 ', target: 'session', sessionId: 's1' }, now);
    expect(cron).toMatchObject({
      body: { schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Paris' }, target: { kind: 'session', sessionId: 's1' } },
    });
    const peer = wakeupFromForm({ ...base, target: 'peer' }, now);
    expect(peer).toMatchObject({ body: { target: { kind: 'peer' } } });
    // A new session each time, in a project folder.
    const inProject = wakeupFromForm({ ...base, target: 'new', cwd: '/home/ada/parser' }, now);
    expect(inProject).toMatchObject({ body: { target: { kind: 'new', cwd: '/home/ada/parser' } } });
    const noTz = wakeupFromForm({ ...base, kind: 'cron', tz: ' ' }, now);
    expect(noTz).toMatchObject({ body: { schedule: { kind: 'cron', expr: '0 9 * * 1-5' } } });
    expect('body' in noTz && 'tz' in noTz.body.schedule).toBe(false);
  });

  it('says what to fix', () => {
    const base = { ...emptyWakeupForm('UTC'), prompt: 'p' };
    const error = (f: Partial<typeof base>) => {
      const r = wakeupFromForm({ ...base, ...f }, now);
      return 'error' in r ? r.error : null;
    };
    expect(error({ prompt: ' ' })).toMatch(/prompt/);
    expect(error({ delay: '15' })).toMatch(/not a delay/);
    expect(error({ kind: 'every', every: 'often' })).toMatch(/not an interval/);
    expect(error({ kind: 'at', at: '' })).toMatch(/Pick the date/);
    expect(error({ kind: 'at', at: '2026-11-22T08:00' })).toMatch(/passed/);
    expect(error({ kind: 'cron', expr: '0 9 *' })).toMatch(/5 fields/);
    expect(error({ kind: 'cron', expr: '0 0 9 * * 1-5' })).toMatch(/5 fields/);
    expect(error({ kind: 'every', every: '5s' })).toMatch(/10 seconds/);
    expect(error({ target: 'session', sessionId: '' })).toMatch(/session/);
    expect(error({ grace: 'a while' })).toMatch(/grace/);
    expect(error({ grace: '' })).toBeNull();
  });
});
