import { describe, expect, it } from 'vitest';
import { approvalNotice, pendingApprovals, titleWithCount } from '../src/lib/attention.svelte';
import type { Approval } from '../src/lib/types';

function approval(id: string, over: Partial<Approval> = {}): Approval {
  return {
    id,
    sessionId: 's',
    turnId: null,
    itemId: null,
    kind: 'command',
    title: 'rm -rf build',
    detail: null,
    status: 'pending',
    createdAt: 1,
    answeredAt: null,
    answeredBy: null,
    dangers: [],
    ...over,
  };
}

describe('attention', () => {
  it('puts the pending count in front of the title', () => {
    expect(titleWithCount('Perch — Chat', 2)).toBe('(2) Perch — Chat');
    expect(titleWithCount('Perch — Chat', 0)).toBe('Perch — Chat');
  });

  it('counts only pending approvals, oldest first', () => {
    const list = pendingApprovals({
      a: approval('a', { createdAt: 3 }),
      b: approval('b', { status: 'accept' }),
      c: approval('c', { createdAt: 2 }),
    });
    expect(list.map((a) => a.id)).toEqual(['c', 'a']);
  });

  it('says what an approval asks, what is destructive first', () => {
    expect(approvalNotice(approval('a'))).toEqual({ title: 'Perch — Run command?', body: 'rm -rf build' });
    expect(approvalNotice(approval('a', { dangers: ['deletes files recursively (rm -r)'] })).body).toBe(
      'Careful: deletes files recursively (rm -r)\nrm -rf build',
    );
  });
});
