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
  return new Date(ms).toLocaleDateString();
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
