// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

let stop: (() => void) | null = null;

// The router keeps module state (its listener), so each test loads it afresh.
async function freshRouter() {
  vi.resetModules();
  const mod = await import('../src/lib/router.svelte');
  stop = mod.stopRouter;
  return mod;
}

/** What the desktop app does: set the hash from outside. */
function outsideNavigation(hash: string) {
  history.pushState(null, '', location.pathname + location.search + hash);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

function goTo(url: string) {
  history.replaceState(null, '', url);
}

describe('router', () => {
  beforeEach(() => {
    goTo('/');
  });
  afterEach(() => {
    stop?.();
    stop = null;
  });

  it('follows the hash, also when it is changed from outside', async () => {
    goTo('/#/settings');
    const { router, startRouter } = await freshRouter();
    expect(startRouter(() => {})).toBeNull();
    expect(router.route).toEqual({ page: 'settings' });

    const visit = router.visit;
    outsideNavigation('#/approvals/ap-1');
    expect(router.route).toEqual({ page: 'dashboard', approvals: true, approvalId: 'ap-1' });
    expect(router.visit).toBeGreaterThan(visit);
  });

  it('consumes a login fragment with next: the code leaves the address, next is shown', async () => {
    goTo('/?x=1#login=abc123&next=%2Fdashboard');
    const entries = history.length;
    const replace = vi.spyOn(history, 'replaceState');
    const { router, startRouter } = await freshRouter();
    expect(startRouter(() => {})).toBe('abc123');
    expect(location.hash).toBe('#/dashboard');
    expect(location.search).toBe('?x=1');
    expect(location.href).not.toContain('abc123');
    expect(router.route).toEqual({ page: 'dashboard', approvals: false, approvalId: null });
    // Replaced, not pushed: the code is not in the history either.
    expect(replace).toHaveBeenCalled();
    expect(history.length).toBe(entries);
    replace.mockRestore();
  });

  it('goes to the chat after a login code without next', async () => {
    goTo('/#login=abc');
    const { router, startRouter } = await freshRouter();
    expect(startRouter(() => {})).toBe('abc');
    expect(location.hash).toBe('#/chat');
    expect(router.route).toEqual({ page: 'chat', sessionId: null });
  });

  it('hands a login code that arrives later to the handler', async () => {
    const { router, startRouter } = await freshRouter();
    const onCode = vi.fn();
    startRouter(onCode);
    outsideNavigation('#login=later&next=%2Fapprovals%2Fap-2');
    expect(onCode).toHaveBeenCalledWith('later');
    expect(location.hash).toBe('#/approvals/ap-2');
    expect(router.route).toEqual({ page: 'dashboard', approvals: true, approvalId: 'ap-2' });
  });

  it('replaces an unknown route with the chat', async () => {
    goTo('/#/nowhere');
    const { router, startRouter } = await freshRouter();
    startRouter(() => {});
    expect(location.hash).toBe('#/chat');
    expect(router.route).toEqual({ page: 'chat', sessionId: null });
  });

  it('moves the old ?session=ID address to #/chat/ID', async () => {
    goTo('/?session=s1&x=2');
    const { router, startRouter } = await freshRouter();
    startRouter(() => {});
    expect(location.search).toBe('?x=2');
    expect(location.hash).toBe('#/chat/s1');
    expect(router.route).toEqual({ page: 'chat', sessionId: 's1' });
  });

  it('navigate(replace) updates the address and route without a hashchange', async () => {
    const { router, navigate, startRouter } = await freshRouter();
    startRouter(() => {});
    navigate({ page: 'chat', sessionId: 'a b' }, { replace: true });
    expect(location.hash).toBe('#/chat/a%20b');
    expect(router.route).toEqual({ page: 'chat', sessionId: 'a b' });
  });
});
