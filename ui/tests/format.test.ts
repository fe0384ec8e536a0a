import { describe, expect, it } from 'vitest';
import { codexTone, contextPercent, durationWords, formatTime, fullTime, relativeTime, relativeWhen, shortDate, shortDateTime, shortDateTimeSeconds } from '../src/lib/format';

describe('times and durations', () => {
  it('writes short local date-times, with the year only when it differs', () => {
    const now = new Date(2026, 0, 1).getTime();
    expect(shortDateTime(new Date(2026, 10, 22, 10, 0).getTime(), now)).toBe('22 Nov 10:00');
    expect(shortDateTime(new Date(2025, 11, 31, 23, 59).getTime(), now)).toBe('31 Dec 2025 23:59');
    expect(shortDateTimeSeconds(new Date(2026, 10, 22, 10, 0, 5).getTime(), now)).toBe('22 Nov 10:00:05');
    expect(shortDate(new Date(2025, 11, 31, 23, 59).getTime(), now)).toBe('31 Dec 2025');
  });

  it('writes the whole time with its zone, not in the locale’s way', () => {
    expect(fullTime(new Date(2025, 10, 22, 10, 0, 5).getTime(), 'Europe/Paris')).toBe('Sat 22 Nov 2025 10:00:05 (Europe/Paris)');
  });

  it('has one format a page picks a style of', () => {
    const now = new Date(2026, 5, 1, 12, 0).getTime();
    expect(formatTime(now - 5 * 60_000, 'relative', now)).toBe('5 min ago');
    expect(formatTime(now + 2 * 3_600_000, 'relative', now)).toBe('in 2 h');
    expect(formatTime(now - 10_000, 'relative', now)).toBe('just now');
    expect(formatTime(new Date(2026, 4, 3, 9, 7).getTime(), 'short', now)).toBe('3 May 09:07');
    expect(formatTime(new Date(2026, 4, 3, 9, 7, 2).getTime(), 'seconds', now)).toBe('3 May 09:07:02');
    // Long ago: the date, as everywhere else (not the locale's).
    expect(relativeTime(new Date(2025, 1, 3).getTime(), now)).toBe('3 Feb 2025');
  });

  it('puts durations in words', () => {
    expect(durationWords(250)).toBe('250 ms');
    expect(durationWords(90_000)).toBe('1 min 30 s');
    expect(durationWords(900_000)).toBe('15 min');
    expect(durationWords(3_600_000)).toBe('1 h');
    expect(durationWords(93_784_000)).toBe('1 d 2 h');
  });

  it('says how far a time is, both ways', () => {
    const now = 1_000_000_000;
    expect(relativeWhen(now + 300, now)).toBe('now');
    expect(relativeWhen(now + 12_000, now)).toBe('in 12 s');
    expect(relativeWhen(now + 5 * 60_000, now)).toBe('in 5 min');
    expect(relativeWhen(now + 59_700, now)).toBe('in 1 min');
    expect(relativeWhen(now + 125 * 60_000, now)).toBe('in 2 h 5 min');
    expect(relativeWhen(now + 11 * 3_600_000, now)).toBe('in 11 h');
    expect(relativeWhen(now + 3 * 86_400_000, now)).toBe('in 3 d');
    expect(relativeWhen(now - 3 * 60_000, now)).toBe('3 min ago');
  });
});

describe('contextPercent', () => {
  it('says how full the context is, or nothing without a window', () => {
    const u = { totalTokens: 900, inputTokens: 800, outputTokens: 100, lastTurnTokens: 0, contextWindow: 1000 };
    expect(contextPercent(u)).toBe(90);
    expect(contextPercent({ ...u, lastTurnTokens: 250 })).toBe(25);
    expect(contextPercent({ ...u, lastTurnTokens: 5000 })).toBe(100);
    expect(contextPercent({ ...u, contextWindow: null })).toBeNull();
  });
});

describe('codexTone', () => {
  it('counts asleep as well: Codex was stopped on purpose and starts when needed', () => {
    expect(codexTone('ready')).toBe('ok');
    expect(codexTone('asleep')).toBe('ok');
    expect(codexTone('starting')).toBe('warn');
    expect(codexTone('restarting')).toBe('warn');
    expect(codexTone('failed')).toBe('err');
    expect(codexTone('stopped')).toBe('err');
  });
});
