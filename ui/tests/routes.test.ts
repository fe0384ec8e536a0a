import { describe, expect, it } from 'vitest';
import { legacySessionRoute, PAGE_TITLES, parseLoginFragment, parseRoute, routeHash, routePath, sameRoute } from '../src/lib/routes';

describe('parseRoute', () => {
  it('maps the empty hash, #/ and #/chat to the chat', () => {
    for (const h of ['', '#', '#/', '#/chat', '#/chat/', '/chat']) {
      expect(parseRoute(h), h).toEqual({ page: 'chat', sessionId: null });
    }
  });

  it('reads a session id, decoding it', () => {
    expect(parseRoute('#/chat/019a-b')).toEqual({ page: 'chat', sessionId: '019a-b' });
    expect(parseRoute('#/chat/a%2Fb%20c')).toEqual({ page: 'chat', sessionId: 'a/b c' });
  });

  it('knows the dashboard, approvals and settings', () => {
    expect(parseRoute('#/dashboard')).toEqual({ page: 'dashboard', approvals: false, approvalId: null });
    expect(parseRoute('#/approvals')).toEqual({ page: 'dashboard', approvals: true, approvalId: null });
    expect(parseRoute('#/approvals/ap-1')).toEqual({ page: 'dashboard', approvals: true, approvalId: 'ap-1' });
    expect(parseRoute('#/settings')).toEqual({ page: 'settings' });
  });

  it('knows the inbox, its threads and the peers page', () => {
    expect(parseRoute('#/inbox')).toEqual({ page: 'inbox', threadId: null });
    expect(parseRoute('#/inbox/')).toEqual({ page: 'inbox', threadId: null });
    expect(parseRoute('#/inbox/42')).toEqual({ page: 'inbox', threadId: 42 });
    expect(parseRoute('/inbox/7')).toEqual({ page: 'inbox', threadId: 7 });
    expect(parseRoute('#/peers')).toEqual({ page: 'peers' });
  });

  it('knows the memory, planner, wakeups and changes pages', () => {
    expect(parseRoute('#/memory')).toEqual({ page: 'memory', memoryId: null });
    expect(parseRoute('#/planner/')).toEqual({ page: 'planner', planId: null });
    expect(parseRoute('/wakeups')).toEqual({ page: 'wakeups' });
    expect(parseRoute('#/changes')).toEqual({ page: 'changes' });
    // A search result opens one memory or one plan.
    expect(parseRoute('#/memory/12')).toEqual({ page: 'memory', memoryId: 12 });
    expect(parseRoute('#/planner/3')).toEqual({ page: 'planner', planId: 3 });
    expect(routeHash({ page: 'planner', planId: 3 })).toBe('#/planner/3');
    expect(routeHash({ page: 'memory' })).toBe('#/memory');
    for (const h of ['#/memory/0', '#/memory/x', '#/planner/x', '#/planner/1/2', '#/wakeups/3', '#/changes/4', '#/memories', '#/plans', '#/wakeup', '#/change']) {
      expect(parseRoute(h), h).toBeNull();
    }
  });

  it('wants a thread id that is a positive integer', () => {
    for (const h of ['#/inbox/0', '#/inbox/-1', '#/inbox/01', '#/inbox/1.5', '#/inbox/abc', '#/inbox/1e3', '#/inbox/%20', '#/inbox/99999999999999999', '#/inbox/1/2', '#/peers/x']) {
      expect(parseRoute(h), h).toBeNull();
    }
  });

  it('names the pages in the title', () => {
    expect(PAGE_TITLES.inbox).toBe('Perch — Inbox');
    expect(PAGE_TITLES.peers).toBe('Perch — Peers');
    expect(PAGE_TITLES.memory).toBe('Perch — Memory');
    expect(PAGE_TITLES.planner).toBe('Perch — Planner');
    expect(PAGE_TITLES.wakeups).toBe('Perch — Wakeups');
    expect(PAGE_TITLES.changes).toBe('Perch — Changes');
  });

  it('refuses unknown routes, extra segments, bad escapes and login fragments', () => {
    for (const h of ['#/nope', '#/settings/x', '#/dashboard/x', '#/chat/a/b', '#/chat/%E0%A4%A', '#login=abc', '#chat']) {
      expect(parseRoute(h), h).toBeNull();
    }
  });

  it('round-trips through routePath and routeHash', () => {
    for (const h of ['#/chat', '#/chat/a%2Fb', '#/dashboard', '#/approvals', '#/approvals/x%20y', '#/settings', '#/inbox', '#/inbox/12', '#/peers', '#/memory', '#/planner', '#/wakeups', '#/changes']) {
      const r = parseRoute(h)!;
      expect(routeHash(r)).toBe(h);
      expect(parseRoute(routePath(r))).toEqual(r);
    }
    expect(sameRoute({ page: 'chat', sessionId: null }, parseRoute('#/')!)).toBe(true);
    expect(sameRoute({ page: 'chat', sessionId: 'a' }, { page: 'chat', sessionId: 'b' })).toBe(false);
  });
});

describe('parseLoginFragment', () => {
  it('reads the code and defaults next to the chat', () => {
    expect(parseLoginFragment('#login=abc123')).toEqual({ code: 'abc123', next: { page: 'chat', sessionId: null } });
    expect(parseLoginFragment('#login=a%2Bb')?.code).toBe('a+b');
  });

  it('reads an url-encoded next route', () => {
    expect(parseLoginFragment('#login=abc&next=%2Fdashboard')?.next).toEqual({
      page: 'dashboard',
      approvals: false,
      approvalId: null,
    });
    expect(parseLoginFragment('#login=abc&next=%2Fapprovals%2Fap-7')?.next).toEqual({
      page: 'dashboard',
      approvals: true,
      approvalId: 'ap-7',
    });
    expect(parseLoginFragment('#login=abc&next=/settings')?.next).toEqual({ page: 'settings' });
    expect(parseLoginFragment('#login=abc&next=%2Finbox%2F9')?.next).toEqual({ page: 'inbox', threadId: 9 });
    expect(parseLoginFragment('#login=abc&next=%2Fwakeups')?.next).toEqual({ page: 'wakeups' });
    // Forgiving about the leading slash or hash.
    expect(parseLoginFragment('#login=abc&next=settings')?.next).toEqual({ page: 'settings' });
    expect(parseLoginFragment('#login=abc&next=%23%2Fchat%2Fs1')?.next).toEqual({ page: 'chat', sessionId: 's1' });
  });

  it('ignores an unknown next and keeps the code', () => {
    for (const next of ['%2Fnope', '%2F%2Fevil.example', 'https%3A%2F%2Fevil.example%2F', '%E0%A4%A']) {
      expect(parseLoginFragment(`#login=abc&next=${next}`), next).toEqual({
        code: 'abc',
        next: { page: 'chat', sessionId: null },
      });
    }
  });

  it('is null for anything that is not a login fragment', () => {
    for (const h of ['', '#/chat', '#login=', '#login=%20', '#next=%2Fdashboard&login=abc', '#xlogin=abc']) {
      expect(parseLoginFragment(h), h).toBeNull();
    }
  });
});

describe('legacySessionRoute', () => {
  it('turns ?session=ID into a chat route', () => {
    expect(legacySessionRoute('?session=s1&x=1')).toEqual({ page: 'chat', sessionId: 's1' });
    expect(legacySessionRoute('?x=1')).toBeNull();
    expect(legacySessionRoute('')).toBeNull();
  });
});
