import { describe, expect, it } from 'vitest';
import { dismiss, visibleWarnings } from '../src/lib/warnings';
import { addWarning, emptyData } from '../src/lib/reducer';

describe('visibleWarnings', () => {
  it('shows each message once: standing first, then events newest first', () => {
    const shown = visibleWarnings(
      ['Secrets are in a file', 'Secrets are in a file'],
      [
        { sessionId: null, message: 'peer delivery failed', at: 10 },
        { sessionId: 's1', message: 'Secrets are in a file', at: 11 },
        { sessionId: 's2', message: 'peer delivery failed', at: 12 },
        { sessionId: null, message: 'codex restarted', at: 13 },
      ],
      {},
    );
    expect(shown.map((w) => [w.message, w.at])).toEqual([
      ['Secrets are in a file', null],
      ['codex restarted', 13],
      ['peer delivery failed', 12],
    ]);
    expect(shown[2].sessionId).toBe('s2');
  });

  it('leaves dismissed ones out; an event that happens again after the dismissal comes back', () => {
    const events = [{ sessionId: null, message: 'peer delivery failed', at: 10 }];
    const dismissed = dismiss({}, ['Secrets are in a file', 'peer delivery failed'], 20);
    expect(visibleWarnings(['Secrets are in a file'], events, dismissed)).toEqual([]);
    const again = [...events, { sessionId: null, message: 'peer delivery failed', at: 30 }];
    expect(visibleWarnings(['Secrets are in a file'], again, dismissed).map((w) => w.at)).toEqual([30]);
  });

  it('remembers a bounded number of dismissals, the newest', () => {
    let d = {};
    for (let i = 0; i < 5; i++) d = dismiss(d, [`w${i}`], i, 3);
    expect(Object.keys(d).sort()).toEqual(['w2', 'w3', 'w4']);
  });
});

describe('addWarning', () => {
  it('does not keep the same message twice', () => {
    const d = emptyData();
    addWarning(d, { sessionId: null, message: 'a', at: 1 });
    addWarning(d, { sessionId: null, message: 'b', at: 2 });
    addWarning(d, { sessionId: null, message: 'a', at: 3 });
    expect(d.warnings).toEqual([
      { sessionId: null, message: 'b', at: 2 },
      { sessionId: null, message: 'a', at: 3 },
    ]);
  });
});
