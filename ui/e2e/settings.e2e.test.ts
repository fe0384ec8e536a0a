// The Settings page against a real `perch serve` (GET/PATCH /api/settings,
// GET /api/diagnostics, SSE `settings.changed`). See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { RESULTS_DIR } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

interface SettingsJson {
  codex: { effort: string | null };
  notifications: { dnd: boolean };
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
    await section.getByLabel('Reasoning effort').fill('low');
    await save.click();
    await page.getByTestId('codex-message').filter({ hasText: 'Saved' }).waitFor();
    expect((await serverSettings()).codex.effort).toBe('low');
    expect(await save.isDisabled()).toBe(true);
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
});
