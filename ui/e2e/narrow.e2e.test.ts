// Every page in a narrow window (420 px wide: the desktop window's minimum)
// and a wide one, against a real `perch serve` + pinned Codex + scripted
// model, with data on every page: nothing may be wider than the window (no
// horizontal scrolling), the main navigation folds into a menu, and the
// chat's session list folds away. A screenshot of each page is kept in
// test-results/narrow-*.png. See suite.ts for the setup.

import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { RESULTS_DIR, waitFor } from './harness';
import { overflowProblems } from './layout';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

const NARROW = { width: 420, height: 800 };
const WIDE = { width: 1280, height: 800 };

/** Long words and links, so that the pages must wrap them. */
const LONG_WORD = 'supercalifragilisticexpialidocious-'.repeat(4);
/** Names are at most 80 characters: one long word that fits in a name. */
const LONG_NAME_WORD = 'supercalifragilisticexpialidocious-'.repeat(2);
const LONG_URL = 'https://example.com/a/very/long/path/that/does/not/fit/into/a/narrow/window/at/all?query=' + 'x'.repeat(60);

interface PeerStatusJson {
  relayUrl: string | null;
  connected: boolean;
  personId: string;
}

describe.skipIf(missing !== null)('Narrow windows', () => {
  const suite = setupSuite('narrow');
  let sessionId = '';
  let threadId = 0;
  /** Posts to the embedded relay as an outside agent. */
  let relay: <T>(route: string, body: unknown) => Promise<T>;
  let personId = '';

  const { apiJson, eventually } = suite;

  // Data on every page, made through the API as the agent and the CLI do.
  beforeAll(async () => {
    const { perch } = suite;
    // A session with a conversation: a long word, a long link, a code block.
    await perch.enqueue({
      text: `Here is the plan: ${LONG_WORD}\n\nSee ${LONG_URL}\n\n\`\`\`sh\necho "${'a very long line of output '.repeat(8)}"\n\`\`\``,
    });
    const session = await apiJson<{ id: string }>('POST', '/api/sessions', {});
    sessionId = session.id;
    await apiJson('POST', `/api/sessions/${encodeURIComponent(sessionId)}/messages`, { text: `Plan the release ${LONG_WORD}` });
    await eventually('the first turn completing', async () => {
      const h = await apiJson<{ data: { status: string }[] }>('GET', `/api/sessions/${encodeURIComponent(sessionId)}/history`);
      return h.data.some((t) => t.status === 'completed') ? true : undefined;
    });
    await apiJson('PATCH', `/api/sessions/${encodeURIComponent(sessionId)}`, { name: `Release ${LONG_NAME_WORD}` });

    // Memories.
    await apiJson('POST', '/api/memories', { text: `Deploys go through ${LONG_URL}`, tags: ['ops', 'release-engineering'] });
    await apiJson('POST', '/api/memories', { text: 'Prefers **short** answers', importance: 0.9 });

    // A plan with items.
    await apiJson('POST', '/api/plans', {
      name: `Plan ${LONG_NAME_WORD}`,
      items: ['Write the changelog', `Tag the release ${LONG_WORD}`, 'Announce it'],
    });

    // Wakeups: a repeating one, a cron one, and a one-shot that runs (its
    // run fills the run log).
    await apiJson('POST', '/api/wakeups', { prompt: 'Look at the inbox', label: 'Inbox sweep', schedule: { kind: 'every', every: '1h' } });
    await apiJson('POST', '/api/wakeups', {
      prompt: 'Morning summary',
      label: `Weekday ${LONG_NAME_WORD}`,
      schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'America/Argentina/Buenos_Aires' },
    });
    await perch.enqueue({ text: `Checked the build: all green. ${LONG_URL}` });
    const once = await apiJson<{ id: number }>('POST', '/api/wakeups', {
      prompt: 'Check the build',
      label: 'Build check',
      schedule: { kind: 'in', delay: '1s' },
    });
    await eventually('the one-shot wakeup completing', async () => {
      const runs = await apiJson<{ data: { status: string }[] }>('GET', `/api/wakeups/runs?wakeupId=${once.id}`);
      return runs.data.some((r) => r.status === 'completed') ? true : undefined;
    });

    // A message from an outside agent in the Inbox.
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');
    personId = status.personId;
    relay = async <T>(route: string, body: unknown): Promise<T> => {
      const res = await fetch(relayUrl + route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`relay POST ${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    await relay('/api/agents', { id: 'outside-bot', label: 'Outside', tags: ['ops'], capabilities: ['chat'], instanceId: 'i1' });
    const sent = await relay<{ threadId: number }>('/api/messages', {
      from: 'outside-bot',
      to: personId,
      subject: `Deploy ${LONG_NAME_WORD}`,
      body: `Deploy done: ${LONG_URL}\n\n[the dashboard](https://grafana.example.com/d/abc)`,
      channel: 'ops',
    });
    threadId = sent.threadId;
  });

  /** Each page, its address and what shows once its data is there. */
  const pages = (): { name: string; hash: string; ready: string }[] => [
    { name: 'chat', hash: `#/chat/${encodeURIComponent(sessionId)}`, ready: '[data-testid="agent-message"]' },
    { name: 'dashboard', hash: '#/dashboard', ready: '[data-testid="codex-health"][data-state="ready"]' },
    { name: 'inbox', hash: `#/inbox/${threadId}`, ready: '[data-testid="peer-message"]' },
    { name: 'peers', hash: '#/peers', ready: 'h1' },
    { name: 'memory', hash: '#/memory', ready: '[data-testid="memory"]' },
    { name: 'planner', hash: '#/planner', ready: '[data-testid="plan-item"]' },
    { name: 'wakeups', hash: '#/wakeups', ready: '[data-testid="wakeup-run"][data-status="completed"]' },
    { name: 'changes', hash: '#/changes', ready: 'h1' },
    { name: 'settings', hash: '#/settings', ready: '[data-testid="settings-codex"]' },
  ];

  async function visit(page: Page, hash: string, ready: string) {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.locator(ready).first().waitFor();
    // Late data (the models, the peer list) settles the layout.
    await page.waitForTimeout(500);
  }

  it('fits every page into 420×800, without horizontal scrolling', async () => {
    const page = await suite.newPage({ viewport: NARROW });
    await suite.signIn(page, '#/dashboard');
    const problems: string[] = [];
    for (const p of pages()) {
      await visit(page, p.hash, p.ready);
      await page.screenshot({ path: path.join(RESULTS_DIR, `narrow-${p.name}.png`) });
      problems.push(...(await overflowProblems(page, `${p.name} at 420 px`)));
      // Below the fold too (the pages scroll inside themselves): a tall window.
      await page.setViewportSize({ width: NARROW.width, height: 2400 });
      await page.waitForTimeout(200);
      await page.screenshot({ path: path.join(RESULTS_DIR, `narrow-${p.name}-tall.png`) });
      problems.push(...(await overflowProblems(page, `${p.name} at 420×2400`)));
      await page.setViewportSize(NARROW);
    }
    expect(problems).toEqual([]);
  });

  it('fits every page into 1280×800', async () => {
    const page = await suite.newPage({ viewport: WIDE });
    await suite.signIn(page, '#/dashboard');
    const problems: string[] = [];
    for (const p of pages()) {
      await visit(page, p.hash, p.ready);
      problems.push(...(await overflowProblems(page, `${p.name} at 1280 px`)));
    }
    expect(problems).toEqual([]);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'wide-wakeups.png') });
  });

  it('folds the main navigation into a menu that keeps its badges', async () => {
    const page = await suite.newPage({ viewport: NARROW });
    await suite.signIn(page, '#/dashboard');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const menu = page.getByRole('button', { name: /^Menu/ });
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    expect(await page.getByTestId('nav-planner').isVisible()).toBe(false);

    // Something new in the Inbox: a dot on the button, said in its name.
    await relay('/api/messages', { from: 'outside-bot', to: personId, subject: 'Ping', body: 'Are you there?' });
    await page.getByTestId('nav-menu-dot').waitFor();
    await expect(menu.textContent()).resolves.toMatch(/\d+ unread in the Inbox/);

    // Open: the links in a list, with the unread count.
    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    const list = page.locator('#main-nav-links');
    expect(await menu.getAttribute('aria-controls')).toBe('main-nav-links');
    expect(await list.getByRole('link').count()).toBe(9);
    await page.getByTestId('nav-inbox-unread').waitFor();
    expect(await overflowProblems(page, 'the open menu')).toEqual([]);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'narrow-menu.png') });

    // Escape closes it and gives the focus back to the button.
    await page.getByTestId('nav-planner').focus();
    await page.keyboard.press('Escape');
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('nav-menu');

    // A click elsewhere closes it.
    await menu.click();
    await page.mouse.click(NARROW.width - 20, NARROW.height - 20);
    expect(await menu.getAttribute('aria-expanded')).toBe('false');

    // A link goes there and closes it.
    await menu.click();
    await page.getByTestId('nav-planner').click();
    await page.waitForURL((u) => u.hash === '#/planner');
    await page.getByRole('heading', { name: 'Planner', level: 1 }).waitFor();
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    expect(await page.getByTestId('nav-planner').isVisible()).toBe(false);

    // Wide: the links in a row, no menu button.
    await page.setViewportSize(WIDE);
    await page.getByTestId('nav-planner').waitFor();
    expect(await menu.isVisible()).toBe(false);
  });

  it('folds the chat’s session list away, and picking a session folds it again', async () => {
    const page = await suite.newPage({ viewport: NARROW });
    await suite.signIn(page, `#/chat/${encodeURIComponent(sessionId)}`);
    await page.getByTestId('agent-message').first().waitFor();
    const toggle = page.getByRole('button', { name: 'Sessions' });
    const sessions = page.getByRole('navigation', { name: 'Sessions' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await toggle.getAttribute('aria-controls')).toBe('session-list');
    expect(await sessions.isVisible()).toBe(false);
    // The conversation has the whole width.
    const chat = await page.getByRole('main', { name: 'Chat' }).boundingBox();
    expect(chat?.width).toBeGreaterThanOrEqual(NARROW.width - 1);

    await toggle.click();
    await sessions.waitFor();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await overflowProblems(page, 'the open session list')).toEqual([]);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'narrow-sessions.png') });

    // Picking another session opens it and folds the list.
    const other = sessions.locator(`[data-testid="session-item"]:not([data-session-id="${sessionId}"])`).first();
    const otherId = await other.getAttribute('data-session-id');
    await other.getByRole('button').first().click();
    await page.waitForURL((u) => u.hash === `#/chat/${encodeURIComponent(otherId!)}`);
    await sessions.waitFor({ state: 'hidden' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');

    // Picking the open one folds it too; so does Escape.
    await toggle.click();
    await sessions.locator(`[data-session-id="${otherId}"] button[aria-current]`).click();
    await sessions.waitFor({ state: 'hidden' });
    await toggle.click();
    await sessions.waitFor();
    await page.keyboard.press('Escape');
    await sessions.waitFor({ state: 'hidden' });

    // Wide: the list beside the conversation, no toggle.
    await page.setViewportSize(WIDE);
    await sessions.waitFor();
    expect(await toggle.isVisible()).toBe(false);
  });
});
