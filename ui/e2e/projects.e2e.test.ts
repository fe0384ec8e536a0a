// Projects in Debian's Chromium against a real `perch serve`, the pinned
// Codex and the scripted model: a folder is added by path (a wrong one is
// refused in words), its group shows the git branch and uncommitted files,
// a session started in it runs there (the command card says the folder),
// and the folder is remembered for the next new session.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, type Perch } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('projects', () => {
  const suite = setupSuite('projects');
  let perch: Perch;
  let repo = '';
  beforeAll(() => {
    perch = suite.perch;
    repo = path.join(perch.root, 'src', 'parser');
    mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=Perch', '-c', 'user.email=perch@example.com', ...args]);
    git('init', '-q', '-b', 'main');
    writeFileSync(path.join(repo, 'README'), 'parser\n');
    git('add', 'README');
    git('commit', '-q', '-m', 'first');
    writeFileSync(path.join(repo, 'README'), 'parser, changed\n');
  });

  async function openSessions(page: Page, width: number) {
    await suite.signIn(page);
    // At 420 px the session list folds away behind a button.
    if (width < 720) await page.getByTestId('sessions-toggle').first().click();
    await page.getByRole('button', { name: 'Add project…' }).waitFor();
  }

  for (const width of [1280, 420]) {
    it(`adds a project, shows its git state and runs a session in it (${width} px)`, async () => {
      const page = await suite.newPage({ viewport: { width, height: 800 } });
      await openSessions(page, width);

      await page.getByRole('button', { name: 'Add project…' }).click();
      const form = page.getByTestId('add-project');
      await form.getByLabel('Project folder').fill(path.join(perch.root, 'no-such-folder'));
      await form.getByRole('button', { name: 'Add' }).click();
      await form.getByRole('alert').filter({ hasText: 'no such folder' }).waitFor();
      await form.getByLabel('Project folder').fill(repo);
      await form.getByRole('button', { name: 'Add' }).click();
      const group = page.locator(`[data-testid="session-group"][data-path="${repo}"]`);
      await group.waitFor();
      expect(await group.getByTestId('project-git').innerText()).toBe('main · 1 uncommitted file');

      const before = page.url();
      await group.getByRole('button', { name: 'New session in parser' }).click();
      await page.waitForURL((u) => u.toString() !== before && /^#\/chat\/.+/.test(u.hash));
      const sessionId = decodeURIComponent(new URL(page.url()).hash.replace('#/chat/', ''));
      const session = await (await perch.api('GET', `/api/sessions/${sessionId}`)).json();
      expect(session.cwd).toBe(repo);

      await perch.enqueue([
        { functionCalls: [{ name: 'exec_command', arguments: { cmd: 'pwd' }, callId: `call_pwd_${width}` }] },
        { text: 'That is the folder.' },
      ]);
      const composer = page.locator('#composer-input');
      await composer.fill('Where are you?');
      await composer.press('Enter');
      const approve = page.getByRole('button', { name: /^(Approve|Accept)/ }).first();
      await approve.waitFor();
      await approve.click();
      await page.getByTestId('agent-message').filter({ hasText: 'That is the folder.' }).waitFor();
      const card = page.getByTestId('command-card').first();
      expect(await card.getByTestId('command-cwd').innerText()).toBe(`in ${repo}`);
      expect(await card.getByTestId('command-output').innerText()).toContain(repo);
      await page.screenshot({ path: path.join(RESULTS_DIR, `projects-${width}.png`) });

      // The next new session starts in the folder chosen last.
      const next = await perch.api('GET', '/api/sessions');
      const count = (await next.json()).data.length;
      await page.keyboard.press('Control+n');
      await page.waitForFunction(async (n) => {
        const res = await fetch('/api/sessions', { headers: { 'X-Perch-Request': '1' } });
        return (await res.json()).data.length > n;
      }, count);
      const newest = (await (await perch.api('GET', '/api/sessions')).json()).data.sort(
        (a: { createdAt: number }, b: { createdAt: number }) => b.createdAt - a.createdAt,
      )[0];
      expect(newest.cwd).toBe(repo);

      // Removing the project keeps its sessions (they group by folder).
      await perch.api('DELETE', `/api/projects/${(await (await perch.api('GET', '/api/projects')).json()).data[0].id}`);
    });
  }
});
