// The finish of the pages against a real `perch serve` + pinned Codex +
// scripted model: the pending approvals in the tab's title and a browser
// notification (only once allowed), wakeups (done, the time zone, the
// Advanced fold), and Markdown from peers, wakeup runs and memories shown
// without raw HTML and with link targets visible. See suite.ts.

import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

/** The zone the browser runs in: every time on the pages is in it, and says so. */
const ZONE = 'Pacific/Auckland';

interface PeerStatusJson {
  relayUrl: string | null;
  connected: boolean;
  personId: string;
}

interface NoteJson {
  title: string;
  body: string;
  tag: string;
}

declare global {
  interface Window {
    __notes: NoteJson[];
    __asked: number;
    __hidden: boolean;
  }
}

describe.skipIf(missing !== null)('Polish', () => {
  const suite = setupSuite('polish');

  const { apiJson, eventually } = suite;

  /** A page in ZONE whose browser notifications are recorded, not shown:
   *  `__notes` (shown), `__asked` (permission requests), and `__hidden`
   *  (the tab is in the background). */
  async function newRecordingPage(permission: NotificationPermission): Promise<Page> {
    const page = await suite.newPage({ timezoneId: ZONE });
    await page.addInitScript((initial) => {
      window.__notes = [];
      window.__asked = 0;
      window.__hidden = false;
      class RecordingNotification {
        static permission: NotificationPermission = initial;
        static async requestPermission(): Promise<NotificationPermission> {
          window.__asked += 1;
          RecordingNotification.permission = 'granted';
          return 'granted';
        }
        onclick: (() => void) | null = null;
        constructor(title: string, options: { body?: string; tag?: string } = {}) {
          window.__notes.push({ title, body: options.body ?? '', tag: options.tag ?? '' });
        }
        close() {}
      }
      Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true });
      Object.defineProperty(document, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible'), configurable: true });
    }, permission);
    return page;
  }

  /** A turn in a new session whose model asks to run `cmd` (an approval). */
  async function askForApproval(cmd: string, callId: string): Promise<string> {
    await suite.perch.enqueue([
      { functionCalls: [{ name: 'exec_command', arguments: { cmd }, callId }] },
      { text: `Ran ${cmd}.` },
    ]);
    const session = await apiJson<{ id: string }>('POST', '/api/sessions', {});
    await apiJson('POST', `/api/sessions/${encodeURIComponent(session.id)}/messages`, { text: `Please run ${cmd}` });
    return session.id;
  }

  let relay: <T>(route: string, body: unknown) => Promise<T>;
  let personId = '';
  beforeAll(async () => {
    const status = await eventually('the peer network connecting', async () => {
      const s = await apiJson<PeerStatusJson>('GET', '/api/peer');
      return s.relayUrl && s.connected ? s : undefined;
    });
    personId = status.personId;
    const relayUrl = status.relayUrl!.replace(/\/+$/, '');
    relay = async <T>(route: string, body: unknown): Promise<T> => {
      const res = await fetch(relayUrl + route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`relay POST ${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    await relay('/api/agents', { id: 'outside-bot', label: 'Outside', tags: ['ops'], capabilities: ['chat'], instanceId: 'i1' });
  });

  it('counts pending approvals in the tab’s title and notifies of one only once allowed, while hidden', async () => {
    const page = await newRecordingPage('default');
    await suite.signIn(page, '#/chat');
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    expect(await page.title()).toBe('Perch — Chat');

    // An approval while the browser has not been allowed: the title counts
    // it, nothing is shown, and nothing asked the browser on load.
    const first = await askForApproval('touch first.txt', 'call_t1');
    await page.waitForFunction(() => document.title === '(1) Perch — Chat');
    await page.evaluate((id) => (location.hash = `#/chat/${id}`), first);
    await page.locator('[data-testid="approval"][data-status="pending"]').waitFor();
    expect(await page.evaluate(() => window.__asked)).toBe(0);
    expect(await page.evaluate(() => window.__notes.length)).toBe(0);
    // The count follows the page's name.
    await page.evaluate(() => (location.hash = '#/dashboard'));
    await page.waitForFunction(() => document.title === '(1) Perch — Dashboard');
    await page.evaluate(() => (location.hash = '#/chat'));
    await page.locator('[data-testid="approval"][data-status="pending"]').getByRole('button', { name: 'Approve', exact: true }).click();
    await page.waitForFunction(() => document.title === 'Perch — Chat');

    // Allowed in Settings (the browser asks then, once).
    await page.evaluate(() => (location.hash = '#/settings'));
    const browser = page.getByTestId('browser-notifications');
    await browser.getByRole('button', { name: 'Allow browser notifications' }).click();
    await page.locator('[data-testid="browser-notifications"][data-permission="granted"]').waitFor();
    expect(await page.evaluate(() => window.__asked)).toBe(1);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'polish-settings-notifications.png') });

    // A new approval while the tab is hidden: a notification, and the count.
    await page.evaluate(() => (window.__hidden = true));
    const second = await askForApproval('rm -rf build', 'call_t2');
    await page.waitForFunction(() => window.__notes.length === 1);
    const [note] = await page.evaluate(() => window.__notes);
    expect(note.title).toBe('Perch — Run command?');
    expect(note.body).toContain('rm -rf build');
    expect(note.body).toMatch(/^Careful: /);
    await page.waitForFunction(() => document.title === '(1) Perch — Settings');

    // Answered elsewhere: the count goes; nothing more is shown.
    const pending = await apiJson<{ data: { id: string }[] }>('GET', '/api/approvals?status=pending');
    for (const a of pending.data) await apiJson('POST', `/api/approvals/${a.id}`, { decision: 'decline' });
    await page.waitForFunction(() => document.title === 'Perch — Settings');
    expect(await page.evaluate(() => window.__notes.length)).toBe(1);
    // The turn ends (its model answer used), before the next test scripts the model.
    await eventually('the declined turn ending', async () => {
      const s = await apiJson<{ activeTurnId: string | null }>('GET', `/api/sessions/${encodeURIComponent(second)}`);
      return s.activeTurnId === null ? true : undefined;
    });
  });

  it('shows wakeups done, in their time zone, with the rarely needed options folded', async () => {
    const page = await newRecordingPage('default');
    await suite.signIn(page, '#/wakeups');
    const form = page.getByTestId('wakeup-create');

    // Missed runs and grace are under Advanced, closed.
    const advanced = form.getByTestId('wakeup-advanced');
    expect(await advanced.getAttribute('open')).toBeNull();
    expect(await form.getByLabel('Missed runs').isVisible()).toBe(false);
    await advanced.locator('summary').click();
    await form.getByLabel('Missed runs').waitFor();
    expect(await form.getByLabel('Grace period').inputValue()).toBe('1h');
    // A bad grace period opens the fold where it is fixed.
    await advanced.locator('summary').click();
    await form.getByLabel('Prompt').fill('Never mind');
    await page.evaluate(() => {
      const grace = document.getElementById('wakeup-grace') as HTMLInputElement;
      grace.value = 'soon';
      grace.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await form.getByRole('button', { name: 'Create wakeup' }).click();
    await form.getByTestId('wakeup-create-error').filter({ hasText: 'not a grace period' }).waitFor();
    expect(await advanced.getAttribute('open')).not.toBeNull();

    // The date-time field says which zone it is in.
    await form.getByLabel('Schedule').selectOption('at');
    await expect(form.getByTestId('wakeup-at-zone').textContent()).resolves.toContain(ZONE);

    // A one-off that ran is done: no "Enabled" to tick.
    await suite.perch.enqueue({ text: 'All **green**: see [the build](https://ci.example.com/b/42).' });
    const once = await apiJson<{ id: number }>('POST', '/api/wakeups', {
      prompt: 'Check the build',
      label: 'Build check',
      schedule: { kind: 'in', delay: '1s' },
    });
    const card = page.locator(`[data-testid="wakeup"][data-wakeup-id="${once.id}"]`);
    await card.waitFor();
    await expect(card.getByTestId('wakeup-schedule').textContent()).resolves.toMatch(new RegExp(`^at .+ \\(${ZONE}\\)$`));
    await card.locator('[data-testid="wakeup-state"][data-state="done"]').waitFor();
    expect(await card.getByTestId('wakeup-enabled').count()).toBe(0);
    await expect(card.getByTestId('wakeup-state').textContent()).resolves.toBe('done');
    // A repeating one keeps its switch.
    const every = await apiJson<{ id: number }>('POST', '/api/wakeups', { prompt: 'Sweep', label: 'Sweep', schedule: { kind: 'every', every: '1h' } });
    await page.locator(`[data-testid="wakeup"][data-wakeup-id="${every.id}"] [data-testid="wakeup-enabled"]`).waitFor();

    // The run's summary is Markdown: bold, and the link's target shown.
    const summary = page.locator(`[data-testid="wakeup-run"][data-wakeup-id="${once.id}"][data-status="completed"] [data-testid="run-summary"]`);
    await summary.waitFor();
    await expect(summary.locator('strong').textContent()).resolves.toBe('green');
    await expect(summary.locator('.md-href').textContent()).resolves.toBe('(https://ci.example.com/b/42)');
    // Times have the zone in their tooltip.
    expect(await summary.locator('xpath=ancestor::tr').locator('time').first().getAttribute('title')).toContain(`(${ZONE})`);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'polish-wakeups.png') });
  });

  it('renders peers’ Markdown and memories without raw HTML, and shows where links go', async () => {
    const sent = await relay<{ id: number; threadId: number }>('/api/messages', {
      from: 'outside-bot',
      to: personId,
      subject: 'Report',
      body: 'Deploy is **done**.\n<img src="https://tracker.example/p.png" onerror="alert(1)"> <script>alert(2)</script>\n[the dashboard](https://evil.example/login) and https://ok.example/status',
    });
    const page = await newRecordingPage('default');
    await suite.signIn(page, `#/inbox/${sent.threadId}`);
    const body = page.locator(`[data-testid="peer-message"][data-message-id="${sent.id}"] [data-testid="peer-message-body"]`);
    await body.waitFor();
    await expect(body.locator('strong').textContent()).resolves.toBe('done');
    expect(await body.locator('img, script').count()).toBe(0);
    await expect(body.textContent()).resolves.toContain('<img src="https://tracker.example/p.png" onerror="alert(1)">');
    // A link whose text hides its address shows it; a bare address is not repeated.
    expect(await body.locator('.md-href').allTextContents()).toEqual(['(https://evil.example/login)']);
    expect(await body.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('rel')]))).toEqual([
      ['https://evil.example/login', 'noopener noreferrer'],
      ['https://ok.example/status', 'noopener noreferrer'],
    ]);
    // The message's time: the page's one format, its zone in the tooltip.
    const time = page.locator(`[data-testid="peer-message"][data-message-id="${sent.id}"] time`);
    expect(await time.textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2}( \d{4})? \d{2}:\d{2}$/);
    expect(await time.getAttribute('title')).toContain(`(${ZONE})`);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'polish-inbox.png') });

    // A memory (a peer's, say) is Markdown too.
    await apiJson('POST', '/api/memories', { text: 'Deploys need **two** approvals <b onclick="x()">really</b>' });
    await page.evaluate(() => (location.hash = '#/memory'));
    const text = page.getByTestId('memory-text').filter({ hasText: 'Deploys need' });
    await text.waitFor();
    await expect(text.locator('strong').textContent()).resolves.toBe('two');
    expect(await text.locator('b').count()).toBe(0);
    await expect(text.textContent()).resolves.toBe('Deploys need two approvals <b onclick="x()">really</b>');
  });
});
