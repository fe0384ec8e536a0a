// Browser tests: Debian Chromium (playwright-core) against a real
// `perch serve` + pinned Codex + scripted model. No mocks of Perch's API.
//
// Set PERCH_E2E_REQUIRED=1 to fail (instead of skip) when binaries are missing.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { missingBinaries, RESULTS_DIR, startPerch, UI_DIR, type Perch } from './harness';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Generous: these waits are for events, not a performance budget.
const WAIT = 180_000;

const missing = missingBinaries() ?? (existsSync(path.join(UI_DIR, 'dist/index.html')) ? null : 'ui/dist is missing: run `npm run build` first');
if (missing) {
  if (process.env.PERCH_E2E_REQUIRED === '1') throw new Error(missing);
  console.warn(`[e2e] skipped: ${missing}`);
}

describe.skipIf(missing !== null)('Perch web UI against a real server', () => {
  let perch: Perch;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(RESULTS_DIR, { recursive: true });
    perch = await startPerch({ name: 'chat' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  });

  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    // Keep the run's logs and data (test-results/e2e-*) when something failed.
    if (failed) console.log(`[e2e] logs and data kept in ${perch?.root}`);
    await perch?.stop({ removeData: !failed && process.env.PERCH_E2E_KEEP !== '1' });
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (m) => {
      if (m.type() === 'error') console.log('[browser]', m.text());
    });
    return page;
  }

  async function signInWithToken(page: Page) {
    await page.goto(perch.url + '/');
    await page.getByLabel('API token').fill(perch.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
  }

  async function newSession(page: Page) {
    const before = page.url();
    await page.getByRole('button', { name: 'New session' }).first().click();
    await page.waitForURL((u) => u.toString() !== before && u.searchParams.has('session'));
    await page.getByLabel('Message').waitFor();
  }

  async function sendPrompt(page: Page, text: string) {
    await page.getByLabel('Message').fill(text);
    await page.getByLabel('Message').press('Enter');
  }

  it('signs in with the token, streams an answer', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await page.locator('[data-testid="codex-state"][data-state="ready"]').waitFor();

    await newSession(page);
    expect(await page.getByText('Could not load the history').count()).toBe(0);
    await perch.enqueue({ text: 'Hello there, streamed!', chunks: ['Hello ', 'there, ', 'streamed!'], delayMs: 30 });
    await sendPrompt(page, 'Say hello');

    await page.getByTestId('user-message').filter({ hasText: 'Say hello' }).first().waitFor();
    await page.getByTestId('agent-message').filter({ hasText: 'Hello there, streamed!' }).waitFor();
    await page.locator('[data-testid="turn"][data-status="completed"]').waitFor();

    // The session keeps its place across a reload.
    const url = new URL(page.url());
    await page.reload();
    expect(new URL(page.url()).searchParams.get('session')).toBe(url.searchParams.get('session'));
    await page.getByTestId('agent-message').filter({ hasText: 'Hello there, streamed!' }).waitFor();

    const reqs = await perch.requests();
    expect(reqs.some((r) => JSON.stringify(r.body).includes('Say hello'))).toBe(true);
  });

  it('asks for approval inline and finishes the turn after Approve', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    await perch.enqueue([
      { functionCalls: [{ name: 'exec_command', arguments: { cmd: 'touch approved.txt' }, callId: 'call_1' }] },
      { text: 'Created approved.txt for you.', chunks: ['Created ', 'approved.txt ', 'for you.'], delayMs: 20 },
    ]);
    await sendPrompt(page, 'Please create approved.txt');

    const prompt = page.locator('[data-testid="approval"][data-status="pending"]');
    await prompt.waitFor();
    await expect(prompt.textContent()).resolves.toContain('touch approved.txt');
    await prompt.getByRole('button', { name: 'Approve', exact: true }).click();

    await page.locator('[data-testid="approval"][data-status="accept"]').waitFor();
    await page.getByTestId('agent-message').filter({ hasText: 'Created approved.txt for you.' }).waitFor();
    await page.locator('[data-testid="turn"][data-status="completed"]').waitFor();
    await page.getByTestId('command-card').first().waitFor();
    expect(existsSync(path.join(perch.workDir, 'approved.txt'))).toBe(true);

    await page.screenshot({ path: path.join(RESULTS_DIR, 'chat.png'), fullPage: false });
  });

  it('interrupts a turn whose model request hangs', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    await perch.enqueue({ hang: true });
    await sendPrompt(page, 'This will hang');
    await page.getByTestId('user-message').filter({ hasText: 'This will hang' }).first().waitFor();
    const interrupt = page.getByRole('button', { name: 'Interrupt' }).first();
    await interrupt.click();
    await page.locator('[data-testid="turn"][data-status="interrupted"]').waitFor();
    await page.getByTestId('turn-outcome').filter({ hasText: 'Turn interrupted' }).waitFor();
    // The composer is back to sending new turns.
    await page.getByRole('button', { name: 'Send' }).waitFor();
  });

  it('signs in with a one-time login code from the URL fragment', async () => {
    const res = await perch.api('POST', '/api/auth/login-codes');
    expect(res.status).toBe(200);
    const { code } = (await res.json()) as { code: string };
    expect(code).toBeTruthy();

    const page = await newPage();
    await page.goto(`${perch.url}/#login=${encodeURIComponent(code)}`);
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    await page.getByRole('button', { name: 'New session' }).first().waitFor();
    expect(page.url()).not.toContain(code);
    expect(page.url()).not.toContain('login=');
    // The cookie works for the API from now on.
    const status = await page.evaluate(async () => (await fetch('/api/status', { credentials: 'same-origin' })).status);
    expect(status).toBe(200);
  });
});
