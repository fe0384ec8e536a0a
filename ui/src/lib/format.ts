import type { TokenUsage } from './types';

/** 12345 -> "12.3k", 258000 -> "258k", 1500000 -> "1.5M". */
export function compactNumber(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const abs = Math.abs(n);
  const fmt = (v: number, unit: string) => {
    const s = v >= 100 ? Math.round(v).toString() : v.toFixed(1).replace(/\.0$/, '');
    return s + unit;
  };
  if (abs >= 1e6) return fmt(n / 1e6, 'M');
  if (abs >= 1e3) return fmt(n / 1e3, 'k');
  return String(Math.round(n));
}

/** "12.3k / 258k tokens": context in use (last turn) against the window. */
export function tokenSummary(u: TokenUsage): string {
  const used = u.lastTurnTokens > 0 ? u.lastTurnTokens : u.totalTokens;
  return u.contextWindow ? `${compactNumber(used)} / ${compactNumber(u.contextWindow)} tokens` : `${compactNumber(used)} tokens`;
}

/** How full the context window is, 0–100, or null when Codex did not say
 *  how large it is. */
export function contextPercent(u: TokenUsage): number | null {
  if (!u.contextWindow) return null;
  const used = u.lastTurnTokens > 0 ? u.lastTurnTokens : u.totalTokens;
  return Math.min(100, Math.round((used / u.contextWindow) * 100));
}

/** From this much on, the status bar suggests compacting. */
export const COMPACT_HINT_PERCENT = 80;

export function tokenDetail(u: TokenUsage): string {
  return [
    `Last turn: ${u.lastTurnTokens.toLocaleString()} tokens`,
    `Total: ${u.totalTokens.toLocaleString()} (input ${u.inputTokens.toLocaleString()}, output ${u.outputTokens.toLocaleString()})`,
    u.contextWindow ? `Context window: ${u.contextWindow.toLocaleString()}` : null,
  ]
    .filter(Boolean)
    .join('\n');
}

export function relativeTime(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d} d ago`;
  return shortDate(ms, now);
}

export function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

export function pretty(v: unknown): string {
  if (v == null) return '';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

/** An error's message for a person. */
export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What an approval asks, in a few words. */
export function approvalKindLabel(kind: string): string {
  return kind === 'command' ? 'Run command?' : kind === 'fileChange' ? 'Apply file changes?' : 'Tool request';
}

const OUTCOMES: Record<string, string> = {
  accept: 'Approved',
  acceptForSession: 'Approved for this session',
  decline: 'Denied',
  cancel: 'Turn cancelled',
  expired: 'Expired',
};

/** The outcome of an answered approval, for a person. */
export function approvalOutcome(status: string): string {
  return OUTCOMES[status] ?? status;
}

/** Badge tone for an approval's outcome. */
export function approvalTone(status: string): 'ok' | 'err' | 'warn' | '' {
  if (status === 'pending') return 'warn';
  if (status === 'accept' || status === 'acceptForSession') return 'ok';
  return status === 'expired' ? '' : 'err';
}

/** The name a session shows under. */
export function sessionTitle(s: { name: string | null; preview: string } | undefined): string {
  return s?.name?.trim() || s?.preview?.trim() || 'New session';
}

// Dates and times: every page writes them with the helpers below (through
// components/Time.svelte where a date is shown), one format everywhere: "22 Nov
// 10:00" in the machine's time zone, the year only when it is not this one's,
// and the full time with its zone in the tooltip. Not the locale's format:
// it would differ between the browser, the desktop window and the CLI.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** "22 Nov", or "22 Nov 2025" when the year is not `now`'s. */
export function shortDate(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const year = d.getFullYear() !== new Date(now).getFullYear() ? ` ${d.getFullYear()}` : '';
  return `${d.getDate()} ${MONTHS[d.getMonth()]}${year}`;
}

/** "22 Nov 10:00" in local time; the year is added when it is not `now`'s. */
export function shortDateTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  return `${shortDate(ms, now)} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** "22 Nov 10:00:05": with seconds, for logs. */
export function shortDateTimeSeconds(ms: number, now = Date.now()): string {
  return `${shortDateTime(ms, now)}:${pad2(new Date(ms).getSeconds())}`;
}

/** A duration in words: 900000 -> "15 min", 5400000 -> "1 h 30 min", 90000 -> "1 min 30 s". */
export function durationWords(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  let rest = Math.round(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(`${n} ${name}`);
      rest -= n * size;
    }
  }
  // Two units say enough ("1 d 2 h", not "1 d 2 h 3 min 4 s").
  return parts.slice(0, 2).join(' ');
}

/** How far a time is from now, both ways: "in 5 min", "in 12 s", "3 min ago", "now". */
export function relativeWhen(ms: number, now = Date.now()): string {
  const diff = ms - now;
  if (Math.abs(diff) < 1000) return 'now';
  const words = (d: number) => {
    const s = Math.round(d / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.round(d / 60_000);
    if (m < 60) return `${m} min`;
    if (d < 86_400_000) {
      const h = Math.floor(m / 60);
      const rest = m - h * 60;
      return rest > 0 && h < 10 ? `${h} h ${rest} min` : `${Math.round(m / 60)} h`;
    }
    return `${Math.round(d / 86_400_000)} d`;
  };
  return diff > 0 ? `in ${words(diff)}` : `${words(-diff)} ago`;
}

/** An ISO timestamp for `<time datetime>`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The machine's IANA time zone ("Europe/Paris"), the zone every time is shown in. */
export function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The whole time, with its zone (a tooltip): "Sat 22 Nov 2025 10:00:05 (Europe/Paris)". */
export function fullTime(ms: number, zone = localTimeZone()): string {
  const d = new Date(ms);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${WEEKDAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${time} (${zone})`;
}

/** How a `<Time>` writes its time: `relative` ("5 min ago", "in 2 h"),
 *  `short` ("22 Nov 10:00") or `seconds` ("22 Nov 10:00:05"). */
export type TimeStyle = 'relative' | 'short' | 'seconds';

/** A time in the one format of the pages (see above). */
export function formatTime(ms: number, style: TimeStyle, now = Date.now()): string {
  switch (style) {
    case 'relative':
      // Past: "just now", "5 min ago"; ahead: "in 2 h".
      return ms <= now ? relativeTime(ms, now) : relativeWhen(ms, now);
    case 'seconds':
      return shortDateTimeSeconds(ms, now);
    default:
      return shortDateTime(ms, now);
  }
}

/** The colour of Codex's state: ready and asleep are well (asleep: stopped
 *  on purpose while idle, started again when needed). */
export function codexTone(state: string): 'ok' | 'warn' | 'err' {
  if (state === 'ready' || state === 'asleep') return 'ok';
  return state === 'failed' || state === 'stopped' ? 'err' : 'warn';
}
