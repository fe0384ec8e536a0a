// Browser tests: Debian Chromium (playwright-core) against a real
// `perch serve` + pinned Codex + scripted model. No mocks of Perch's API.
// Setup in suite.ts; PERCH_E2E_REQUIRED=1 fails instead of skipping when
// binaries are missing.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, waitFor, type Perch } from './harness';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('Perch web UI against a real server', () => {
  const suite = setupSuite('chat');
  let perch: Perch;
  beforeAll(() => {
    perch = suite.perch;
  });
  const newPage = () => suite.newPage();

  async function signInWithToken(page: Page) {
    await suite.signIn(page);
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
  }

  async function newSession(page: Page) {
    const before = page.url();
    await page.getByRole('button', { name: 'New session' }).first().click();
    // The open session is in the address: #/chat/<id>.
    await page.waitForURL((u) => u.toString() !== before && /^#\/chat\/.+/.test(u.hash));
    await page.getByLabel('Message').waitFor();
  }

  /** The composer holds `text` (a draft is put back just after it appears). */
  async function waitForValue(page: Page, text: string) {
    await page.waitForFunction(
      (want) => (document.getElementById('composer-input') as HTMLTextAreaElement | null)?.value === want,
      text,
    );
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
    expect(await page.title()).toBe('Perch — Chat');
    await page.reload();
    expect(new URL(page.url()).hash).toBe(url.hash);
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
    // Shown as typed: without the `/bin/bash -lc '…'` Codex wraps it in.
    await expect(prompt.locator('.title').textContent()).resolves.toBe('Run touch approved.txt');
    expect(await prompt.getByTestId('approval-dangers').count()).toBe(0);
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
    // Interrupted only once the model holds the request: interrupted earlier,
    // the hanging script would stay queued and hang the next test's turn.
    await waitFor(
      'the model to get the request',
      async () => ((await perch.requests()).some((r) => JSON.stringify(r.body).includes('This will hang')) ? true : undefined),
      [],
      WAIT,
    );
    const interrupt = page.getByRole('button', { name: 'Interrupt' }).first();
    await interrupt.click();
    await page.locator('[data-testid="turn"][data-status="interrupted"]').waitFor();
    await page.getByTestId('turn-outcome').filter({ hasText: 'Turn interrupted' }).waitFor();
    await page.locator('[data-testid="error-card"][data-status="interrupted"]').getByTestId('retry-turn').waitFor();
    // The composer is back to sending new turns.
    await page.getByRole('button', { name: 'Send' }).waitFor();
  });

  it('shows a model’s HTTP 400 in words, and Retry sends the turn again', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    const refusal = 'The model mock-model does not take this request (scripted 400).';
    await perch.enqueue({
      httpStatus: 400,
      body: JSON.stringify({ error: { message: refusal, type: 'invalid_request_error', code: null } }),
    });
    await sendPrompt(page, 'Try something refused');

    // The card says the body's message, not its JSON; the raw text is folded away.
    const card = page.locator('[data-testid="error-card"][data-status="failed"]');
    await card.waitFor();
    const message = card.getByTestId('error-message');
    await message.filter({ hasText: refusal }).waitFor();
    expect(await message.textContent()).not.toContain('invalid_request_error');

    await perch.enqueue({ text: 'Second try worked.' });
    await card.getByTestId('retry-turn').click();
    await page.getByTestId('agent-message').filter({ hasText: 'Second try worked.' }).waitFor();
    await page.locator('[data-testid="turn"][data-status="completed"]').waitFor();
    // The failed turn was the last: it is taken back, not left beside its retry.
    await card.waitFor({ state: 'detached' });
    expect(await page.getByTestId('user-message').filter({ hasText: 'Try something refused' }).count()).toBe(1);
    const reqs = await perch.requests();
    const last = JSON.stringify(reqs[reqs.length - 1].body);
    expect(last.split('Try something refused').length - 1).toBe(1);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'retry.png') });
  });

  it('says the model’s trouble live on the turn while Codex retries', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    // The request fails with a 500, and so does Codex's silent retry of it;
    // then Codex says it reconnects (without the status), and that try
    // answers slowly: the turn shows the trouble, in words, until the
    // answer streams.
    const before = (await perch.requests()).length;
    // The server's event stream, to say what came when the page did not show it.
    const stream = new AbortController();
    const seen: string[] = [];
    void perch.api('GET', '/api/events').then(async (res) => {
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        for (const l of new TextDecoder().decode(value).split('\n')) if (l.startsWith('data:')) seen.push(l.slice(5, 200));
        if (stream.signal.aborted) return void reader.cancel();
      }
    });
    await perch.enqueue([{ httpStatus: 500 }, { httpStatus: 500 }, { text: 'Back now.', chunks: ['Back now.'], delayMs: 2500 }]);
    await sendPrompt(page, 'Are you there?');
    const banner = page.getByTestId('turn-problem');
    // The banner shows the latest trouble: Codex may first warn about the
    // scripted model's missing metadata, then say it retries.
    await banner.filter({ hasText: /retrying/ }).waitFor().catch(async (e: unknown) => {
      const asked = (await perch.requests()).length - before;
      throw new Error(
        `${String(e)}\nthe model was asked ${asked} times; events: ${seen.join('\n')}\nthe chat said: ${await page.locator('main').innerText()}`,
      );
    });
    stream.abort();
    // Codex says only that it reconnects, and what its 5xx means.
    const said = await banner.innerText();
    expect(said).toMatch(/retrying/);
    expect(said).toMatch(/high demand/);
    expect(await banner.getAttribute('data-kind'), said).toBe('unreachable');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'turn-problem.png') });
    // The answer is progress: the trouble is over.
    await page.getByTestId('agent-message').filter({ hasText: 'Back now.' }).waitFor();
    await page.locator('[data-testid="turn"][data-status="completed"]').filter({ hasText: 'Back now.' }).waitFor();
    expect(await banner.count()).toBe(0);
    expect((await perch.requests()).length - before).toBe(3);
  });

  it('keeps an unsent draft across a reload', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    await page.getByLabel('Message').fill('half a thought');
    const url = page.url();
    await page.reload();
    expect(page.url()).toBe(url);
    await page.getByLabel('Message').waitFor();
    await waitForValue(page, 'half a thought');
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

  it('goes to the route named by next= after a login code', async () => {
    const res = await perch.api('POST', '/api/auth/login-codes');
    const { code } = (await res.json()) as { code: string };

    const page = await newPage();
    await page.goto(`${perch.url}/#login=${encodeURIComponent(code)}&next=${encodeURIComponent('/dashboard')}`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/dashboard');
    expect(page.url()).not.toContain(code);
    expect(await page.title()).toBe('Perch — Dashboard');

    // The main navigation reaches every page.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/settings');
    expect(await page.title()).toBe('Perch — Settings');
    await nav.getByRole('link', { name: 'Chat' }).click();
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    expect(await page.title()).toBe('Perch — Chat');
  });

  // Last: it restarts Perch.
  it('stays signed in, with the draft, across a restart of Perch', async () => {
    const page = await newPage();
    await signInWithToken(page);
    await newSession(page);
    await page.getByLabel('Message').fill('written before the restart');
    await perch.restart();
    await page.reload();
    // No sign-in form: the browser session outlived the restart.
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    expect(await page.getByLabel('API token').count()).toBe(0);
    await waitForValue(page, 'written before the restart');
    const status = await page.evaluate(async () => (await fetch('/api/status', { credentials: 'same-origin' })).status);
    expect(status).toBe(200);
  });
});
