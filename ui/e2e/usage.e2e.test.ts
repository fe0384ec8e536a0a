// The account's rate limits against a real `perch serve` whose Codex uses
// OpenAI (no `[provider]`; the scripted model stands in for OpenAI's key
// check and ChatGPT's sign-in and usage routes). Signed in with an API key,
// Settings says in words why there are no figures and the status bar shows
// none; signed in with ChatGPT, Settings shows each window as a meter with
// its figure, and the status bar the highest one, linking to Settings.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface UsageJson {
  primary: { usedPercent: number; windowMinutes: number | null } | null;
  secondary: { usedPercent: number; windowMinutes: number | null } | null;
  unavailable: string | null;
}

describe.skipIf(missing !== null)('Account usage', () => {
  const suite = setupSuite('usage', { provider: false });

  const { apiJson, eventually } = suite;

  it('says why an API-key account has no figures', async () => {
    await apiJson('POST', '/api/account/login', { type: 'apiKey', apiKey: 'sk-e2e-not-a-real-key' });
    await eventually('Codex keeping the API key', async () =>
      (await apiJson<{ account: { type: string } | null }>('GET', '/api/account')).account?.type === 'apiKey' ? true : undefined,
    );
    const usage = await apiJson<UsageJson>('GET', '/api/account/usage');
    expect(usage.primary).toBeNull();
    expect(usage.secondary).toBeNull();
    expect(usage.unavailable).toMatch(/\w/);

    const page = await suite.newPage({ viewport: { width: 1280, height: 1200 } });
    await suite.signIn(page, '#/settings');
    const block = page.getByTestId('settings-account').getByTestId('usage');
    await block.getByTestId('usage-unavailable').waitFor();
    expect(await block.getByTestId('usage-unavailable').innerText()).toBe(usage.unavailable);
    expect(await block.getByTestId('usage-window').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'usage-api-key.png') });

    // No figures: nothing in the status bar.
    await page.goto(suite.perch.url + '/#/chat');
    await page.getByTestId('footer-account').filter({ hasText: 'API key' }).waitFor();
    expect(await page.getByTestId('footer-usage').count()).toBe(0);

    await apiJson('POST', '/api/account/logout', {});
  });

  it('shows a ChatGPT account’s windows in Settings and the highest in the status bar', async () => {
    const page = await suite.newPage({ viewport: { width: 1280, height: 1200 } });
    await suite.signIn(page, '#/settings');
    await suite.perch.decideSignIn('approved');
    await apiJson('POST', '/api/account/login', { type: 'chatgptDeviceCode' });
    await eventually('the ChatGPT sign-in', async () =>
      (await apiJson<{ account: { type: string } | null }>('GET', '/api/account')).account?.type === 'chatgpt' ? true : undefined,
    );
    const usage = await eventually('figures from the usage route', async () => {
      const u = await apiJson<UsageJson>('GET', '/api/account/usage');
      return u.primary ? u : undefined;
    });
    expect(usage.primary).toMatchObject({ usedPercent: 42, windowMinutes: 300 });
    expect(usage.secondary).toMatchObject({ usedPercent: 10, windowMinutes: 10080 });

    // Settings follows the account change (`account.updated` reads the usage again).
    const block = page.getByTestId('settings-account').getByTestId('usage');
    const primary = block.locator('[data-testid="usage-window"][data-which="primary"]');
    await primary.waitFor();
    expect(await primary.innerText()).toMatch(/^5-hour window: 42% used/);
    expect(await block.locator('[data-testid="usage-window"][data-which="secondary"]').innerText()).toMatch(/^Weekly: 10% used/);
    expect(await primary.locator('meter').getAttribute('value')).toBe('42');
    expect(await block.getByTestId('usage-unavailable').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'usage-chatgpt.png') });

    // The status bar: the highest figure, a link to Settings.
    await page.goto(suite.perch.url + '/#/chat');
    const footer = page.getByTestId('footer-usage');
    await footer.waitFor();
    expect(await footer.innerText()).toBe('Usage 42%');
    expect(await footer.getAttribute('title')).toContain('Weekly: 10% used');
    await footer.click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();

    await apiJson('POST', '/api/account/logout', {});
  });
});
