// The Wakeups page against a real `perch serve` + pinned Codex + scripted
// model (`/api/wakeups*`, SSE `wakeup.changed` and `wakeup.run`): a wakeup
// created on the page fires, starts a turn in a new session, and its run
// shows up in the run log as it goes. See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface WakeupJson {
  id: number;
  label: string;
  prompt: string;
  schedule: { kind: string; at?: number; everyMs?: number; expr?: string; tz?: string };
  target: { kind: string; sessionId?: string };
  misfire: string;
  enabled: boolean;
  nextFireAt: number | null;
  createdAt: number;
}

interface RunJson {
  id: number;
  wakeupId: number;
  scheduledAt: number;
  firedAt: number | null;
  status: string;
  sessionId: string | null;
}

describe.skipIf(missing !== null)('Wakeups', () => {
  const suite = setupSuite('wakeups');

  const { apiJson, eventually } = suite;

  it('creates a wakeup "in 2s" for a new session and shows its run live until it completes', async () => {
    // Tall, so that the screenshot shows the whole page.
    const page = await suite.newPage({ viewport: { width: 1280, height: 1600 } });
    await suite.signIn(page, '#/wakeups');
    await page.getByRole('heading', { name: 'Wakeups', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Wakeups');
    await page.getByTestId('no-wakeups').waitFor();
    await page.getByTestId('no-runs').waitFor();

    // The model's answer streams for a moment, so the run is seen running.
    const answer = 'Checked the build: all green.';
    await suite.perch.enqueue({ text: answer, chunks: answer.split(' ').map((w, i, a) => (i < a.length - 1 ? w + ' ' : w)), delayMs: 250 });

    const form = page.getByTestId('wakeup-create');
    const prompt = 'Wake up and check the build';
    await form.getByLabel('Prompt').fill(prompt);
    await form.getByLabel('Label', { exact: true }).fill('Build check');
    expect(await form.getByLabel('Schedule').inputValue()).toBe('in');
    await form.getByLabel('Delay', { exact: true }).fill('2s');
    expect(await form.getByLabel('Target').inputValue()).toBe('new');
    await form.getByRole('button', { name: 'Create wakeup' }).click();

    const card = page.getByTestId('wakeup').filter({ hasText: 'Build check' });
    await card.waitFor();
    const wakeupId = Number(await card.getAttribute('data-wakeup-id'));
    const created = (await apiJson<{ data: WakeupJson[] }>('GET', '/api/wakeups')).data.find((w) => w.id === wakeupId)!;
    expect(created).toMatchObject({ label: 'Build check', prompt, target: { kind: 'new' }, misfire: 'once' });
    // "in 2s" became a time about two seconds after its creation.
    expect(created.schedule.kind).toBe('at');
    expect(created.schedule.at! - created.createdAt).toBeGreaterThanOrEqual(1000);
    expect(created.schedule.at! - created.createdAt).toBeLessThanOrEqual(3000);
    // In the machine's time zone, which it names.
    expect(await card.getByTestId('wakeup-schedule').textContent()).toMatch(/^at \d{1,2} [A-Z][a-z]{2} \d{2}:\d{2} \([A-Za-z_]+(\/[A-Za-z_+-]+)*\)$/);

    // It fires: a run appears in the log, running, then completed.
    const runRow = page.locator(`[data-testid="wakeup-run"][data-wakeup-id="${wakeupId}"]`);
    await runRow.first().waitFor();
    await page.locator(`[data-testid="wakeup-run"][data-wakeup-id="${wakeupId}"][data-status="running"]`).waitFor();
    const done = page.locator(`[data-testid="wakeup-run"][data-wakeup-id="${wakeupId}"][data-status="completed"]`);
    await done.waitFor();
    expect(await runRow.count()).toBe(1);
    await expect(done.getByTestId('run-status').textContent()).resolves.toBe('completed');

    const runs = (await apiJson<{ data: RunJson[] }>('GET', `/api/wakeups/runs?wakeupId=${wakeupId}`)).data;
    expect(runs).toHaveLength(1);
    const run = runs[0];
    expect(run.status).toBe('completed');
    expect(run.sessionId).toBeTruthy();
    expect(run.firedAt).not.toBeNull();
    // Delay = fired − scheduled, in ms.
    expect(await done.getByTestId('run-delay').getAttribute('data-delay-ms')).toBe(String(run.firedAt! - run.scheduledAt));
    const link = done.getByTestId('run-session');
    expect(await link.getAttribute('href')).toBe(`#/chat/${run.sessionId}`);
    // A fired `at` wakeup has no next time: it is done, with nothing to enable.
    await card.getByTestId('wakeup-next').filter({ hasText: 'none' }).waitFor();
    await card.locator('[data-testid="wakeup-state"][data-state="done"]').filter({ hasText: 'done' }).waitFor();
    expect(await card.getByTestId('wakeup-enabled').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'wakeups.png') });

    // The run's session holds the turn: the prompt went to the model, the answer came back.
    await link.click();
    await page.waitForURL((u) => u.hash === `#/chat/${run.sessionId}`);
    await page.getByTestId('agent-message').filter({ hasText: answer }).waitFor();
    // The turn's message shows as a wakeup card, not the `[event: wakeup …]` framing.
    const wakeupCard = page.locator(`[data-testid="wakeup-card"][data-wakeup-id="${wakeupId}"]`);
    await wakeupCard.waitFor();
    await expect(wakeupCard.getByTestId('wakeup-card-label').textContent()).resolves.toBe('Build check');
    await expect(wakeupCard.getByTestId('wakeup-card-prompt').textContent()).resolves.toBe(prompt);
    expect(await page.getByTestId('user-message').filter({ hasText: '[event: wakeup' }).count()).toBe(0);
    const reqs = await suite.perch.requests();
    expect(reqs.some((r) => JSON.stringify(r.body).includes(prompt))).toBe(true);
  });

  it('describes schedules, pauses and resumes, shows changes made elsewhere, and deletes', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/wakeups');
    const form = page.getByTestId('wakeup-create');

    // A repeating wakeup, paused and resumed from its card.
    await form.getByLabel('Prompt').fill('Look at the inbox');
    await form.getByLabel('Label', { exact: true }).fill('Inbox sweep');
    await form.getByLabel('Schedule').selectOption('every');
    await form.getByLabel('Interval').fill('1h');
    // Missed runs and the grace period are folded under Advanced.
    expect(await form.getByLabel('Missed runs').isVisible()).toBe(false);
    await form.locator('summary', { hasText: 'Advanced' }).click();
    await form.getByLabel('Missed runs').selectOption('skip');
    await form.getByRole('button', { name: 'Create wakeup' }).click();
    const card = page.getByTestId('wakeup').filter({ hasText: 'Inbox sweep' });
    await card.waitFor();
    const id = Number(await card.getAttribute('data-wakeup-id'));
    await expect(card.getByTestId('wakeup-schedule').textContent()).resolves.toBe('every 1 h');
    await card.getByTestId('wakeup-next').filter({ hasText: /in (59 min|1 h)/ }).waitFor();
    const find = async () => (await apiJson<{ data: WakeupJson[] }>('GET', '/api/wakeups')).data.find((w) => w.id === id);
    expect(await find()).toMatchObject({ misfire: 'skip', enabled: true, schedule: { kind: 'every', everyMs: 3_600_000 } });

    await card.getByRole('checkbox', { name: 'Enabled: Inbox sweep' }).uncheck();
    await page.locator(`[data-testid="wakeup"][data-wakeup-id="${id}"][data-enabled="false"]`).waitFor();
    await eventually('the wakeup paused', async () => ((await find())?.enabled === false ? true : undefined));
    await card.getByTestId('wakeup-next').filter({ hasText: 'paused' }).waitFor();
    await card.getByRole('checkbox', { name: 'Enabled: Inbox sweep' }).check();
    await page.locator(`[data-testid="wakeup"][data-wakeup-id="${id}"][data-enabled="true"]`).waitFor();
    await eventually('the wakeup resumed', async () => ((await find())?.enabled === true ? true : undefined));

    // Created elsewhere (the agent's tool, the CLI): it appears, described in words.
    const cron = await apiJson<WakeupJson>('POST', '/api/wakeups', {
      prompt: 'Morning summary',
      label: 'Weekday morning',
      schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Paris' },
    });
    const cronCard = page.locator(`[data-testid="wakeup"][data-wakeup-id="${cron.id}"]`);
    await cronCard.waitFor();
    await expect(cronCard.getByTestId('wakeup-schedule').textContent()).resolves.toBe('cron 0 9 * * 1-5 (Europe/Paris)');
    // Paused elsewhere: the card follows.
    await apiJson('PATCH', `/api/wakeups/${cron.id}`, { enabled: false });
    await page.locator(`[data-testid="wakeup"][data-wakeup-id="${cron.id}"][data-enabled="false"]`).waitFor();

    // Delete (after confirming).
    await card.getByRole('button', { name: 'Delete wakeup: Inbox sweep' }).click();
    await card.getByTestId('wakeup-delete-confirm').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator(`[data-testid="wakeup"][data-wakeup-id="${id}"]`).waitFor({ state: 'detached' });
    expect(await find()).toBeUndefined();
    // Deleted elsewhere: it goes too.
    const del = await suite.perch.api('DELETE', `/api/wakeups/${cron.id}`);
    expect(del.status).toBe(204);
    await cronCard.waitFor({ state: 'detached' });
  });
});
