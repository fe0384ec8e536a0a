// The dashboard against a real `perch serve`: work started elsewhere (here:
// the API, as the CLI or another tab would) shows up live, and the
// dashboard's buttons act on it. See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('Dashboard', () => {
  const suite = setupSuite('dashboard');

  const { apiJson } = suite;

  async function startTurn(text: string): Promise<string> {
    const session = await apiJson<{ id: string }>('POST', '/api/sessions', {});
    await apiJson('POST', `/api/sessions/${encodeURIComponent(session.id)}/messages`, { text });
    return session.id;
  }

  it('shows an approval as it arrives, highlights it from #/approvals/<id>, and Approve resolves it', async () => {
    const { perch } = suite;
    const page = await suite.newPage();
    await suite.signIn(page, '#/dashboard');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Dashboard');
    await page.locator('[data-testid="codex-health"][data-state="ready"]').waitFor();
    await page.getByTestId('no-approvals').waitFor();

    await perch.enqueue([
      { functionCalls: [{ name: 'exec_command', arguments: { cmd: 'touch dashboard.txt' }, callId: 'call_d1' }] },
      { text: 'Created dashboard.txt.' },
    ]);
    const sessionId = await startTurn('Please create dashboard.txt');

    // Live, without a reload: the running turn, then its approval.
    await page.locator(`[data-testid="running-turn"][data-session-id="${sessionId}"]`).waitFor();
    const card = page.locator('[data-testid="dashboard-approval"][data-status="pending"]');
    await card.waitFor();
    await expect(card.textContent()).resolves.toContain('touch dashboard.txt');
    expect(await card.getByTestId('approval-session-link').getAttribute('href')).toBe(`#/chat/${sessionId}`);
    await page.getByTestId('pending-count').filter({ hasText: '1' }).waitFor();
    await page.getByTestId('nav-pending').waitFor();
    const approvalId = await card.getAttribute('data-approval-id');
    expect(approvalId).toBeTruthy();

    // The desktop app opens a notification's approval by setting the hash.
    await page.evaluate((id) => {
      location.hash = `#/approvals/${id}`;
    }, approvalId);
    await page.locator(`[data-testid="dashboard-approval"][data-approval-id="${approvalId}"].highlight`).waitFor();
    await page.waitForFunction((id) => document.activeElement?.getAttribute('data-approval-id') === id, approvalId);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard.png') });

    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    // The highlighted approval stays, with its outcome.
    await page.locator(`[data-testid="dashboard-approval"][data-approval-id="${approvalId}"][data-status="accept"]`).waitFor();
    expect(await page.getByTestId('pending-count').count()).toBe(0);
    const pending = await apiJson<{ data: { id: string }[] }>('GET', '/api/approvals?status=pending');
    expect(pending.data.map((a) => a.id)).not.toContain(approvalId);

    // The turn finishes: it leaves the running list.
    await page.getByTestId('no-running').waitFor();
    expect(existsSync(path.join(perch.workDir, 'dashboard.txt'))).toBe(true);

    // On a plain #/dashboard the answered approval is gone from the list.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('no-approvals').waitFor();
  });

  it('interrupts a running turn and links to its session', async () => {
    const { perch } = suite;
    const page = await suite.newPage();
    await suite.signIn(page, '#/dashboard');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();

    await perch.enqueue({ hang: true });
    const sessionId = await startTurn('This will hang on the dashboard');
    const row = page.locator(`[data-testid="running-turn"][data-session-id="${sessionId}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: /^Interrupt/ }).click();
    await row.waitFor({ state: 'detached' });

    const history = await apiJson<{ data: { status: string }[] }>(
      'GET',
      `/api/sessions/${encodeURIComponent(sessionId)}/history`,
    );
    expect(history.data.at(-1)?.status).toBe('interrupted');

    // Recent sessions link to the chat.
    await page.locator(`[data-testid="recent-session"][data-session-id="${sessionId}"] a`).click();
    await page.waitForURL((u) => u.hash === `#/chat/${sessionId}`);
    await page.locator('[data-testid="turn"][data-status="interrupted"]').waitFor();
    expect(await page.title()).toBe('Perch — Chat');
  });
});
