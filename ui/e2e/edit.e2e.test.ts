// Edit, retry, fork and copy, in Debian's Chromium against a real
// `perch serve`, the pinned Codex and the scripted model: Up edits the last
// message in place and the old one leaves what the model is sent; Retry
// asks again in the answer's place; "Fork from here" and /fork open forks;
// messages and code blocks copy.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import path from 'node:path';
import { RESULTS_DIR, type Perch } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('edit, retry, fork and copy', () => {
  const suite = setupSuite('edit');
  let perch: Perch;
  beforeAll(() => {
    perch = suite.perch;
  });

  /** Asks `prompt`; the model answers `answer`, whose first line shows. */
  async function ask(page: Page, prompt: string, answer: string) {
    await perch.enqueue({ text: answer });
    const composer = page.locator('#composer-input');
    await composer.fill(prompt);
    await composer.press('Enter');
    await page.getByTestId('agent-message').filter({ hasText: answer.split('\n')[0] }).waitFor();
    await page.waitForFunction(() => !document.querySelector('[data-testid="turn"][data-status="inProgress"]'));
  }

  async function lastRequest(): Promise<string> {
    const reqs = await perch.requests();
    return JSON.stringify(reqs[reqs.length - 1].body);
  }

  it('Up edits the last message in place; Retry asks again; the old turn leaves the model’s context', async () => {
    const page = await suite.newPage();
    await suite.startSession(page);
    await ask(page, 'Plan the trip', 'Go by train');
    await ask(page, 'And the hotel?', 'The one by the station');

    await page.locator('#composer-input').press('ArrowUp');
    const box = page.getByTestId('edit-box');
    await box.waitFor();
    const editor = box.locator('textarea');
    expect(await editor.inputValue()).toBe('And the hotel?');
    await perch.enqueue({ text: 'The hostel on Quay Street' });
    await editor.fill('And a cheap hotel?');
    await editor.press('Enter');
    await page.getByTestId('agent-message').filter({ hasText: 'The hostel on Quay Street' }).waitFor();
    expect(await page.getByTestId('user-message').filter({ hasText: 'And the hotel?' }).count()).toBe(0);
    expect(await page.getByTestId('agent-message').filter({ hasText: 'The one by the station' }).count()).toBe(0);
    let sent = await lastRequest();
    expect(sent).toContain('And a cheap hotel?');
    expect(sent).toContain('Go by train');
    expect(sent).not.toContain('The one by the station');

    // Retry on the answer: the same question, asked again in its place.
    await page.waitForFunction(() => !document.querySelector('[data-testid="turn"][data-status="inProgress"]'));
    const answer = page.locator('[data-item-id]').filter({ hasText: 'The hostel on Quay Street' });
    await answer.hover();
    await perch.enqueue({ text: 'The guesthouse by the park' });
    await answer.getByTestId('retry-turn').click();
    await page.getByTestId('agent-message').filter({ hasText: 'The guesthouse by the park' }).waitFor();
    expect(await page.getByTestId('agent-message').filter({ hasText: 'The hostel on Quay Street' }).count()).toBe(0);
    sent = await lastRequest();
    expect(sent).not.toContain('The hostel on Quay Street');
    expect(sent.split('And a cheap hotel?').length - 1).toBe(1);
    // After a reload the history is the edited one.
    await page.reload();
    await page.getByTestId('agent-message').filter({ hasText: 'The guesthouse by the park' }).waitFor();
    expect(await page.getByTestId('user-message').count()).toBe(2);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'edit-retry.png') });
  });

  it('forks from a message and with /fork', async () => {
    const page = await suite.newPage();
    await suite.startSession(page);
    await ask(page, 'Name a colour', 'Blue');
    await ask(page, 'Name a fruit', 'Pear');
    const source = new URL(page.url()).hash;

    const first = page.locator('[data-item-id]').filter({ hasText: 'Blue' });
    await first.hover();
    await first.getByTestId('fork-here').click();
    await page.waitForURL((u) => u.hash !== source && /^#\/chat\/.+/.test(u.hash));
    await page.getByTestId('agent-message').filter({ hasText: 'Blue' }).waitFor();
    expect(await page.getByTestId('agent-message').filter({ hasText: 'Pear' }).count()).toBe(0);

    const composer = page.locator('#composer-input');
    await composer.fill('/fork Colour branch');
    await composer.press('Enter');
    await page.getByText('into a new session').waitFor();
    await page.locator('[data-session-id]').filter({ hasText: 'Colour branch' }).waitFor({ state: 'attached' });
  });

  it('copies a message and a code block, whose language is shown', async () => {
    const page = await suite.newPage({ permissions: ['clipboard-read', 'clipboard-write'] });
    await suite.startSession(page);
    await ask(page, 'Show me code', 'Here:\n\n```rust\nfn main() {}\n```\n');
    const block = page.locator('.md-code').first();
    expect(await block.locator('.md-lang').innerText()).toBe('rust');
    await block.getByRole('button', { name: 'Copy the rust code' }).click();
    await block.getByRole('button', { name: 'Copy the rust code' }).filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('fn main() {}');

    const message = page.locator('[data-item-id]').filter({ hasText: 'Show me code' });
    await message.hover();
    await message.getByTestId('copy-message').click();
    await message.getByTestId('copy-message').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('Show me code');
  });
});
