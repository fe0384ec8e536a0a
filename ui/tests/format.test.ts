import { describe, expect, it } from 'vitest';
import { durationWords, relativeWhen, shortDateTime, shortDateTimeSeconds } from '../src/lib/format';

describe('times and durations', () => {
  it('writes short local date-times, with the year only when it differs', () => {
    const now = new Date(2026, 0, 1).getTime();
    expect(shortDateTime(new Date(2026, 10, 22, 10, 0).getTime(), now)).toBe('22 Nov 10:00');
    expect(shortDateTime(new Date(2025, 11, 31, 23, 59).getTime(), now)).toBe('31 Dec 2025 23:59');
    expect(shortDateTimeSeconds(new Date(2026, 10, 22, 10, 0, 5).getTime(), now)).toBe('22 Nov 10:00:05');
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
