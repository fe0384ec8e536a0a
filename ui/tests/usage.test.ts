import { describe, expect, it } from 'vitest';
import {
  creditsWords,
  highestPercent,
  percentWords,
  planWords,
  resetWords,
  usageDetail,
  usageTone,
  usageWindows,
  windowLabel,
  windowName,
  windowWords,
  type Usage,
} from '../src/lib/usage';

// Local times (the words are in the person's time zone): Tuesday 7 January 2025.
const NOW = new Date(2025, 0, 7, 9, 30).getTime();
const at = (day: number, h: number, m: number) => new Date(2025, 0, day, h, m).getTime();

const usage = (over: Partial<Usage> = {}): Usage => ({
  primary: { usedPercent: 42, windowMinutes: 300, resetsAt: at(7, 14, 5) },
  secondary: { usedPercent: 10, windowMinutes: 10080, resetsAt: at(14, 9, 0) },
  planType: 'plus',
  credits: null,
  limitReached: false,
  unavailable: null,
  updatedAt: NOW,
  ...over,
});

describe('usage windows', () => {
  it('names a window by its length', () => {
    expect(windowName(300)).toBe('5-hour');
    expect(windowName(10080)).toBe('Weekly');
    expect(windowName(60)).toBe('1-hour');
    expect(windowName(1440)).toBe('1-day');
    expect(windowName(2880)).toBe('2-day');
    expect(windowName(90)).toBe('90-minute');
    expect(windowName(null)).toBeNull();
    expect(windowName(0)).toBeNull();
  });

  it('labels the meters', () => {
    expect(windowLabel({ windowMinutes: 300 }, 'primary')).toBe('5-hour window');
    expect(windowLabel({ windowMinutes: 10080 }, 'secondary')).toBe('Weekly');
    expect(windowLabel({ windowMinutes: null }, 'primary')).toBe('Short window');
    expect(windowLabel({ windowMinutes: null }, 'secondary')).toBe('Long window');
  });

  it('keeps the windows that have figures, shorter first', () => {
    expect(usageWindows(usage()).map((w) => w.which)).toEqual(['primary', 'secondary']);
    expect(usageWindows(usage({ primary: null })).map((w) => w.which)).toEqual(['secondary']);
    expect(usageWindows(null)).toEqual([]);
  });
});

describe('usage percent', () => {
  it('rounds and bounds it', () => {
    expect(percentWords(42)).toBe('42%');
    expect(percentWords(41.6)).toBe('42%');
    expect(percentWords(0)).toBe('0%');
    expect(percentWords(0.3)).toBe('<1%');
    expect(percentWords(99.7)).toBe('99%');
    expect(percentWords(100)).toBe('100%');
    expect(percentWords(130)).toBe('100%');
    expect(percentWords(-5)).toBe('0%');
    expect(percentWords(Number.NaN)).toBe('0%');
  });

  it('finds the highest, or none without figures', () => {
    expect(highestPercent(usage())).toBe(42);
    expect(highestPercent(usage({ secondary: { usedPercent: 91, windowMinutes: 10080, resetsAt: null } }))).toBe(91);
    expect(highestPercent(usage({ primary: null, secondary: null, unavailable: 'An API key has no plan limits.' }))).toBeNull();
    expect(highestPercent(null)).toBeNull();
  });

  it('has a tone', () => {
    expect(usageTone(usage())).toBe('ok');
    expect(usageTone(usage({ primary: { usedPercent: 85, windowMinutes: 300, resetsAt: null } }))).toBe('warn');
    expect(usageTone(usage({ limitReached: true }))).toBe('err');
  });
});

describe('usage resets', () => {
  it('says when a window resets, in local time', () => {
    expect(resetWords(at(7, 14, 5), NOW)).toBe('resets at 14:05');
    expect(resetWords(at(8, 0, 0), NOW)).toBe('resets Wed 00:00');
    expect(resetWords(at(13, 9, 0), NOW)).toBe('resets Mon 09:00');
    // A week or more ahead: the date, so that "Tue" is not read as today.
    expect(resetWords(at(14, 9, 0), NOW)).toBe('resets 14 Jan 09:00');
    expect(resetWords(NOW - 1000, NOW)).toBe('resets now');
    expect(resetWords(null, NOW)).toBeNull();
  });

  it('puts a window in one line', () => {
    expect(windowWords(usage().primary!, 'primary', NOW)).toBe('5-hour window: 42% used, resets at 14:05');
    expect(windowWords({ usedPercent: 10, windowMinutes: 10080, resetsAt: at(11, 9, 0) }, 'secondary', NOW)).toBe(
      'Weekly: 10% used, resets Sat 09:00',
    );
    expect(windowWords({ usedPercent: 10, windowMinutes: 10080, resetsAt: null }, 'secondary', NOW)).toBe('Weekly: 10% used');
  });
});

describe('usage plan and credits', () => {
  it('names the plan and the credits', () => {
    expect(planWords('plus')).toBe('Plus');
    expect(planWords(' ')).toBeNull();
    expect(planWords(null)).toBeNull();
    expect(creditsWords(null)).toBeNull();
    expect(creditsWords({ hasCredits: false, unlimited: false, balance: null })).toBeNull();
    expect(creditsWords({ hasCredits: true, unlimited: false, balance: '12.50' })).toBe('Credits: 12.50');
    expect(creditsWords({ hasCredits: true, unlimited: false, balance: null })).toBe('Credits available');
    expect(creditsWords({ hasCredits: false, unlimited: true, balance: null })).toBe('Credits: unlimited');
  });

  it('details every figure for the status bar', () => {
    const text = usageDetail(usage({ limitReached: true, credits: { hasCredits: true, unlimited: false, balance: '3' } }), NOW);
    expect(text.split('\n')).toEqual([
      '5-hour window: 42% used, resets at 14:05',
      'Weekly: 10% used, resets 14 Jan 09:00',
      'Plan: Plus',
      'Credits: 3',
      'Limit reached: turns fail until a window resets.',
      'Open Settings for details.',
    ]);
  });
});
