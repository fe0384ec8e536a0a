// The Planner page against a real `perch serve` (`/api/plans*`, SSE
// `plan.changed`). The test changes plans through the API the way the agent
// does through its tools, and the open page must follow without a reload.
// See suite.ts for the setup.

import { describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { RESULTS_DIR } from './harness';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

interface PlanItemJson {
  id: number;
  text: string;
  done: boolean;
  position: number;
}

interface PlanJson {
  id: number;
  name: string;
  items: PlanItemJson[];
}

describe.skipIf(missing !== null)('Planner', () => {
  const suite = setupSuite('planner');

  const { apiJson } = suite;

  const byPosition = (p: PlanJson) => p.items.slice().sort((a, b) => a.position - b.position);

  /** The item texts of a plan panel, top to bottom. */
  async function shownItems(plan: Locator): Promise<string[]> {
    return plan.getByTestId('plan-item-text').allTextContents();
  }

  async function waitForItems(page: Page, planId: number, texts: string[]) {
    await page.waitForFunction(
      ({ id, want }) => {
        const shown = [...document.querySelectorAll(`[data-testid="plan"][data-plan-id="${id}"] [data-testid="plan-item-text"]`)].map(
          (e) => e.textContent ?? '',
        );
        return JSON.stringify(shown) === JSON.stringify(want);
      },
      { id: planId, want: texts },
      { timeout: WAIT },
    );
  }

  it('creates a plan, adds, checks, edits, moves and deletes items, and follows the agent’s changes live', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/planner');
    await page.getByRole('heading', { name: 'Planner', level: 1 }).waitFor();
    expect(await page.title()).toBe('Perch — Planner');
    await page.getByTestId('no-plans').waitFor();

    // Create a plan by name.
    await page.getByLabel('Plan name').fill('Release 1.2');
    await page.getByRole('button', { name: 'Create plan' }).click();
    const plan = page.getByTestId('plan').filter({ has: page.getByRole('heading', { name: 'Release 1.2' }) });
    await plan.waitFor();
    const planId = Number(await plan.getAttribute('data-plan-id'));
    expect(planId).toBeGreaterThan(0);

    // A second plan with the same name is refused, readably.
    await page.getByLabel('Plan name').fill('Release 1.2');
    await page.getByRole('button', { name: 'Create plan' }).click();
    await page.getByTestId('plan-create-error').filter({ hasText: 'exists already' }).waitFor();

    // Add items.
    const items = ['Write the changelog', 'Tag the release', 'Announce it'];
    for (const text of items) {
      await plan.getByLabel('New item for Release 1.2').fill(text);
      await plan.getByRole('button', { name: 'Add item' }).click();
      await plan.getByTestId('plan-item').filter({ hasText: text }).waitFor();
    }
    expect(await shownItems(plan)).toEqual(items);
    let server = await apiJson<PlanJson>('GET', `/api/plans/${planId}`);
    expect(byPosition(server).map((i) => i.text)).toEqual(items);

    // Check one.
    await plan.getByRole('checkbox', { name: 'Done: Write the changelog', exact: true }).check();
    await plan.locator('[data-testid="plan-item"][data-done="true"]').filter({ hasText: 'Write the changelog' }).waitFor();
    await plan.getByTestId('plan-progress').filter({ hasText: '1/3 done' }).waitFor();
    server = await apiJson<PlanJson>('GET', `/api/plans/${planId}`);
    expect(server.items.find((i) => i.text === 'Write the changelog')?.done).toBe(true);

    // Move the last item up.
    await plan.getByRole('button', { name: 'Move up: Announce it', exact: true }).click();
    await waitForItems(page, planId, ['Write the changelog', 'Announce it', 'Tag the release']);
    server = await apiJson<PlanJson>('GET', `/api/plans/${planId}`);
    expect(byPosition(server).map((i) => i.text)).toEqual(['Write the changelog', 'Announce it', 'Tag the release']);

    // Edit an item's text inline.
    await plan.getByRole('button', { name: 'Edit: Tag the release', exact: true }).click();
    await plan.getByLabel('Item text').fill('Tag v1.2');
    await plan.getByRole('button', { name: 'Save', exact: true }).click();
    await waitForItems(page, planId, ['Write the changelog', 'Announce it', 'Tag v1.2']);

    // The agent (here: the API) checks an item and adds one: the page follows live.
    server = await apiJson<PlanJson>('GET', `/api/plans/${planId}`);
    const tag = server.items.find((i) => i.text === 'Tag v1.2')!;
    await apiJson('PATCH', `/api/plans/${planId}/items/${tag.id}`, { done: true });
    await plan.locator(`[data-testid="plan-item"][data-item-id="${tag.id}"][data-done="true"]`).waitFor();
    expect(await plan.getByRole('checkbox', { name: 'Done: Tag v1.2', exact: true }).isChecked()).toBe(true);
    await apiJson('POST', `/api/plans/${planId}/items`, { text: 'Update the website' });
    await waitForItems(page, planId, ['Write the changelog', 'Announce it', 'Tag v1.2', 'Update the website']);
    await plan.getByTestId('plan-progress').filter({ hasText: '2/4 done' }).waitFor();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'planner.png') });

    // Delete one item, then clear the checked ones.
    await plan.getByRole('button', { name: 'Delete item: Announce it', exact: true }).click();
    await waitForItems(page, planId, ['Write the changelog', 'Tag v1.2', 'Update the website']);
    await plan.getByRole('button', { name: 'Clear done items of Release 1.2' }).click();
    await waitForItems(page, planId, ['Update the website']);
    server = await apiJson<PlanJson>('GET', `/api/plans/${planId}`);
    expect(server.items.map((i) => [i.text, i.done])).toEqual([['Update the website', false]]);

    // A plan the agent creates appears; one it deletes goes.
    const agentPlan = await apiJson<PlanJson>('POST', '/api/plans', { name: 'Agent’s plan', items: ['Look around'] });
    const agentPanel = page.locator(`[data-testid="plan"][data-plan-id="${agentPlan.id}"]`);
    await agentPanel.getByTestId('plan-item').filter({ hasText: 'Look around' }).waitFor();
    const del = await suite.perch.api('DELETE', `/api/plans/${agentPlan.id}`);
    expect(del.status).toBe(204);
    await agentPanel.waitFor({ state: 'detached' });

    // Delete the plan (after confirming).
    await plan.getByRole('button', { name: 'Delete plan Release 1.2' }).click();
    await plan.getByTestId('plan-delete-confirm').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator(`[data-testid="plan"][data-plan-id="${planId}"]`).waitFor({ state: 'detached' });
    const left = await apiJson<{ data: PlanJson[] }>('GET', '/api/plans');
    expect(left.data.some((p) => p.id === planId)).toBe(false);
  });
});
