// The context meter in Debian's Chromium against a real `perch serve`, the
// pinned Codex and the scripted model (Codex is told the model's context
// window, which the scripted model has no metadata for; each answer says how
// large its input was): the status bar shows how full the context is, and
// near the limit offers to compact, which Codex then does with the model.

import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { RESULTS_DIR, waitFor, type Perch } from './harness';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('context meter', () => {
  const suite = setupSuite('context', { codexConfig: 'model_context_window = 100000' });
  let perch: Perch;
  beforeAll(() => {
    perch = suite.perch;
  });

  for (const width of [1280, 420]) {
    it(`shows how full the context is and offers to compact near the limit (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      await suite.startSession(page);
      const composer = page.locator('#composer-input');
      const percent = page.getByTestId('context-percent');
      // Codex counts 95 % of the configured window as usable (95 000
      // tokens); an answer adds 5 output tokens to its input.

      await perch.enqueue([{ text: 'A short answer.', inputTokens: 28_495 }]);
      await composer.fill('First question');
      await composer.press('Enter');
      await page.getByTestId('agent-message').filter({ hasText: 'A short answer.' }).waitFor();
      await percent.filter({ hasText: /^30% of context$/ }).waitFor();
      expect(await page.getByTestId('compact-hint').count()).toBe(0);

      await perch.enqueue([{ text: 'A long answer.', inputTokens: 80_745 }]);
      await composer.fill('Second question');
      await composer.press('Enter');
      await page.getByTestId('agent-message').filter({ hasText: 'A long answer.' }).waitFor();
      await percent.filter({ hasText: /^85% of context$/ }).waitFor();
      expect(await page.locator('meter[aria-label="Context used"]').getAttribute('value')).toBe('85');
      const hint = page.getByTestId('compact-hint');
      await hint.waitFor();
      expect(await hint.innerText()).toBe('Near the limit: compact');
      await page.screenshot({ path: path.join(RESULTS_DIR, `context-${width}.png`) });

      // Compacting: Codex asks the model for a summary of the conversation.
      const before = (await perch.requests()).length;
      await perch.enqueue([{ text: 'Summary: two questions were asked.' }]);
      await hint.click();
      const request = await waitFor(
        'the compaction request to reach the model',
        async () => (await perch.requests()).slice(before).find((r) => JSON.stringify(r.body).includes('Second question')),
        [],
        WAIT,
      );
      expect(JSON.stringify(request.body)).toContain('A long answer.');
    });
  }
});
