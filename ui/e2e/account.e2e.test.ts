// The first run against a real `perch serve` whose Codex has no account: no
// `[provider]` in the config (Codex uses OpenAI) and a fresh Codex home. The
// chat shows the first-run screen, the server refuses messages with
// `not_signed_in`, the composer says so and keeps the text, and signing in
// (an API key; ChatGPT's device code against the scripted model's stand-in
// sign-in; then an OpenAI-compatible server, the scripted model) makes the
// chat work. Nothing here reaches OpenAI: the key is never used for a turn,
// and Codex's sign-in issuer is the stand-in. See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface AccountJson {
  account: { type: string } | null;
  requiresOpenaiAuth: boolean;
}

describe.skipIf(missing !== null)('First run without a Codex account', () => {
  const suite = setupSuite('first-run', { provider: false });

  const { apiJson, eventually } = suite;

  it('shows the first-run screen, refuses messages, signs in with an API key and follows a sign-out live', async () => {
    const known = await eventually('Codex reporting its account', async () =>
      (await apiJson<{ account: AccountJson | null }>('GET', '/api/status')).account ?? undefined,
    );
    expect(known).toMatchObject({ account: null, requiresOpenaiAuth: true });

    // The server refuses a turn Codex could not run.
    const session = await apiJson<{ id: string }>('POST', '/api/sessions', {});
    const refused = await suite.perch.api('POST', `/api/sessions/${session.id}/messages`, { text: 'hello' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_signed_in');

    const page = await suite.newPage();
    await suite.signIn(page);
    const firstRun = page.getByTestId('first-run');
    await firstRun.waitFor();
    await page.locator('[data-testid="footer-account"][data-standing="notSignedIn"]').waitFor();
    await firstRun.getByTestId('sign-in-chatgpt').getByRole('button', { name: 'Sign in with ChatGPT' }).waitFor();
    await firstRun.getByTestId('sign-in-provider').waitFor();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'first-run.png') });

    // A key OpenAI refuses (the scripted model's listing stands in): said, nothing kept.
    const key = firstRun.getByTestId('sign-in-api-key');
    expect(await key.getByLabel('OpenAI API key').getAttribute('type')).toBe('password');
    await key.getByLabel('OpenAI API key').fill('sk-wrong-key');
    await key.getByRole('button', { name: 'Sign in with the key' }).click();
    await key.getByText('OpenAI refused this API key').waitFor();
    expect((await apiJson<AccountJson>('GET', '/api/account')).account).toBeNull();

    // An API key (never used for a turn here): Codex keeps it and reports the account.
    await key.getByLabel('OpenAI API key').fill('sk-e2e-not-a-real-key');
    await key.getByRole('button', { name: 'Sign in with the key' }).click();
    await page.locator('[data-testid="footer-account"][data-standing="signedIn"]').filter({ hasText: 'API key' }).waitFor();
    await page.getByTestId('first-run').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'New session' }).first().waitFor();
    const after = await apiJson<AccountJson>('GET', '/api/account');
    expect(after.account?.type).toBe('apiKey');

    // Signed out elsewhere: the page follows `account.updated`.
    await apiJson('POST', '/api/account/logout', {});
    await page.locator('[data-testid="footer-account"][data-standing="notSignedIn"]').waitFor();
    await page.getByTestId('first-run').waitFor();
  });

  it('signs in with a ChatGPT device code: the code big and copyable, an expired code said in words, then signed in', async () => {
    const page = await suite.newPage();
    await suite.signIn(page);
    const chatgpt = page.getByTestId('first-run').getByTestId('sign-in-chatgpt');
    await chatgpt.getByRole('button', { name: 'Sign in with ChatGPT' }).click();
    const code = chatgpt.getByTestId('user-code');
    await code.waitFor();
    expect(await code.innerText()).toBe('PRCH-4821');
    expect(await chatgpt.getByRole('link', { name: `${suite.perch.modelUrl}/codex/device` }).count()).toBe(1);
    expect(await chatgpt.getByTestId('device-wait').innerText()).toMatch(/\w/);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'first-run-device-code.png') });

    // The code expires before the person enters it: said, with Retry.
    await suite.perch.decideSignIn('expired');
    const failed = chatgpt.getByTestId('device-failed');
    await failed.waitFor();
    expect(await failed.innerText()).toMatch(/sign/i);
    expect((await apiJson<AccountJson>('GET', '/api/account')).account).toBeNull();

    // Retry, and this time the person approves it in the browser.
    await suite.perch.decideSignIn('pending');
    await failed.getByRole('button', { name: 'Retry' }).click();
    await code.waitFor();
    await suite.perch.decideSignIn('approved');
    await page.locator('[data-testid="footer-account"][data-standing="signedIn"]').filter({ hasText: 'ada@example.com' }).waitFor();
    const account = await apiJson<{ account: { type: string; email: string | null } | null }>('GET', '/api/account');
    expect(account.account).toMatchObject({ type: 'chatgpt', email: 'ada@example.com' });

    // Signed out again for the next test.
    await apiJson('POST', '/api/account/logout', {});
    await page.locator('[data-testid="footer-account"][data-standing="notSignedIn"]').waitFor();
  });

  it('keeps the typed text, and signs in with an OpenAI-compatible server where the composer was', async () => {
    const page = await suite.newPage();
    await suite.signIn(page);
    await page.getByRole('navigation', { name: 'Sessions' }).waitFor();
    await page.getByRole('button', { name: 'New session' }).first().click();
    await page.waitForURL((u) => /^#\/chat\/.+/.test(u.hash));

    // The composer says why it cannot send, and keeps the text.
    const text = 'Hello from the first run';
    await page.getByLabel('Message').fill(text);
    const prompt = page.getByTestId('composer-sign-in');
    await prompt.waitFor();
    await page.getByLabel('Message').press('Enter');
    expect(await page.getByTestId('user-message').count()).toBe(0);
    expect(await page.getByLabel('Message').inputValue()).toBe(text);

    // "Sign in" opens the first-run flow in the composer's place.
    await prompt.getByRole('button', { name: 'Sign in' }).click();
    const server = page.getByTestId('first-run').getByTestId('sign-in-provider');
    // Nothing answers there: said, and nothing is saved.
    await server.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
    await server.getByLabel('Model').fill('mock-model');
    await server.getByRole('button', { name: 'Use this server' }).click();
    await server.getByText('Perch could not use http://127.0.0.1:9/v1 as a model server').waitFor();
    expect((await apiJson<{ provider: unknown }>('GET', '/api/settings')).provider).toBeNull();
    // A server without that model: said, with what it has.
    await server.getByLabel('Base URL').fill(suite.perch.modelUrl + '/v1');
    await server.getByLabel('Model').fill('no-such-model');
    await server.getByRole('button', { name: 'Use this server' }).click();
    await server.getByText('has no model “no-such-model”. It offers: mock-model.').waitFor();
    expect((await apiJson<{ provider: unknown }>('GET', '/api/settings')).provider).toBeNull();

    await server.getByLabel('Model').fill('mock-model');
    await server.getByRole('button', { name: 'Use this server' }).click();
    // Its progress says what it waits for; then what it did.
    await page
      .getByTestId('first-run')
      .getByText('Codex now uses')
      .waitFor({ timeout: 120_000 })
      .catch(async (e: unknown) => {
        // Say what the screen said instead.
        throw new Error(`${String(e)}\nthe first-run screen said: ${await page.getByTestId('first-run').innerText()}`);
      });
    const settings = await apiJson<{ provider: { baseUrl: string } | null; codex: { model: string | null } }>('GET', '/api/settings');
    expect(settings.provider?.baseUrl).toBe(suite.perch.modelUrl + '/v1');
    expect(settings.codex.model).toBe('mock-model');
    await page.locator('[data-testid="footer-account"][data-standing="noSignInNeeded"]').waitFor();
    await page.getByTestId('first-run').getByRole('button', { name: 'Start chatting' }).click();

    // The draft came back with the composer.
    expect(await page.getByLabel('Message').inputValue()).toBe(text);
    expect(await page.getByTestId('composer-sign-in').count()).toBe(0);
    // The session made before Codex restarted with the new provider goes on.
    await suite.perch.enqueue({ text: 'Hi from the local server.' });
    await page.getByLabel('Message').press('Enter');
    await page
      .getByTestId('agent-message')
      .filter({ hasText: 'Hi from the local server.' })
      .waitFor({ timeout: 60_000 })
      .catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nthe chat said: ${await page.locator('main').innerText()}`);
      });
    expect(await page.getByLabel('Message').inputValue()).toBe('');
  });
});
