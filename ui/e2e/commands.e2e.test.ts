// Slash commands in the chat against a real `perch serve` + pinned Codex +
// scripted model: they answer with a local output card and never start a
// model turn (the scripted model sees no request). See suite.ts.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { RESULTS_DIR } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface SessionJson {
  id: string;
  model: string | null;
  effort: string | null;
}

interface ModelJson {
  id: string;
  efforts: string[];
  defaultEffort: string | null;
}

describe.skipIf(missing !== null)('Slash commands', () => {
  const suite = setupSuite('commands');

  const { apiJson } = suite;

  async function openNewSession(page: Page): Promise<string> {
    await suite.signIn(page);
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    const before = page.url();
    await page.getByRole('button', { name: 'New session' }).first().click();
    await page.waitForURL((u) => u.toString() !== before && /^#\/chat\/.+/.test(u.hash));
    await page.getByLabel('Message').waitFor();
    return decodeURIComponent(new URL(page.url()).hash.slice('#/chat/'.length));
  }

  /** Types a command, runs it with Enter, and returns its (finished) output card. */
  async function command(page: Page, text: string, name: string) {
    const cards = page.locator(`[data-testid="command-output"][data-command="${name}"]`);
    const n = await cards.count();
    await page.getByLabel('Message').fill(text);
    await page.getByLabel('Message').press('Enter');
    const card = cards.nth(n);
    await card.waitFor();
    await card.and(page.locator('[data-state="ok"], [data-state="error"]')).waitFor();
    expect(await page.getByLabel('Message').inputValue()).toBe('');
    return card;
  }

  it('completes and runs /model, /reasoning, /memory, /plan, /wakeups and /help without a model request', async () => {
    // What the commands will find.
    await apiJson('POST', '/api/memories', { text: 'Espresso machine lives in the kitchen', tags: ['home'] });
    await apiJson('POST', '/api/memories', { text: 'Prefers tea in the afternoon' });
    await apiJson('POST', '/api/plans', { name: 'Groceries', items: ['Oat milk', 'Bread'] });
    await apiJson('POST', '/api/wakeups', { prompt: 'Water the plants', label: 'Plants', schedule: { kind: 'every', every: '1d' } });

    // Tall, so that the screenshot shows every output.
    const page = await suite.newPage({ viewport: { width: 1280, height: 1800 } });
    const sessionId = await openNewSession(page);
    const requestsBefore = (await suite.perch.requests()).length;

    // Typing `/` offers the commands; the keyboard picks one.
    const input = page.getByLabel('Message');
    await input.fill('/mo');
    const list = page.getByRole('listbox', { name: 'Commands' });
    await list.waitFor();
    expect(await list.getByRole('option').allTextContents()).toEqual([expect.stringContaining('/model [name]')]);
    await input.fill('/');
    expect(await list.getByRole('option').count()).toBe(10);
    await input.press('ArrowDown');
    expect(await list.getByRole('option', { selected: true }).textContent()).toContain('/sessions');
    await input.fill('/mo');
    await input.press('Tab');
    expect(await input.inputValue()).toBe('/model ');
    await list.waitFor({ state: 'detached' });

    // /model: the current model and the list.
    const session = await apiJson<SessionJson>('GET', `/api/sessions/${encodeURIComponent(sessionId)}`);
    const status = await apiJson<{ model: string | null }>('GET', '/api/status');
    const current = session.model ?? status.model;
    const modelCard = await command(page, '/model', 'model');
    expect(await modelCard.getAttribute('data-state')).toBe('ok');
    await expect(modelCard.getByTestId('command-title').textContent()).resolves.toContain(`Model: ${current ?? ''}`);
    expect(await modelCard.textContent()).toContain('local command');

    // /model NAME sets the session's model (checked against GET /api/models).
    const models = (await apiJson<{ data: ModelJson[] }>('GET', '/api/models')).data;
    const target = models.find((m) => m.id !== current) ?? models[0];
    const wanted = target?.id ?? 'mock-model-2';
    const setCard = await command(page, `/model ${wanted}`, 'model');
    expect(await setCard.getAttribute('data-state')).toBe('ok');
    await expect(setCard.getByTestId('command-title').textContent()).resolves.toContain(`Model set to ${wanted}`);
    expect((await apiJson<SessionJson>('GET', `/api/sessions/${encodeURIComponent(sessionId)}`)).model).toBe(wanted);

    // /reasoning LEVEL, with a level the model has.
    if (target && target.efforts.length > 0) {
      const effort = target.efforts[0];
      const effortCard = await command(page, `/reasoning ${effort}`, 'reasoning');
      await expect(effortCard.getByTestId('command-title').textContent()).resolves.toBe(`Reasoning effort set to ${effort}.`);
      expect((await apiJson<SessionJson>('GET', `/api/sessions/${encodeURIComponent(sessionId)}`)).effort).toBe(effort);
      const bad = await command(page, '/reasoning ludicrous', 'reasoning');
      expect(await bad.getAttribute('data-state')).toBe('error');
    }

    // /memory QUERY: ranked search results.
    const memoryCard = await command(page, '/memory espresso', 'memory');
    await expect(memoryCard.getByTestId('command-title').textContent()).resolves.toBe('1 memory matches “espresso”.');
    const memoryLines = await memoryCard.getByTestId('command-line').allTextContents();
    expect(memoryLines).toHaveLength(1);
    expect(memoryLines[0]).toContain('Espresso machine lives in the kitchen');
    expect(memoryLines[0]).toContain('#home');

    // /plan: plans with their open items.
    const planCard = await command(page, '/plan', 'plan');
    await expect(planCard.getByTestId('command-title').textContent()).resolves.toBe('1 plan, 2 open items.');
    expect(await planCard.getByRole('heading').allTextContents()).toEqual(['Groceries (0/2 done)']);
    const planLines = planCard.getByTestId('command-line');
    expect(await planLines.allTextContents()).toEqual([expect.stringContaining('Oat milk'), expect.stringContaining('Bread')]);
    expect(await planCard.locator('[data-testid="command-line"][data-mark="open"]').count()).toBe(2);

    // /wakeups: schedules and next fire times.
    const wakeupsCard = await command(page, '/wakeups', 'wakeups');
    await expect(wakeupsCard.getByTestId('command-title').textContent()).resolves.toBe('1 wakeup.');
    expect(await wakeupsCard.getByTestId('command-line').textContent()).toMatch(
      /Plants.*every 1 d · next \d{1,2} [A-Z][a-z]{2}( \d{4})? \d{2}:\d{2} \(in [^)]+\)/,
    );

    // /help, and an unknown command: a readable error listing the commands.
    const help = await command(page, '/help', 'help');
    expect(await help.textContent()).toContain('//');
    const unknown = await command(page, '/frobnicate now', 'frobnicate');
    expect(await unknown.getAttribute('data-state')).toBe('error');
    await expect(unknown.getByTestId('command-title').textContent()).resolves.toBe('Unknown command /frobnicate.');
    expect(await unknown.textContent()).toContain('/memory [query]');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'commands.png') });

    // None of it reached the model or became a turn.
    expect((await suite.perch.requests()).length).toBe(requestsBefore);
    expect(await page.getByTestId('user-message').count()).toBe(0);
    const history = await apiJson<{ data: unknown[] }>('GET', `/api/sessions/${encodeURIComponent(sessionId)}/history`);
    expect(history.data).toEqual([]);

    // Dismissing a card removes it.
    const cards = page.getByTestId('command-output');
    const count = await cards.count();
    await help.getByRole('button', { name: 'Dismiss command output' }).click();
    await page.locator('[data-testid="command-output"][data-command="help"]').waitFor({ state: 'detached' });
    expect(await cards.count()).toBe(count - 1);
  });

  it('/new opens a named session, /sessions lists it, and // sends a message starting with a slash', async () => {
    const page = await suite.newPage();
    const first = await openNewSession(page);
    const requestsBefore = (await suite.perch.requests()).length;

    await page.getByLabel('Message').fill('/new Release notes');
    await page.getByLabel('Message').press('Enter');
    await page.waitForURL((u) => /^#\/chat\/.+/.test(u.hash) && !u.hash.endsWith(encodeURIComponent(first)));
    await page.getByTestId('session-title').filter({ hasText: 'Release notes' }).waitFor();
    const created = decodeURIComponent(new URL(page.url()).hash.slice('#/chat/'.length));
    expect(created).not.toBe(first);
    const card = page.locator('[data-testid="command-output"][data-command="new"][data-state="ok"]');
    await card.waitFor();
    expect(await card.getByRole('link', { name: 'Release notes' }).getAttribute('href')).toBe(`#/chat/${encodeURIComponent(created)}`);

    const sessions = await command(page, '/sessions', 'sessions');
    const current = sessions.locator('[data-testid="command-line"][data-mark="current"]');
    expect(await current.textContent()).toContain('Release notes');
    expect(await sessions.getByRole('link').count()).toBeGreaterThanOrEqual(2);
    expect((await suite.perch.requests()).length).toBe(requestsBefore);

    // `//` escapes: the message goes to the model with one slash.
    const input = page.getByLabel('Message');
    await suite.perch.enqueue({ text: 'That is a path.' });
    await input.fill('//etc/hosts is missing');
    await input.press('Enter');
    await page.getByTestId('user-message').filter({ hasText: '/etc/hosts is missing' }).first().waitFor();
    await page.getByTestId('agent-message').filter({ hasText: 'That is a path.' }).waitFor();
    expect(await page.getByTestId('user-message').first().textContent()).not.toContain('//etc');
    const reqs = await suite.perch.requests();
    expect(reqs.length).toBeGreaterThan(requestsBefore);
    expect(reqs.some((r) => JSON.stringify(r.body).includes('/etc/hosts is missing'))).toBe(true);
    expect(reqs.some((r) => JSON.stringify(r.body).includes('//etc/hosts'))).toBe(false);
  });
});
