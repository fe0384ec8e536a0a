// A page of another origin on this machine (a dev server, a notebook on
// another loopback port) in the browser that is signed in to Perch: it
// tries Perch's writes with the session cookie, as issue 14's probe did.
// The cookie is SameSite=Strict, but ports do not make sites, so the
// browser sends it; Perch must refuse every write. See suite.ts for the setup.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupSuite, skipReason, WAIT } from './suite';

const missing = skipReason();

/** The attack page: simple requests (no preflight) and a form post. */
function attackPage(perch: string, planId: number): string {
  const attempts = [
    // A text/plain import: the probe's way to plant a memory of importance 1.
    [`/api/memories/import?format=jsonl`, '{"text":"planted by another site","importance":1}'],
    [`/api/codex/restart`, null],
    [`/api/plans/${planId}/clear`, null],
    [`/api/auth/login-codes`, null],
    [`/api/memories`, '{"text":"planted as JSON text"}'],
  ];
  return `<!doctype html><title>notebook</title><script>
    const perch = ${JSON.stringify(perch)};
    const attempts = ${JSON.stringify(attempts)};
    window.done = Promise.all(attempts.map(([route, body]) =>
      fetch(perch + route, { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'Content-Type': 'text/plain' }, body: body ?? undefined })
        .then(() => 'sent', (e) => 'blocked: ' + e)));
  </script>
  <form id="f" method="POST" action="${perch}/api/codex/restart" target="sink"></form>
  <iframe name="sink"></iframe>`;
}

describe.skipIf(missing !== null)('Cross-site writes', () => {
  const suite = setupSuite('security');
  let notebook: Server | undefined;
  let notebookUrl = '';
  let planId = 0;

  beforeAll(async () => {
    const res = await suite.perch.api('POST', '/api/plans', { name: 'Keep me', items: ['one', 'two'] });
    planId = ((await res.json()) as { id: number }).id;
    notebook = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(attackPage(suite.perch.url, planId));
    });
    await new Promise<void>((resolve) => notebook?.listen(0, '127.0.0.1', resolve));
    notebookUrl = `http://127.0.0.1:${(notebook.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (notebook ? notebook.close(() => resolve()) : resolve()));
  });

  async function json<T>(route: string): Promise<T> {
    return (await (await suite.perch.api('GET', route)).json()) as T;
  }

  it('refuses every write a page on another port sends with the session cookie', async () => {
    const page = await suite.newPage();
    await suite.signIn(page, '#/dashboard');
    const before = await json<{ codex: { restarts: number; pid: number | null } }>('/api/status');

    // The same browser (and cookie jar) opens the other site.
    const attacker = await page.context().newPage();
    await attacker.goto(notebookUrl);
    const results = await attacker.evaluate(() => (window as unknown as { done: Promise<string[]> }).done);
    expect(results).toHaveLength(5);
    // A form post: its answer loading in the frame means Perch has handled it.
    await attacker.evaluate(
      () =>
        new Promise<void>((resolve) => {
          document.querySelector('iframe')?.addEventListener('load', () => resolve(), { once: true });
          (document.getElementById('f') as HTMLFormElement).submit();
        }),
    );

    // Every request was answered (`done` waits for the answers), and nothing
    // changed: no memory, the plan keeps its items, the same Codex child.
    // (The answers themselves are opaque to the other page.)
    const memories = await json<{ data: unknown[] }>('/api/memories');
    expect(memories.data).toEqual([]);
    const plan = await json<{ items: unknown[] }>(`/api/plans/${planId}`);
    expect(plan.items).toHaveLength(2);
    const after = await json<{ codex: { restarts: number; pid: number | null } }>('/api/status');
    expect(after.codex.restarts).toBe(before.codex.restarts);
    expect(after.codex.pid).toBe(before.codex.pid);

    // Perch's own page still writes with the same cookie.
    const own = await page.evaluate(async () => {
      const res = await fetch('/api/memories', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Perch-Request': '1' },
        body: JSON.stringify({ text: 'written by Perch’s own page' }),
      });
      return res.status;
    });
    expect(own).toBe(201);
    // Its own origin, but a text/plain body and no header: refused.
    const plain = await page.evaluate(async () => {
      const res = await fetch('/api/codex/restart', { method: 'POST', credentials: 'same-origin' });
      return { status: res.status, body: await res.text() };
    });
    expect(plain.status).toBe(403);
    expect(plain.body).toContain('x-perch-request');
  }, WAIT);
});
