// The Memory page against a real `perch serve` (`/api/memories*`, the
// `[memory]` settings, SSE `memory.changed` and `settings.changed`). Nothing here starts a
// model turn. See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { RESULTS_DIR, waitFor } from './harness';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

interface MemoryJson {
  id: number;
  text: string;
  tags: string[];
  source: string;
  importance: number;
}

describe.skipIf(missing !== null)('Memory', () => {
  const suite = setupSuite('memory');

  const { apiJson, eventually } = suite;

  const serverMemories = () => apiJson<{ data: MemoryJson[]; total: number }>('GET', '/api/memories?limit=200');

  /** Waits until the list shows exactly these texts (any order). */
  async function listShows(page: Page, texts: string[]) {
    await page.waitForFunction(
      (want) => {
        const shown = [...document.querySelectorAll('[data-testid="memory"] [data-testid="memory-text"]')].map((e) => e.textContent ?? '');
        return shown.length === want.length && want.every((t) => shown.includes(t));
      },
      texts,
      { timeout: WAIT },
    );
  }

  it('adds, searches, edits, bulk-deletes, exports and imports memories, live', async () => {
    // Tall, so that the screenshot shows the whole page.
    const page = await suite.newPage({ viewport: { width: 1280, height: 1600 } });
    await suite.signIn(page, '#/memory');
    await page.getByRole('heading', { name: 'Memory', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Memory');
    await page.getByTestId('memory-empty').waitFor();

    // Add three memories with the form.
    const add = page.getByTestId('memory-add');
    const dark = 'Prefers dark mode in every app';
    const deploys = 'Deploys happen on Tuesdays';
    const editor = 'Favourite editor is Helix';
    for (const [text, tags, importance] of [
      [dark, 'ui, preferences', '0.9'],
      [deploys, 'work', ''],
      [editor, '', ''],
    ]) {
      await add.getByLabel('New memory').fill(text);
      await add.getByLabel('Tags', { exact: true }).fill(tags);
      await add.getByLabel('Importance', { exact: true }).fill(importance);
      await add.getByRole('button', { name: 'Add memory' }).click();
      await page.getByTestId('memory').filter({ hasText: text }).waitFor();
      expect(await add.getByLabel('New memory').inputValue()).toBe('');
    }
    await listShows(page, [dark, deploys, editor]);
    let server = await serverMemories();
    expect(server.total).toBe(3);
    const darkJson = server.data.find((m) => m.text === dark)!;
    expect(darkJson).toMatchObject({ source: 'person', tags: ['ui', 'preferences'] });
    expect(darkJson.importance).toBeCloseTo(0.9, 5);
    expect(server.data.find((m) => m.text === deploys)!.importance).toBeCloseTo(0.5, 5);
    const darkRow = page.locator(`[data-testid="memory"][data-memory-id="${darkJson.id}"]`);
    await expect(darkRow.getByTestId('memory-importance').textContent()).resolves.toBe('importance 0.9');
    expect(await darkRow.getByTestId('memory-tag').allTextContents()).toEqual(['#ui', '#preferences']);

    // Search (debounced): ranked results with a score hint.
    await page.getByLabel('Search memories').fill('dark mode');
    await listShows(page, [dark]);
    await page.getByRole('heading', { name: /Search results/ }).waitFor();
    await expect(darkRow.getByTestId('memory-score').textContent()).resolves.toBe('best match');

    // Edit inline: text, tags, importance.
    const edited = 'Prefers dark mode in every app and terminal';
    await darkRow.getByRole('button', { name: `Edit: ${dark}` }).click();
    await darkRow.getByLabel('Text', { exact: true }).fill(edited);
    await darkRow.getByLabel('Tags', { exact: true }).fill('ui, terminal');
    await darkRow.getByLabel('Importance', { exact: true }).fill('0.7');
    await darkRow.getByRole('button', { name: 'Save', exact: true }).click();
    await darkRow.getByTestId('memory-text').filter({ hasText: edited }).waitFor();
    server = await serverMemories();
    const darkEdited = server.data.find((m) => m.id === darkJson.id)!;
    expect(darkEdited).toMatchObject({ text: edited, tags: ['ui', 'terminal'] });
    expect(darkEdited.importance).toBeCloseTo(0.7, 5);

    // Back to the whole list; select two and delete them (after confirming).
    await page.getByLabel('Search memories').fill('');
    await listShows(page, [edited, deploys, editor]);
    for (const text of [deploys, editor]) {
      await page.getByTestId('memory').filter({ hasText: text }).getByTestId('memory-select').check();
    }
    await page.getByTestId('memory-delete-selected').filter({ hasText: 'Delete selected (2)' }).click();
    const confirm = page.getByTestId('memory-delete-selected-confirm');
    await confirm.getByText('Delete 2 memories?').waitFor();
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await listShows(page, [edited]);
    await page.getByTestId('memory-bulk-message').filter({ hasText: 'Deleted 2 memories.' }).waitFor();
    server = await serverMemories();
    expect(server.data.map((m) => m.text)).toEqual([edited]);

    // A memory added elsewhere (the agent, another window) shows up live.
    const elsewhere = 'Lunch is at noon';
    await apiJson('POST', '/api/memories', { text: elsewhere, tags: ['routine'] });
    await listShows(page, [edited, elsewhere]);

    // Export as JSON lines and as Markdown: downloads of the server's files.
    const files = page.getByTestId('memory-files');
    const [jsonl] = await Promise.all([page.waitForEvent('download'), files.getByRole('button', { name: 'Export JSONL' }).click()]);
    expect(jsonl.suggestedFilename()).toMatch(/^perch-memories-\d{4}-\d{2}-\d{2}\.jsonl$/);
    const lines = readFileSync((await jsonl.path())!, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as MemoryJson);
    expect(lines.map((m) => m.text).sort()).toEqual([edited, elsewhere].sort());
    expect(lines.find((m) => m.text === edited)?.tags).toEqual(['ui', 'terminal']);
    const [md] = await Promise.all([page.waitForEvent('download'), files.getByRole('button', { name: 'Export Markdown' }).click()]);
    expect(md.suggestedFilename()).toMatch(/\.md$/);
    const markdown = readFileSync((await md.path())!, 'utf8');
    expect(markdown).toContain('# Perch memories');
    expect(markdown).toContain(`- ${edited}`);
    expect(markdown).toMatch(/tags: ui, terminal/);
    expect(await files.getByTestId('export-link').textContent()).toMatch(/Download perch-memories-.*\.md/);

    // Import JSON lines (a line without text is skipped) and a Markdown list.
    const jsonlFile = path.join(suite.perch.root, 'import.jsonl');
    writeFileSync(
      jsonlFile,
      [
        JSON.stringify({ text: 'Cat is called Miso', tags: ['home'], importance: 0.6 }),
        JSON.stringify({ tags: ['no text'] }),
        JSON.stringify({ id: 999, text: 'Allergic to peanuts', importance: 1 }),
      ].join('\n') + '\n',
    );
    await files.getByLabel('Import a file').setInputFiles(jsonlFile);
    await files.getByTestId('import-result').filter({ hasText: 'Imported 2, skipped 1.' }).waitFor();
    // The server says which line it skipped, and why.
    expect(await files.getByTestId('import-errors').textContent()).toContain('line 2');
    await listShows(page, [edited, elsewhere, 'Cat is called Miso', 'Allergic to peanuts']);

    const mdFile = path.join(suite.perch.root, 'notes.md');
    writeFileSync(mdFile, '- Water the plants on Sundays\n- Prefers window seats\n');
    await files.getByLabel('Import a file').setInputFiles(mdFile);
    await files.getByTestId('import-result').filter({ hasText: 'Imported 2, skipped 0.' }).waitFor();
    await page.getByTestId('memory').filter({ hasText: 'Water the plants on Sundays' }).waitFor();
    await page.getByTestId('memory').filter({ hasText: 'Prefers window seats' }).waitFor();
    server = await serverMemories();
    expect(server.total).toBe(6);
    expect(server.data.find((m) => m.text === 'Cat is called Miso')?.tags).toEqual(['home']);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'memory.png') });
  });

  it('turns auto-archiving of completed turns on and off', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/memory');
    const toggle = page.getByRole('checkbox', { name: 'Auto-archive completed turns' });
    await toggle.waitFor();
    const setting = async () => (await apiJson<{ memory: { autoArchive: boolean } }>('GET', '/api/settings')).memory.autoArchive;
    const before = await setting();
    expect(await toggle.isChecked()).toBe(before);

    await toggle.click();
    await page.getByTestId('auto-archive-message').filter({ hasText: 'Saved.' }).waitFor();
    expect(await setting()).toBe(!before);
    expect(await toggle.isChecked()).toBe(!before);

    // Changed elsewhere (settings.changed): the page follows.
    const res = await suite.perch.api('PATCH', '/api/settings', { memory: { autoArchive: before } });
    expect(res.status).toBe(200);
    await page.waitForFunction(
      (want) => (document.querySelector('[data-testid="toggle-auto-archive"]') as HTMLInputElement | null)?.checked === want,
      before,
      { timeout: WAIT },
    );
  });

  it('manages the context for each turn and the embeddings endpoint in Memory settings', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/memory');
    const box = page.getByTestId('memory-settings');
    await box.getByRole('heading', { name: 'Memory settings' }).waitFor();
    const memory = async () =>
      (
        await apiJson<{
          memory: { context: boolean; contextTokens: number; autoArchive: boolean; embeddingsUrl: string | null; embeddingsModel: string | null };
        }>('GET', '/api/settings')
      ).memory;
    const message = box.getByTestId('memory-settings-message');
    const mode = page.getByTestId('memory-search-mode');
    await mode.filter({ hasText: /^Full text$/ }).waitFor();

    // Context for each turn: off, then on again.
    const context = box.getByRole('checkbox', { name: 'Add relevant memories and open plan items to each new turn' });
    expect(await context.getAttribute('data-testid')).toBe('memory-context-toggle');
    expect(await context.isChecked()).toBe((await memory()).context);
    if (!(await context.isChecked())) {
      await context.click();
      await message.filter({ hasText: 'Saved' }).waitFor();
      await eventually('context on', async () => ((await memory()).context ? true : undefined));
    }
    await context.click();
    await message.filter({ hasText: 'Saved: turns get no added context.' }).waitFor();
    expect((await memory()).context).toBe(false);
    expect(await context.isChecked()).toBe(false);
    await context.click();
    await message.filter({ hasText: 'Saved: relevant memories and open plan items go into each new turn.' }).waitFor();
    expect((await memory()).context).toBe(true);
    expect(await context.isChecked()).toBe(true);

    // The budget is saved when the field is left.
    const tokens = box.getByLabel('Context budget (tokens)');
    expect(await tokens.getAttribute('data-testid')).toBe('memory-context-tokens');
    await tokens.fill('1200');
    await tokens.blur();
    await message.filter({ hasText: 'Saved: up to 1200 tokens of context per turn.' }).waitFor();
    expect((await memory()).contextTokens).toBe(1200);
    // Over the most the server takes: its message, and nothing changes.
    await tokens.fill('40000');
    await tokens.blur();
    await message.filter({ hasText: 'at most 32000' }).waitFor();
    expect(await message.getAttribute('role')).toBe('alert');
    expect((await memory()).contextTokens).toBe(1200);
    await tokens.fill('1200');
    await tokens.blur();

    // Embeddings: both saved together; search ranks by meaning too.
    const url = box.getByLabel('Embeddings API URL');
    const model = box.getByLabel('Embedding model');
    expect(await url.getAttribute('data-testid')).toBe('memory-embeddings-url');
    expect(await model.getAttribute('data-testid')).toBe('memory-embeddings-model');
    await url.fill('http://127.0.0.1:9/v1');
    await model.fill('scripted-embed');
    await box.getByTestId('memory-embeddings-save').click();
    await message.filter({ hasText: 'search ranks by meaning' }).waitFor();
    await mode.filter({ hasText: 'Full text + meaning' }).waitFor();
    expect(await memory()).toMatchObject({
      context: true,
      contextTokens: 1200,
      embeddingsUrl: 'http://127.0.0.1:9/v1',
      embeddingsModel: 'scripted-embed',
    });

    // Not an http(s) URL: the server's message, and nothing changes.
    await url.fill('ftp://x');
    await box.getByTestId('memory-embeddings-save').click();
    await message.filter({ hasText: 'is not an http(s) URL' }).waitFor();
    expect(await message.getAttribute('role')).toBe('alert');
    expect((await memory()).embeddingsUrl).toBe('http://127.0.0.1:9/v1');
    await mode.filter({ hasText: 'Full text + meaning' }).waitFor();

    // Turn off: both cleared; search is full text only.
    await box.getByTestId('memory-embeddings-clear').click();
    await message.filter({ hasText: 'Embeddings off: search is full text only.' }).waitFor();
    await mode.filter({ hasText: /^Full text$/ }).waitFor();
    expect(await memory()).toMatchObject({ embeddingsUrl: null, embeddingsModel: null, contextTokens: 1200 });
    expect(await url.inputValue()).toBe('');
    expect(await model.inputValue()).toBe('');
    expect(await box.getByTestId('memory-embeddings-clear').count()).toBe(0);

    // Changed elsewhere (settings.changed): the page follows.
    const res = await suite.perch.api('PATCH', '/api/settings', {
      memory: { contextTokens: 800, embeddingsUrl: 'http://127.0.0.1:9/v1', embeddingsModel: 'scripted-embed' },
    });
    expect(res.status).toBe(200);
    await mode.filter({ hasText: 'Full text + meaning' }).waitFor();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="memory-context-tokens"]') as HTMLInputElement | null)?.value === '800',
      undefined,
      { timeout: WAIT },
    );
    expect(await url.inputValue()).toBe('http://127.0.0.1:9/v1');
    expect(await model.inputValue()).toBe('scripted-embed');
    const cleared = await suite.perch.api('PATCH', '/api/settings', { memory: { embeddingsUrl: null, embeddingsModel: null } });
    expect(cleared.status).toBe(200);
    await mode.filter({ hasText: /^Full text$/ }).waitFor();
  });
});
