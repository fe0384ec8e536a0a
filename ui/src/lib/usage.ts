// The Codex account's rate limits (`GET /api/account/usage`, live by the
// `account.usage` event): the route, and the words the Settings page and the
// status bar use for them. Pure apart from the route; unit-tested in
// tests/usage.test.ts.

import { request } from './api';
import type { Credits, Usage, UsageWindow } from './generated/protocol';

export type { Credits, Usage, UsageWindow } from './generated/protocol';

/** `GET /api/account/usage`. */
export function fetchUsage(): Promise<Usage> {
  return request<Usage>('GET', '/api/account/usage');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A window's length as a name: 300 → "5-hour", 10080 → "Weekly",
 *  1440 → "1-day", 90 → "90-minute"; `null` when its length is not known. */
export function windowName(minutes: number | null | undefined): string | null {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes) || minutes <= 0) return null;
  if (minutes === 10080) return 'Weekly';
  if (minutes % 1440 === 0) return `${minutes / 1440}-day`;
  if (minutes % 60 === 0) return `${minutes / 60}-hour`;
  return `${Math.round(minutes)}-minute`;
}

/** The label of a window's meter: "5-hour window", "Weekly"; without a
 *  length, what the API calls it ("Short window", "Long window"). */
export function windowLabel(window: Pick<UsageWindow, 'windowMinutes'>, which: 'primary' | 'secondary'): string {
  const name = windowName(window.windowMinutes);
  if (name === 'Weekly') return name;
  if (name) return `${name} window`;
  return which === 'primary' ? 'Short window' : 'Long window';
}

/** 0–100, rounded, as the meters and words show it. */
export function clampPercent(p: number): number {
  if (!Number.isFinite(p)) return 0;
  return Math.min(100, Math.max(0, p));
}

/** "42%", "<1%" for a little above zero, "99%" until it is truly full. */
export function percentWords(p: number): string {
  const v = clampPercent(p);
  if (v > 0 && v < 1) return '<1%';
  if (v > 99 && v < 100) return '99%';
  return `${Math.round(v)}%`;
}

const two = (n: number) => String(n).padStart(2, '0');

/** When a window resets, in the person's local time: "resets at 14:05"
 *  (today), "resets Tue 09:00" (within a week), "resets 3 Mar 09:00"
 *  (later); `null` when it is not known. */
export function resetWords(resetsAt: number | null | undefined, now: number = Date.now()): string | null {
  if (resetsAt === null || resetsAt === undefined || !Number.isFinite(resetsAt)) return null;
  if (resetsAt <= now) return 'resets now';
  const at = new Date(resetsAt);
  const today = new Date(now);
  const time = `${two(at.getHours())}:${two(at.getMinutes())}`;
  const sameDay =
    at.getFullYear() === today.getFullYear() && at.getMonth() === today.getMonth() && at.getDate() === today.getDate();
  if (sameDay) return `resets at ${time}`;
  if (resetsAt - now < 6.5 * 24 * 60 * 60_000) return `resets ${DAYS[at.getDay()]} ${time}`;
  return `resets ${at.getDate()} ${MONTHS[at.getMonth()]} ${time}`;
}

/** A window in one line: "5-hour window: 42% used, resets at 14:05". */
export function windowWords(window: UsageWindow, which: 'primary' | 'secondary', now: number = Date.now()): string {
  const reset = resetWords(window.resetsAt, now);
  return `${windowLabel(window, which)}: ${percentWords(window.usedPercent)} used${reset ? `, ${reset}` : ''}`;
}

/** The windows that have figures, shorter first. */
export function usageWindows(usage: Usage | null | undefined): { which: 'primary' | 'secondary'; window: UsageWindow }[] {
  const out: { which: 'primary' | 'secondary'; window: UsageWindow }[] = [];
  if (usage?.primary) out.push({ which: 'primary', window: usage.primary });
  if (usage?.secondary) out.push({ which: 'secondary', window: usage.secondary });
  return out;
}

/** The highest used percent of the windows, or `null` when there are no figures. */
export function highestPercent(usage: Usage | null | undefined): number | null {
  const windows = usageWindows(usage);
  if (windows.length === 0) return null;
  return Math.max(...windows.map((w) => clampPercent(w.window.usedPercent)));
}

/** A plan's name as a person reads it: "plus" → "Plus". */
export function planWords(planType: string | null | undefined): string | null {
  const p = planType?.trim();
  if (!p) return null;
  return p.charAt(0).toUpperCase() + p.slice(1);
}

/** Bought credits in words, or `null` when the plan has none to show. */
export function creditsWords(credits: Credits | null | undefined): string | null {
  if (!credits) return null;
  if (credits.unlimited) return 'Credits: unlimited';
  if (!credits.hasCredits) return null;
  const balance = credits.balance?.trim();
  return balance ? `Credits: ${balance}` : 'Credits available';
}

/** Tone of the usage: `err` when the limit is reached, `warn` from 80%. */
export function usageTone(usage: Usage | null | undefined): 'ok' | 'warn' | 'err' {
  if (usage?.limitReached) return 'err';
  const high = highestPercent(usage);
  return high !== null && high >= 80 ? 'warn' : 'ok';
}

/** The status bar's title: every figure, one a line. */
export function usageDetail(usage: Usage, now: number = Date.now()): string {
  const lines = usageWindows(usage).map((w) => windowWords(w.window, w.which, now));
  const plan = planWords(usage.planType);
  if (plan) lines.push(`Plan: ${plan}`);
  const credits = creditsWords(usage.credits);
  if (credits) lines.push(credits);
  if (usage.limitReached) lines.push('Limit reached: turns fail until a window resets.');
  lines.push('Open Settings for details.');
  return lines.join('\n');
}
