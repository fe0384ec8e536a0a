// Approvals in Debian's Chromium against a real `perch serve`, the pinned
// Codex and the scripted model: "Deny and tell Codex why" sends the reason
// to the model; y answers a focused approval; outcomes stay after a reload.

import { beforeAll, describe, expect, it } from 'vitest';
import { type Perch } from './harness';
import { setupSuite, skipReason } from './suite';

const missing = skipReason();

describe.skipIf(missing !== null)('approvals', () => {
  const suite = setupSuite('approvals');
  let perch: Perch;
  beforeAll(() => {
    perch = suite.perch;
  });

  it('denies with a reason the model reads, answers y on a focused approval, and keeps outcomes after a reload', async () => {
    const page = await suite.newPage();
    await suite.startSession(page);
    await perch.enqueue([
      { functionCalls: [{ name: 'exec_command', arguments: { cmd: 'rm -rf build' }, callId: 'call_rm' }] },
      { text: 'Understood, I will keep the build folder.' },
      { functionCalls: [{ name: 'exec_command', arguments: { cmd: 'touch kept.txt' }, callId: 'call_touch' }] },
      { text: 'Made kept.txt.' },
    ]);
    const composer = page.locator('#composer-input');
    await composer.fill('Clean up');
    await composer.press('Enter');

    const first = page.locator('[data-testid="approval"][data-status="pending"]').first();
    await first.waitFor();
    expect(await first.getByTestId('approval-dangers').innerText()).toContain('rm');
    await first.getByRole('button', { name: 'Deny and tell Codex why…' }).click();
    const why = first.getByTestId('deny-reason');
    await why.getByRole('textbox').fill('The build folder holds the release artefacts.');
    await why.getByRole('button', { name: 'Deny and send' }).click();
    await page.getByTestId('agent-message').filter({ hasText: 'Understood, I will keep the build folder.' }).waitFor();
    const reqs = await perch.requests();
    const told = reqs.some((r) => JSON.stringify(r.body).includes('The build folder holds the release artefacts.'));
    expect(told, 'the reason reached the model').toBe(true);

    // The next approval, answered from the keyboard.
    await composer.fill('Now make kept.txt');
    await composer.press('Enter');
    const second = page.locator('[data-testid="approval"][data-status="pending"]').first();
    await second.waitFor();
    await second.focus();
    await page.keyboard.press('y');
    await page.getByTestId('agent-message').filter({ hasText: 'Made kept.txt.' }).waitFor();

    await page.reload();
    await page.getByTestId('agent-message').filter({ hasText: 'Made kept.txt.' }).waitFor();
    const outcomes = await page.getByTestId('approval-outcome').allInnerTexts();
    expect(outcomes.length).toBe(2);
    expect(outcomes[0]).toMatch(/Denied|Declined/);
    expect(outcomes[1]).toMatch(/Approved|Accepted/);
  });
});
