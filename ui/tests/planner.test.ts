import { describe, expect, it } from 'vitest';
import { applyPlanChange, findPlan, planProgress, sortedItems, upsertPlan } from '../src/lib/planner';
import type { Plan, PlanItem } from '../src/lib/types';

const item = (id: number, position: number, done = false): PlanItem => ({ id, text: `i${id}`, done, position, updatedAt: 1, doneAt: done ? 1 : null });
const plan = (id: number, name: string, items: PlanItem[] = []): Plan => ({ id, name, items, createdAt: 1, updatedAt: 1 });

describe('planner', () => {
  it('orders items by position and counts progress', () => {
    const p = plan(1, 'a', [item(1, 2, true), item(2, 0), item(3, 1, true)]);
    expect(sortedItems(p).map((i) => i.id)).toEqual([2, 3, 1]);
    expect(planProgress(p)).toEqual({ done: 2, total: 3 });
    expect(p.items.map((i) => i.id)).toEqual([1, 2, 3]); // not sorted in place
  });

  it('replaces a plan where it is, adds a new one on top, removes a deleted one', () => {
    let list = [plan(1, 'a'), plan(2, 'b')];
    list = upsertPlan(list, plan(2, 'b2'));
    expect(list.map((p) => p.name)).toEqual(['a', 'b2']);
    list = applyPlanChange(list, 3, plan(3, 'c'));
    expect(list.map((p) => p.id)).toEqual([3, 1, 2]);
    list = applyPlanChange(list, 1, null);
    expect(list.map((p) => p.id)).toEqual([3, 2]);
  });

  it('finds a plan by name: exact, else a unique prefix or substring', () => {
    const list = [plan(1, 'Release 1.2'), plan(2, 'Release notes'), plan(3, 'Groceries')];
    expect(findPlan(list, 'groceries')?.id).toBe(3);
    expect(findPlan(list, 'gro')?.id).toBe(3);
    expect(findPlan(list, 'notes')?.id).toBe(2);
    expect(findPlan(list, 'release')).toBeUndefined();
    expect(findPlan(list, 'release 1.2')?.id).toBe(1);
    expect(findPlan(list, ' ')).toBeUndefined();
  });
});
