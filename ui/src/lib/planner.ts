// Plans in the UI: items in order, progress, and how the page's list
// follows `plan.changed`. Pure functions, unit-tested in tests/planner.test.ts.

import type { Plan, PlanItem } from './types';

/** Items by position (then id). */
export function sortedItems(plan: Plan): PlanItem[] {
  return plan.items.slice().sort((a, b) => a.position - b.position || a.id - b.id);
}

export function planProgress(plan: Plan): { done: number; total: number } {
  return { done: plan.items.filter((i) => i.done).length, total: plan.items.length };
}

/**
 * A plan replaced in the list, where it is (the page does not jump while
 * the person works), or added on top.
 */
export function upsertPlan(list: Plan[], plan: Plan): Plan[] {
  const i = list.findIndex((p) => p.id === plan.id);
  if (i === -1) return [plan, ...list];
  const out = list.slice();
  out[i] = plan;
  return out;
}

/** `plan.changed`: the plan replaced or added, or removed (null). */
export function applyPlanChange(list: Plan[], planId: number, plan: Plan | null): Plan[] {
  return plan ? upsertPlan(list, plan) : list.filter((p) => p.id !== planId);
}

/** A plan by name: exact (any case), else the only one starting with it, else the only one containing it. */
export function findPlan(plans: Plan[], name: string): Plan | undefined {
  const q = name.trim().toLowerCase();
  if (!q) return undefined;
  const exact = plans.find((p) => p.name.toLowerCase() === q);
  if (exact) return exact;
  const prefix = plans.filter((p) => p.name.toLowerCase().startsWith(q));
  if (prefix.length === 1) return prefix[0];
  const inner = plans.filter((p) => p.name.toLowerCase().includes(q));
  return inner.length === 1 ? inner[0] : undefined;
}
