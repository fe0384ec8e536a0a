// The review pane in Debian's Chromium against a real `perch serve`, the
// pinned Codex and the scripted model, in a session whose folder is a git
// repository: the model edits a committed file in two places and adds a
// file (apply_patch, approved); "Review changes" counts them, and its pane
// compares with the commit, lists both files with their status and counts,
// puts one hunk back (on disk too), deletes the added file ("Revert file",
// after asking), and opens a file in the configured editor (a script that
// writes down its arguments). Escape closes the pane and focus goes back.
// At 420 px the pane covers the window without scrolling sideways.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RESULTS_DIR, waitFor, type Perch } from './harness';
import { overflowProblems } from './layout';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

const patch = (body: string) => `apply_patch <<'EOF'\n*** Begin Patch\n${body}*** End Patch\nEOF\n`;
const LINES = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
const ORIGINAL = LINES.join('\n') + '\n';

describe.skipIf(missing !== null)('Review changes', () => {
  // The "editor": a script that writes down what it was asked to open.
  const editorDir = mkdtempSync(path.join(os.tmpdir(), 'perch-review-editor-'));
  const editor = path.join(editorDir, 'editor.sh');
  const opened = path.join(editorDir, 'opened.txt');
  writeFileSync(editor, `#!/bin/sh\nprintf '%s\\n' "$@" >> ${JSON.stringify(opened)}\n`);
  chmodSync(editor, 0o755);

  const suite = setupSuite('review', {
    config: `[review]\neditor = [${JSON.stringify(editor)}, "{path}", "{line}"]`,
  });
  let perch: Perch;
  let repo = '';
  let head = '';
  let sessionId = '';

  beforeAll(async () => {
    perch = suite.perch;
    repo = path.join(perch.root, 'src', 'notes-repo');
    mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'perch@example.com');
    git('config', 'user.name', 'Perch');
    writeFileSync(path.join(repo, 'notes.txt'), ORIGINAL);
    git('add', 'notes.txt');
    git('commit', '-q', '-m', 'Twenty lines of notes');
    head = git('rev-parse', 'HEAD').trim();

    const res = await perch.api('POST', '/api/sessions', { cwd: repo, name: 'Notes' });
    if (!res.ok) throw new Error(`POST /api/sessions: ${res.status} ${await res.text()}`);
    sessionId = ((await res.json()) as { id: string }).id;
  });

  afterAll(() => rmSync(editorDir, { recursive: true, force: true }));

  async function openSession(page: Page) {
    await suite.signIn(page, `#/chat/${encodeURIComponent(sessionId)}`);
    await page.locator('#composer-input').waitFor();
  }

  it('lists what the session changed, reverts a hunk and a file, and opens a file in the editor', async () => {
    const page = await suite.newPage({ viewport: { width: 1280, height: 900 } });
    await openSession(page);

    await perch.enqueue([
      {
        functionCalls: [
          {
            name: 'exec_command',
            arguments: {
              cmd: patch(
                '*** Update File: notes.txt\n@@\n line 1\n-line 2\n+line two\n line 3\n@@\n line 17\n-line 18\n+line eighteen\n line 19\n' +
                  '*** Add File: new.txt\n+alpha\n+beta\n',
              ),
            },
            callId: 'call_review_patch',
          },
        ],
      },
      { text: 'Edited the notes.' },
    ]);
    const composer = page.locator('#composer-input');
    await composer.fill('Edit the notes');
    await composer.press('Enter');
    await page.locator('[data-testid="file-change-card"][data-state="proposed"]').first().waitFor();
    await page.getByRole('button', { name: 'Approve', exact: true }).first().click();
    await page.getByTestId('agent-message').filter({ hasText: 'Edited the notes.' }).waitFor();
    expect(readFileSync(path.join(repo, 'notes.txt'), 'utf8')).toContain('line eighteen');

    // The header counts the changed files once the turn is over.
    const toggle = page.getByTestId('review-toggle');
    await page.getByTestId('review-count').filter({ hasText: /^2$/ }).waitFor();
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.getByRole('button', { name: 'Review changes (2 changed files)' }).count()).toBe(1);

    // The pane opens with the focus in it.
    await toggle.click();
    const pane = page.getByTestId('review-pane');
    await pane.waitFor();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('review-title');
    const base = pane.getByTestId('review-base');
    await base.waitFor();
    expect(await base.innerText()).toBe(`Compared with commit ${head.slice(0, 7)} — Twenty lines of notes`);

    const notes = pane.locator('[data-testid="review-file"][data-path="notes.txt"]');
    const added = pane.locator('[data-testid="review-file"][data-path="new.txt"]');
    await notes.waitFor();
    await added.waitFor();
    expect(await pane.getByTestId('review-file').count()).toBe(2);
    const counts = async (file: typeof notes) => [
      await file.getByTestId('review-status').innerText(),
      await file.getByTestId('review-added').innerText(),
      await file.getByTestId('review-removed').innerText(),
    ];
    expect(await counts(notes)).toEqual(['modified', '+2', '−2']);
    expect(await counts(added)).toEqual(['added', '+2', '−0']);
    // The diff, by the chat's own diff view, with a button at each hunk.
    // (Unified: each line after its mark.)
    expect(await notes.locator('td.code.del').allInnerTexts()).toEqual(['−line 2', '−line 18']);
    expect(await notes.locator('td.code.add').allInnerTexts()).toEqual(['+line two', '+line eighteen']);
    expect(await notes.getByTestId('revert-hunk').count()).toBe(2);
    // An added file goes back whole only.
    expect(await added.getByTestId('revert-hunk').count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'review-pane-1280.png') });

    // Put the second hunk back: the file on disk has line 18 again, the
    // first change stays.
    await notes.getByRole('button', { name: /^Revert hunk 2 of 2/ }).click();
    await notes.getByTestId('review-note').filter({ hasText: 'Hunk 2 reverted.' }).waitFor();
    expect(await counts(notes)).toEqual(['modified', '+1', '−1']);
    expect(await notes.getByTestId('revert-hunk').count()).toBe(1);
    const onDisk = readFileSync(path.join(repo, 'notes.txt'), 'utf8');
    expect(onDisk).toBe(ORIGINAL.replace('line 2\n', 'line two\n'));

    // "Revert file" asks first; the added file is then gone from disk.
    await added.getByRole('button', { name: 'Revert file new.txt' }).click();
    const confirm = added.getByTestId('review-revert-file-confirm');
    await confirm.waitFor();
    expect(await confirm.innerText()).toContain('Delete new.txt?');
    await confirm.getByRole('button', { name: 'Revert', exact: true }).click();
    await waitFor(
      'the added file to leave the list or show unchanged',
      async () => ((await added.count()) === 0 || (await added.getAttribute('data-status')) === 'unchanged' ? true : undefined),
      [],
      WAIT,
    );
    expect(existsSync(path.join(repo, 'new.txt'))).toBe(false);
    await page.getByTestId('review-count').filter({ hasText: /^1$/ }).waitFor();
    // The focus stayed in the pane.
    expect(await pane.evaluate((el) => el.contains(document.activeElement))).toBe(true);

    // "Open in editor": the configured command gets the absolute path and the line.
    await notes.getByRole('button', { name: 'Open in editor' }).click();
    await notes.getByTestId('review-note').filter({ hasText: 'Opened in your editor' }).waitFor();
    const args = await waitFor(
      'the editor script to run',
      async () => (existsSync(opened) && readFileSync(opened, 'utf8').trim() ? readFileSync(opened, 'utf8').trim().split('\n') : undefined),
      [],
      WAIT,
    );
    expect(args).toEqual([path.join(repo, 'notes.txt'), '2']);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('review-open');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'review-after-revert-1280.png') });

    // Escape closes the pane; the focus goes back to its button.
    await page.keyboard.press('Escape');
    await pane.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('review-toggle');
  });

  it('covers a narrow window with the pane, without scrolling sideways (420 px)', async () => {
    const page = await suite.newPage({ viewport: { width: 420, height: 800 } });
    await openSession(page);
    await page.getByTestId('review-count').waitFor();
    await page.getByTestId('review-toggle').click();
    const pane = page.getByTestId('review-pane');
    await pane.getByTestId('review-file').first().waitFor();
    const box = await pane.boundingBox();
    expect(box && [Math.round(box.x), Math.round(box.width)]).toEqual([0, 420]);
    expect(await overflowProblems(page, 'the review pane at 420 px')).toEqual([]);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'review-pane-420.png') });
    await page.keyboard.press('Escape');
    await pane.waitFor({ state: 'detached' });
  });
});
