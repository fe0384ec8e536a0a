// Search over everything and the keyboard, in Debian's Chromium against a
// real `perch serve`, the pinned Codex and the scripted model: a word only
// an archived session's agent said is found from the palette (Ctrl+K) and
// the sidebar, and the jump opens that message; "Show archived" adds
// archived sessions to the list; Ctrl+N, Esc and `?` work.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import path from 'node:path';
import { RESULTS_DIR, type Perch } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('search and keyboard', () => {
  const suite = setupSuite('search');
  let perch: Perch;
  let archivedId = '';
  let liveId = '';
  beforeAll(async () => {
    perch = suite.perch;
    // Two sessions made through the API: one answered with a rare word,
    // then archived; one live.
    for (const [reply, prompt] of [
      ['The build broke because the quetzal cache was stale.', 'Why did the build break?'],
      ['All green here.', 'How are the tests?'],
    ]) {
      const session = await (await perch.api('POST', '/api/sessions', {})).json();
      await perch.enqueue({ text: reply });
      expect(await perch.sendAndWait(session.id, prompt)).toBe('completed');
      if (!archivedId) archivedId = session.id;
      else liveId = session.id;
    }
    const archived = await perch.api('PATCH', `/api/sessions/${archivedId}`, { archived: true, name: 'Build triage' });
    expect(archived.status).toBe(200);
  });

  async function open(page: Page) {
    await suite.signIn(page);
    // Attached, not visible: at 420 px the session list is folded away.
    await page.locator(`[data-session-id="${liveId}"]`).waitFor({ state: 'attached' });
  }

  for (const width of [1280, 420]) {
    it(`finds an archived session's reply from the palette and jumps to it (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      await open(page);
      expect(await page.locator(`[data-session-id="${archivedId}"]`).count()).toBe(0);

      await page.keyboard.press('Control+k');
      const palette = page.getByTestId('palette');
      await palette.waitFor();
      await page.keyboard.type('quetz');
      const hit = palette.getByTestId('search-hit').first();
      await hit.waitFor();
      expect(await hit.getAttribute('data-kind')).toBe('message');
      const text = await hit.innerText();
      expect(text).toContain('Agent said');
      expect(text).toContain('Build triage');
      expect(text).toContain('archived');
      expect(await hit.locator('mark').innerText()).toBe('quetzal');
      await page.screenshot({ path: path.join(RESULTS_DIR, `search-palette-${width}.png`) });
      // The commands come first; the arrow keys walk down to the result.
      const commands = await palette.getByTestId('palette-command').count();
      for (let i = 0; i < commands; i++) await page.keyboard.press('ArrowDown');
      expect(await hit.getAttribute('aria-selected')).toBe('true');
      await page.keyboard.press('Enter');

      await page.waitForURL((u) => u.hash === `#/chat/${archivedId}`);
      expect(await palette.count()).toBe(0);
      const found = page.locator('.found [data-testid="agent-message"]');
      await found.waitFor();
      expect(await found.innerText()).toContain('quetzal cache');
      // The archived session it opened is listed while it is open.
      await page.locator(`[data-session-id="${archivedId}"]`).waitFor({ state: 'attached' });
    });
  }

  it('searches from the sidebar, and Show archived adds archived sessions to the list', async () => {
    const page = await suite.newPage();
    await open(page);
    const search = page.getByLabel('Search everything');
    await search.fill('build break');
    const hits = page.getByRole('navigation', { name: 'Sessions' }).getByTestId('search-hit');
    await hits.first().waitFor();
    expect(await hits.first().innerText()).toContain('You said');
    await search.fill('nothingmatchesthis');
    await page.getByText('Nothing has every word of “nothingmatchesthis”.').waitFor();
    await search.fill('');
    await page.locator(`[data-session-id="${liveId}"]`).waitFor();

    await page.getByLabel('Show archived').check();
    await page.locator(`[data-session-id="${archivedId}"]`).waitFor();
    // Added, not instead: the live session is still listed.
    expect(await page.locator(`[data-session-id="${liveId}"]`).count()).toBe(1);
  });

  it('opens a memory and a plan item found from the palette', async () => {
    const memory = await (await perch.api('POST', '/api/memories', { text: 'The albatross key lives in the vault.' })).json();
    const plan = await (await perch.api('POST', '/api/plans', { name: 'Albatross launch' })).json();
    const page = await suite.newPage();
    await open(page);
    for (const [kind, hash, selector] of [
      ['memory', `#/memory/${memory.id}`, `[data-memory-id="${memory.id}"]`],
      ['plan', `#/planner/${plan.id}`, `[data-plan-id="${plan.id}"]`],
    ]) {
      await page.keyboard.press('Control+k');
      await page.keyboard.type('albatross');
      const hit = page.getByTestId('palette').locator(`[data-testid="search-hit"][data-kind="${kind}"]`);
      await hit.click();
      await page.waitForURL((u) => u.hash === hash);
      await page.locator(`${selector}.found`).waitFor();
    }
  });

  it('Ctrl+N starts a session, ? lists the shortcuts, Esc interrupts a running turn', async () => {
    const page = await suite.newPage();
    await open(page);
    const before = page.url();
    await page.keyboard.press('Control+n');
    await page.waitForURL((u) => u.toString() !== before && /^#\/chat\/.+/.test(u.hash));
    const composer = page.locator('#composer-input');
    await composer.waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'composer-input');

    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('?');
    const help = page.getByTestId('shortcuts');
    await help.waitFor();
    expect(await help.innerText()).toContain('Command palette');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    // A turn that streams slowly; Esc in the empty message box stops it.
    await perch.enqueue({ text: 'one two three four five six seven eight', chunks: 'one two three four five six seven eight'.split(' ').map((w) => w + ' '), delayMs: 1500 });
    await composer.fill('Count slowly');
    await composer.press('Enter');
    await page.locator('[data-testid="turn"][data-status="inProgress"]').waitFor();
    await page.waitForFunction(() => (document.getElementById('composer-input') as HTMLTextAreaElement).value === '');
    await composer.press('Escape');
    await page.locator('[data-testid="turn"][data-status="interrupted"]').waitFor();
  });
});
