// Benchmark, not a test: how soon a new user without a Codex login is told
// what to do, on the API, the CLI and in the browser (the tray and the
// desktop window: tests/desktop/bench_desktop.py). Each run starts a fresh
// `perch serve` whose Codex has no account (the first-run setup of
// e2e/harness.ts), then times what a person waits for. It prints figures and
// asserts only that each surface did say it. Run: `npm run bench:first-run`
// (after `npm run build`; the binaries as for the browser tests). Figures go
// to docs/bench.md.

import { it } from 'vitest';
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { binaries, startPerch } from '../e2e/harness';

const RUNS = Number(process.env.PERCH_BENCH_RUNS ?? 5);
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (what: string, xs: number[]) =>
  console.log(`${what}: median ${median(xs).toFixed(0)} ms (${xs.length} runs, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);

/** Reads the event stream until `account.updated` says nobody is signed in. */
async function accountKnown(events: Response): Promise<void> {
  const reader = events.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended before the account was known');
    buffered += decoder.decode(value, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('data:')) continue;
      const ev = JSON.parse(line.slice(5)) as { type: string; account?: { account: unknown } };
      if (ev.type === 'account.updated' && ev.account?.account === null) {
        reader.releaseLock();
        return;
      }
    }
  }
}

it(`tells a new user without a login what to do (${RUNS} runs)`, async () => {
  const started: number[] = [];
  const refused: number[] = [];
  const cli: number[] = [];
  const page: number[] = [];
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'], headless: true });
  try {
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      const perch = await startPerch({ name: `bench-first-run-${run}`, provider: false });
      try {
        // Perch up, Codex ready, and the account known as "not signed in":
        // in the status already, or on the event stream when Perch reads it.
        const events = await perch.api('GET', '/api/events');
        const status = (await (await perch.api('GET', '/api/status')).json()) as { account: { account: unknown } | null };
        if (!(status.account && status.account.account === null)) await accountKnown(events);
        started.push(performance.now() - t0);
        await events.body?.cancel();

        // The API refuses a message, saying what to do.
        const session = (await (await perch.api('POST', '/api/sessions', {})).json()) as { id: string };
        const t1 = performance.now();
        const res = await perch.api('POST', `/api/sessions/${session.id}/messages`, { text: 'Say hi' });
        refused.push(performance.now() - t1);
        if (res.status !== 409) throw new Error(`the API answered ${res.status}`);

        // `perch run` exits naming `perch login`.
        const t2 = performance.now();
        const out = spawnSync(binaries().perch!, ['--data-dir', path.join(perch.root, 'data'), 'run', 'Say hi'], {
          encoding: 'utf8',
          env: { ...process.env, PERCH_SECRET_STORE: 'file' },
        });
        cli.push(performance.now() - t2);
        if (out.status !== 2 || !out.stderr.includes('perch login')) throw new Error(`perch run: ${out.status} ${out.stderr}`);

        // The browser: opening Perch shows the first-run screen.
        const context = await browser.newContext();
        const tab = await context.newPage();
        const code = ((await (await perch.api('POST', '/api/auth/login-codes', {})).json()) as { code: string }).code;
        const t3 = performance.now();
        await tab.goto(`${perch.url}/#login=${code}&next=/chat`);
        await tab.getByTestId('first-run').waitFor();
        page.push(performance.now() - t3);
        await context.close();
      } finally {
        await perch.stop({ removeData: true });
      }
    }
  } finally {
    await browser.close();
  }
  line('start perch serve to "not signed in" known (API up, Codex ready, account read)', started);
  line('POST …/messages refused with not_signed_in', refused);
  line('perch run "Say hi" exits 2 naming perch login (whole CLI process)', cli);
  line('browser: open Perch to the first-run screen', page);
}, 600_000);
