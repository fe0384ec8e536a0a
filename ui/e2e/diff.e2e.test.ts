// File changes in Debian's Chromium against a real `perch serve`, the
// pinned Codex and the scripted model (the model edits with `apply_patch`,
// which Codex turns into a file change that asks first): the card says the
// changes are proposed and waiting, shows each file once with true counts,
// coloured, unified or split; Approve applies ("Applied"), Deny declines
// ("Declined"), and both outcomes stay after a reload.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, type Perch } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

const patch = (body: string) => `apply_patch <<'EOF'\n*** Begin Patch\n${body}*** End Patch\nEOF\n`;

describe.skipIf(missing !== null)('file changes', () => {
  const suite = setupSuite('diff');
  let perch: Perch;
  beforeAll(() => {
    perch = suite.perch;
  });

  for (const width of [1280, 420]) {
    it(`shows a proposed change, applies one and declines another (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 1000 } });
      await suite.startSession(page);
      const notesFile = `notes-${width}.txt`;
      writeFileSync(path.join(perch.workDir, notesFile), 'one\ntwo\nthree\n');
      const added = `new-${width}.txt`;
      const declined = `declined-${width}.txt`;
      await perch.enqueue([
        {
          functionCalls: [
            {
              name: 'exec_command',
              arguments: { cmd: patch(`*** Update File: ${notesFile}\n@@\n one\n-two\n+TWO-${width}\n three\n*** Add File: ${added}\n+alpha\n+beta\n`) },
              callId: `call_patch_${width}`,
            },
          ],
        },
        { text: 'Edited the notes.' },
        {
          functionCalls: [
            { name: 'exec_command', arguments: { cmd: patch(`*** Add File: ${declined}\n+nope\n`) }, callId: `call_no_${width}` },
          ],
        },
        { text: 'Left it.' },
      ]);
      const composer = page.locator('#composer-input');
      await composer.fill('Edit the notes');
      await composer.press('Enter');

      const card = page.locator('[data-testid="file-change-card"]').first();
      await page.locator('[data-testid="file-change-card"][data-state="proposed"]').first().waitFor();
      expect(await card.getByTestId('file-change-state').innerText()).toBe('Proposed changes, waiting for your approval');
      const notes = card.locator('[data-testid="file-change"]').filter({ hasText: notesFile });
      expect([await notes.getByTestId('added').innerText(), await notes.getByTestId('removed').innerText()]).toEqual(['+1', '−1']);
      const created = card.locator('[data-testid="file-change"]').filter({ hasText: added });
      expect(await created.innerText()).toContain('added');
      expect([await created.getByTestId('added').innerText(), await created.getByTestId('removed').innerText()]).toEqual(['+2', '−0']);
      // The diff is shown once: not again, monochrome, in the approval.
      expect(await page.getByTestId('approval-detail').count()).toBe(0);
      await card.getByRole('button', { name: 'Split' }).click();
      await notes.getByTestId('diff-split').waitFor();
      expect(await notes.locator('td.code.del').first().innerText()).toBe('two');
      expect(await notes.locator('td.code.add').first().innerText()).toBe(`TWO-${width}`);
      await page.screenshot({ path: path.join(RESULTS_DIR, `diff-proposed-${width}.png`) });
      await card.getByRole('button', { name: 'Unified' }).click();
      await notes.getByTestId('diff-unified').waitFor();

      await page.getByRole('button', { name: 'Approve', exact: true }).first().click();
      await page.locator('[data-testid="file-change-card"][data-state="completed"]').first().waitFor();
      expect(await card.getByTestId('file-change-state').innerText()).toBe('Applied');
      await page.getByTestId('agent-message').filter({ hasText: 'Edited the notes.' }).waitFor();
      expect(readFileSync(path.join(perch.workDir, notesFile), 'utf8')).toBe(`one\nTWO-${width}\nthree\n`);

      await composer.fill('Add another file');
      await composer.press('Enter');
      const second = page.locator('[data-testid="file-change-card"]').nth(1);
      await page.locator('[data-testid="file-change-card"][data-state="proposed"]').waitFor();
      await page.getByRole('button', { name: 'Deny', exact: true }).first().click();
      await page.getByTestId('agent-message').filter({ hasText: 'Left it.' }).waitFor();
      await second.locator('[data-testid="file-change-state"]').filter({ hasText: 'Declined' }).waitFor();
      expect(existsSync(path.join(perch.workDir, declined))).toBe(false);

      await page.reload();
      await page.getByTestId('agent-message').filter({ hasText: 'Left it.' }).waitFor();
      const states = await page.getByTestId('file-change-state').allInnerTexts();
      expect(states).toEqual(['Applied', 'Declined: not applied']);
      await page.screenshot({ path: path.join(RESULTS_DIR, `diff-after-reload-${width}.png`) });
    });
  }
});
