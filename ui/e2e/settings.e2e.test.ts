// The Settings page against a real `perch serve` (GET/PATCH /api/settings,
// GET /api/diagnostics, SSE `settings.changed`). See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface SettingsJson {
  codex: { bin: string | null; effort: string | null };
  notifications: { dnd: boolean };
  providerKeySet: boolean;
  relayTokenSet?: boolean;
  restartRequired: boolean;
}

describe.skipIf(missing !== null)('Settings', () => {
  const suite = setupSuite('settings');

  async function serverSettings(): Promise<SettingsJson> {
    const res = await suite.perch.api('GET', '/api/settings');
    if (!res.ok) throw new Error(`GET /api/settings: ${res.status} ${await res.text()}`);
    return (await res.json()) as SettingsJson;
  }

  it('toggles Do not disturb at once and follows changes made elsewhere', async () => {
    // Tall, so that the screenshot shows the whole page.
    const page = await suite.newPage({ viewport: { width: 1280, height: 2200 } });
    await suite.signIn(page, '#/settings');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Settings');
    expect((await serverSettings()).notifications.dnd).toBe(false);

    const dnd = page.getByRole('checkbox', { name: 'Do not disturb', exact: true });
    await dnd.check();
    await page.getByTestId('notifications-message').filter({ hasText: 'Saved' }).waitFor();
    expect((await serverSettings()).notifications.dnd).toBe(true);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'settings.png') });

    // The tray (here: the API) turns it off: the page follows (settings.changed).
    const res = await suite.perch.api('PATCH', '/api/settings', { notifications: { dnd: false } });
    expect(res.status).toBe(200);
    await page.waitForFunction(
      () => !(document.querySelector('[data-testid="toggle-dnd"]') as HTMLInputElement | null)?.checked,
    );
  });

  it('saves the Codex section', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/settings');
    const section = page.getByTestId('settings-codex');
    const save = section.getByRole('button', { name: 'Save' });
    expect(await save.isDisabled()).toBe(true);
    // The same pickers as the chat's: Codex's models, and the efforts the model takes.
    const models = (await (await suite.perch.api('GET', '/api/models')).json()) as { data: { id: string }[] };
    const offered = await section.getByLabel('Default model', { exact: true }).locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(offered).toEqual(expect.arrayContaining(['', ...models.data.map((m) => m.id)]));
    await section.getByLabel('Reasoning effort').selectOption('low');
    await save.click();
    await page.getByTestId('codex-message').filter({ hasText: 'Saved' }).waitFor();
    expect((await serverSettings()).codex.effort).toBe('low');
    expect(await save.isDisabled()).toBe(true);
  });

  it('shows the server’s validation message next to the form', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/settings');
    const before = (await serverSettings()).codex.bin;
    const section = page.getByTestId('settings-codex');
    await section.getByLabel('Codex binary').fill('relative/codex');
    await section.getByRole('button', { name: 'Save' }).click();
    const error = section.getByRole('alert');
    await error.waitFor();
    await expect(error.textContent()).resolves.toContain('absolute path');
    expect((await serverSettings()).codex.bin).toBe(before);
    // The edit stays for fixing; Revert goes back to the saved value.
    expect(await section.getByLabel('Codex binary').inputValue()).toBe('relative/codex');
    await section.getByRole('button', { name: 'Revert' }).click();
    expect(await section.getByLabel('Codex binary').inputValue()).toBe(before ?? '');
  });

  it('copies the diagnostics to the clipboard', async () => {
    const page = await suite.newPage({ permissions: ['clipboard-read', 'clipboard-write'] });
    await suite.signIn(page, '#/settings');
    await page.getByRole('button', { name: 'Copy diagnostics' }).click();
    await page.getByTestId('diagnostics-copied').filter({ hasText: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied.trim().length).toBeGreaterThan(0);
  });

  it('shows the diagnostics in a text box when there is no clipboard', async () => {
    const page = await suite.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
    });
    await suite.signIn(page, '#/settings');
    await page.getByRole('button', { name: 'Copy diagnostics' }).click();
    const text = page.getByTestId('diagnostics-text');
    await text.waitFor();
    expect((await text.inputValue()).trim().length).toBeGreaterThan(0);
  });

  it('stores a relay token without showing it, and clears it', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/settings');
    const section = page.getByTestId('settings-peer');
    const input = section.getByLabel('New relay token');
    await page.locator('[data-testid="relay-token-state"][data-state="not-set"]').waitFor();
    expect((await serverSettings()).relayTokenSet).toBe(false);

    // A blank field is refused before any request.
    await input.fill('   ');
    await section.getByRole('button', { name: 'Save token' }).click();
    await page.getByTestId('relay-message').filter({ hasText: 'Enter the relay token' }).waitFor();
    expect(await page.getByTestId('relay-message').getAttribute('role')).toBe('alert');

    // The server's refusal (a control character) shows next to the form.
    await input.fill('bad\ttoken');
    await section.getByRole('button', { name: 'Save token' }).click();
    await page.getByTestId('relay-message').filter({ hasText: 'control characters' }).waitFor();
    expect((await serverSettings()).relayTokenSet).toBe(false);

    // Saved trimmed, never shown back.
    const secret = `rt-e2e-${Date.now()}`;
    await input.fill(`  ${secret}  `);
    await section.getByRole('button', { name: 'Save token' }).click();
    await page.getByTestId('relay-message').filter({ hasText: 'Relay token saved' }).waitFor();
    await page.locator('[data-testid="relay-token-state"][data-state="set"]').waitFor();
    expect(await input.inputValue()).toBe('');
    expect(await page.content()).not.toContain(secret);
    const res = await suite.perch.api('GET', '/api/settings');
    const text = await res.text();
    expect(text).not.toContain(secret);
    expect((JSON.parse(text) as SettingsJson).relayTokenSet).toBe(true);
    // The file secret store (PERCH_SECRET_STORE=file in the harness) got it trimmed.
    expect(readFileSync(path.join(suite.perch.root, 'data/secrets/relay-token'), 'utf8').trim()).toBe(secret);

    await section.getByRole('button', { name: 'Clear token' }).click();
    await page.locator('[data-testid="relay-token-state"][data-state="not-set"]').waitFor();
    await page.getByTestId('relay-message').filter({ hasText: 'Relay token removed' }).waitFor();
    expect(await section.getByRole('button', { name: 'Clear token' }).count()).toBe(0);
    expect((await serverSettings()).relayTokenSet).toBe(false);
  });

  // Last: it restarts Codex.
  it('stores a provider key without showing it, and restarts Codex to apply it', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/settings');
    await page.locator('[data-testid="provider-key-state"][data-state="not-set"]').waitFor();
    expect(await page.getByTestId('restart-required').count()).toBe(0);

    const secret = `sk-e2e-${Date.now()}`;
    await page.getByLabel('New API key').fill(secret);
    await page.getByRole('button', { name: 'Save key' }).click();
    await page.getByTestId('key-message').filter({ hasText: 'API key saved' }).waitFor();
    await page.locator('[data-testid="provider-key-state"][data-state="set"]').waitFor();
    expect(await page.getByLabel('New API key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(secret);
    const res = await suite.perch.api('GET', '/api/settings');
    const text = await res.text();
    expect(text).not.toContain(secret);
    expect((JSON.parse(text) as SettingsJson).providerKeySet).toBe(true);

    // A new key needs a Codex restart.
    const banner = page.getByTestId('restart-required');
    await banner.waitFor();
    await banner.getByRole('button', { name: 'Restart Codex' }).click();
    await banner.waitFor({ state: 'detached' });
    expect((await serverSettings()).restartRequired).toBe(false);

    await page.getByRole('button', { name: 'Clear key' }).click();
    await page.locator('[data-testid="provider-key-state"][data-state="not-set"]').waitFor();
    expect((await serverSettings()).providerKeySet).toBe(false);
  });
});
