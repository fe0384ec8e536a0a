// Shared setup of the browser tests: one `perch serve` (see harness.ts) and
// one headless Debian Chromium (playwright-core) per test file.
//
// Set PERCH_E2E_REQUIRED=1 to fail (instead of skip) when binaries are missing.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { missingBinaries, RESULTS_DIR, startPerch, UI_DIR, waitFor, type Perch, type PerchOptions } from './harness';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Generous: these waits are for events, not a performance budget.
export const WAIT = 180_000;

/** Why the browser tests cannot run here, or null. */
export function skipReason(): string | null {
  const missing =
    missingBinaries() ??
    (existsSync(path.join(UI_DIR, 'dist/index.html')) ? null : 'ui/dist is missing: run `npm run build` first');
  if (missing) {
    if (process.env.PERCH_E2E_REQUIRED === '1') throw new Error(missing);
    console.warn(`[e2e] skipped: ${missing}`);
  }
  return missing;
}

export interface Suite {
  /** Available from the test's `beforeAll` on. */
  readonly perch: Perch;
  newPage(opts?: BrowserContextOptions): Promise<Page>;
  /** Opens `route` (a hash such as `#/dashboard`) and signs in with the token. */
  signIn(page: Page, route?: string): Promise<void>;
  /** Signs in and starts a session (Ctrl+N, at any width); resolves when
   *  its message box is shown. */
  startSession(page: Page): Promise<void>;
  /** Calls the API with the token; throws with the status and body unless it succeeded. */
  apiJson<T>(method: string, route: string, body?: unknown): Promise<T>;
  /** Waits (up to WAIT) until `check` answers something; a timeout says
   *  what was awaited and carries Perch's logs. */
  eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T>;
}

/** Registers the hooks that start and stop Perch and the browser; call it
 *  inside the `describe`. */
export function setupSuite(name: string, options: Omit<PerchOptions, 'name'> = {}): Suite {
  let perch: Perch | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  let failed = false;

  beforeAll(async () => {
    mkdirSync(RESULTS_DIR, { recursive: true });
    perch = await startPerch({ ...options, name });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    // Keep the run's logs and data (test-results/e2e-*) when something failed.
    if (failed) console.log(`[e2e] logs and data kept in ${perch?.root}`);
    await perch?.stop({ removeData: !failed && process.env.PERCH_E2E_KEEP !== '1' });
  });

  const suite: Suite = {
    get perch(): Perch {
      if (!perch) throw new Error('perch is not started yet');
      return perch;
    },
    async newPage(opts = {}) {
      if (!browser) throw new Error('the browser is not started yet');
      const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, ...opts });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT);
      page.on('console', (m) => {
        if (m.type() === 'error') console.log('[browser]', m.text());
      });
      return page;
    },
    async signIn(page, route = '') {
      await page.goto(suite.perch.url + '/' + route);
      await page.getByLabel('API token').fill(suite.perch.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
    },
    async startSession(page) {
      await suite.signIn(page);
      const before = page.url();
      await page.keyboard.press('Control+n');
      await page.waitForURL((u) => u.toString() !== before && /^#\/chat\/.+/.test(u.hash));
      await page.locator('#composer-input').waitFor();
    },
    apiJson: async <T>(method: string, route: string, body?: unknown): Promise<T> => {
      const res = await suite.perch.api(method, route, body);
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    eventually: <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
      waitFor(what, check, [], WAIT).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n${suite.perch.logs()}`);
      }),
  };
  return suite;
}
