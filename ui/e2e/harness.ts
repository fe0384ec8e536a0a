// Starts a real `perch serve` (with the pinned Codex binary) against the
// `scripted-model` stand-in for the model API, for the browser tests.
//
// Env:
//   PERCH_BIN                 the `perch` binary
//   PERCH_SCRIPTED_MODEL_BIN  the `scripted-model` binary
//   PERCH_CODEX_BIN           the pinned `codex` binary
// Defaults are the usual build locations; see `binaries()`.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(UI_DIR, '..');
export const RESULTS_DIR = path.join(UI_DIR, 'test-results');

const TARGET_DIRS = [
  process.env.CARGO_TARGET_DIR,
  '/root/.cache/perch-target',
  path.join(REPO_DIR, 'target'),
].filter((d): d is string => !!d);

const CODEX_SUFFIX = 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex';

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c));
}

export interface Binaries {
  perch?: string;
  scriptedModel?: string;
  codex?: string;
}

/** Resolves the binaries from env or the default build locations. */
export function binaries(): Binaries {
  const fromTargets = (name: string) =>
    firstExisting(TARGET_DIRS.flatMap((d) => [path.join(d, 'debug', name), path.join(d, 'release', name)]));
  return {
    perch: process.env.PERCH_BIN || fromTargets('perch'),
    scriptedModel: process.env.PERCH_SCRIPTED_MODEL_BIN || fromTargets('scripted-model'),
    codex:
      process.env.PERCH_CODEX_BIN ||
      firstExisting([path.join(REPO_DIR, 'tools/codex', CODEX_SUFFIX), path.join('/work/scratch/codex', CODEX_SUFFIX)]),
  };
}

/** Why the e2e tests cannot run here, or null when every binary exists. */
export function missingBinaries(): string | null {
  const b = binaries();
  const missing: string[] = [];
  if (!b.perch || !existsSync(b.perch)) missing.push(`perch (PERCH_BIN=${b.perch ?? 'unset'})`);
  if (!b.scriptedModel || !existsSync(b.scriptedModel))
    missing.push(`scripted-model (PERCH_SCRIPTED_MODEL_BIN=${b.scriptedModel ?? 'unset'})`);
  if (!b.codex || !existsSync(b.codex)) missing.push(`codex (PERCH_CODEX_BIN=${b.codex ?? 'unset'})`);
  return missing.length ? 'missing binaries: ' + missing.join(', ') : null;
}

export type Script =
  // `inputTokens`: what `response.completed` reports as the input's size
  // (how full the context is, as Codex then tells Perch; default 10).
  | { text: string; chunks?: string[]; delayMs?: number; inputTokens?: number }
  // `namespace: 'mcp__perch'` calls one of Perch's own MCP tools.
  | { functionCalls: { name: string; namespace?: string; arguments: unknown; callId: string }[] }
  // Answers this status with `body` (default: a JSON error body).
  | { httpStatus: number; body?: string }
  | { hang: true };

export interface CapturedRequest {
  headers: Record<string, string>;
  body: unknown;
}

export interface Perch {
  /** `http://127.0.0.1:NNNN` */
  url: string;
  token: string;
  root: string;
  /** The working directory of new sessions (`[codex] cwd`). */
  workDir: string;
  modelUrl: string;
  enqueue(scripts: Script | Script[]): Promise<void>;
  /** What the person does with ChatGPT's device code at the stand-in
   *  sign-in (a Perch started with `provider: false`). */
  decideSignIn(decision: 'pending' | 'approved' | 'expired'): Promise<void>;
  requests(): Promise<CapturedRequest[]>;
  /** Sends `text` to a session through the API and resolves with the
   *  turn's status once its `turn.completed` event arrives (the event
   *  stream is open before the message goes). */
  sendAndWait(sessionId: string, text: string): Promise<string>;
  /** fetch against the API with the Bearer token. */
  api(method: string, route: string, body?: unknown): Promise<Response>;
  logs(): string;
  /** Stops `perch serve` and starts it again on the same data dir and
   *  address; resolves once Codex is ready. */
  restart(): Promise<void>;
  /** Ends both processes; `removeData` also deletes the run's directory. */
  stop(opts?: { removeData?: boolean }): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  proc: ChildProcess;
  exited: boolean;
  exitInfo: string;
  logFile: string;
}

function startChild(bin: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Child {
  const proc = spawn(bin, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so teardown also ends what it spawned (codex).
    detached: true,
  });
  const log = createWriteStream(opts.logFile);
  proc.stderr?.pipe(log);
  const child: Child = { proc, exited: false, exitInfo: '', logFile: opts.logFile };
  proc.on('exit', (code, signal) => {
    child.exited = true;
    child.exitInfo = `exited with ${signal ?? code}`;
  });
  return child;
}

async function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.exited || child.proc.pid === undefined) return;
  const pid = child.proc.pid;
  const exit = once(child.proc, 'exit');
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 5_000);
  await exit;
  clearTimeout(timer);
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Waits until `check` returns a value, failing early when a child died. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, children: Child[], limitMs: number): Promise<T> {
  const start = Date.now();
  let lastError = '';
  for (;;) {
    for (const c of children) {
      if (c.exited) throw new Error(`${what}: ${path.basename(c.logFile, '.log')} ${c.exitInfo}\n${readLog(c.logFile).slice(-4000)}`);
    }
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    // A bound only so that a wedged setup does not hang CI forever.
    if (Date.now() - start > limitMs) throw new Error(`${what}: still waiting after ${limitMs / 1000}s ${lastError}`);
    await sleep(200);
  }
}

const toml = (s: string) => JSON.stringify(s); // TOML basic strings accept JSON escapes

export interface PerchOptions {
  name?: string;
  /** `false`: no `[provider]` in the config, so Codex uses OpenAI and, with
   *  its fresh Codex home, has no account (the first-run case). Default true:
   *  the scripted model is the provider. */
  provider?: boolean;
  /** More TOML for Perch's config file (`<data>/config.toml`), after the
   *  harness's own sections, e.g. `[review]\neditor = [...]`. */
  config?: string;
  /** More TOML for Codex's own config (`<codex home>/config.toml`), e.g.
   *  `model_context_window = 100000` (the scripted model has no metadata). */
  codexConfig?: string;
}

export async function startPerch(opts: PerchOptions = {}): Promise<Perch> {
  const why = missingBinaries();
  if (why) throw new Error(why);
  const bins = binaries() as Required<Binaries>;

  mkdirSync(RESULTS_DIR, { recursive: true });
  const root = mkdtempSync(path.join(RESULTS_DIR, `e2e-${opts.name ?? 'run'}-`));
  for (const d of ['data', 'codex_home', 'tmp', 'work']) mkdirSync(path.join(root, d), { recursive: true });
  // No plugin sync to the network from Codex.
  writeFileSync(path.join(root, 'codex_home/config.toml'), `${opts.codexConfig ?? ''}\n[features]\nplugins = false\n`);

  // Secrets (the API token) in 0600 files under the data dir, never in the
  // developer's OS keyring.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TMPDIR: path.join(root, 'tmp'),
    RUST_BACKTRACE: '1',
    PERCH_SECRET_STORE: 'file',
  };
  delete env.PERCH_API_TOKEN;
  if (opts.provider === false) {
    // Nothing from the developer's environment may sign Codex in.
    delete env.OPENAI_API_KEY;
    delete env.CODEX_API_KEY;
  }
  const children: Child[] = [];

  try {
    // 1. The scripted model.
    const model = startChild(bins.scriptedModel, ['--listen', '127.0.0.1:0'], {
      cwd: root,
      env,
      logFile: path.join(root, 'scripted-model.log'),
    });
    children.push(model);
    const lines = createInterface({ input: model.proc.stdout! });
    const modelUrl = await new Promise<string>((resolve, reject) => {
      lines.once('line', (line) => {
        const m = /^listening (http:\/\/\S+)/.exec(line.trim());
        if (m) resolve(m[1]);
        else reject(new Error(`scripted-model printed ${JSON.stringify(line)}`));
      });
      model.proc.once('exit', () => reject(new Error(`scripted-model ${model.exitInfo}: ${readLog(model.logFile)}`)));
    });
    lines.on('line', () => {}); // keep draining stdout
    if (opts.provider === false) {
      // ChatGPT's device-code sign-in goes to the scripted model's stand-in
      // (perch-test-support's sign_in.rs): the issuer, and the one backend
      // route Codex checks after it.
      env.CODEX_APP_SERVER_LOGIN_ISSUER = modelUrl;
      // OpenAI's API, where Perch checks an API key before Codex keeps it.
      env.OPENAI_BASE_URL = modelUrl + '/v1';
      writeFileSync(
        path.join(root, 'codex_home/config.toml'),
        `chatgpt_base_url = ${toml(modelUrl + '/backend-api/')}\n${opts.codexConfig ?? ''}\n[features]\nplugins = false\n`,
      );
    }

    // 2. Perch.
    writeFileSync(
      path.join(root, 'data/config.toml'),
      [
        '[codex]',
        `bin = ${toml(bins.codex)}`,
        `home = ${toml(path.join(root, 'codex_home'))}`,
        'approval_policy = "guarded"',
        'model = "mock-model"',
        // New sessions work in a throwaway dir, not the home directory.
        `cwd = ${toml(path.join(root, 'work'))}`,
        '',
        ...(opts.provider === false
          ? []
          : ['[provider]', 'id = "scripted"', 'name = "Scripted model"', `base_url = ${toml(modelUrl + '/v1')}`, '']),
        ...(opts.config ? [opts.config, ''] : []),
      ].join('\n'),
    );
    // Perch, on `listen`: started here, and again on the same address by
    // `restart()` (a browser's session cookie belongs to that origin).
    const serverJson = path.join(root, 'data/server.json');
    const launch = async (listen: string): Promise<Child> => {
      if (existsSync(serverJson)) rmSync(serverJson);
      const child = startChild(
        bins.perch,
        [
          'serve',
          '--data-dir',
          path.join(root, 'data'),
          '--listen',
          listen,
          '--ui-dir',
          path.join(UI_DIR, 'dist'),
          // An embedded peer-network relay on an ephemeral port (`relayUrl` in GET /api/peer).
          '--relay-listen',
          '127.0.0.1:0',
        ],
        { cwd: path.join(root, 'work'), env, logFile: path.join(root, 'perch.log') },
      );
      children.push(child);
      child.proc.stdout?.pipe(createWriteStream(path.join(root, 'perch.stdout.log'), { flags: 'a' }));
      return child;
    };
    let perch = await launch('127.0.0.1:0');
    const url = await waitFor(
      'perch serve writing server.json',
      async () => {
        if (!existsSync(serverJson)) return undefined;
        const info = JSON.parse(readFileSync(serverJson, 'utf8')) as { url?: string };
        return info.url ? info.url.replace(/\/$/, '') : undefined;
      },
      children,
      120_000,
    );
    // `<data>/secrets/api-token` (file secret store); `<data>/api-token` before it.
    const tokenFile = firstExisting([path.join(root, 'data/secrets/api-token'), path.join(root, 'data/api-token')]);
    if (!tokenFile) throw new Error(`no API token file in ${path.join(root, 'data')}`);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const api = (method: string, route: string, body?: unknown) =>
      fetch(url + route, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });

    const codexReady = () =>
      waitFor(
        'Codex becoming ready',
        async () => {
          const res = await api('GET', '/api/status').catch(() => null);
          if (!res) return undefined; // not listening yet (a restart)
          if (!res.ok) throw new Error(`status ${res.status}`);
          const s = (await res.json()) as { codex: { state: string; detail: string | null } };
          if (s.codex.state === 'failed') throw new Error(`codex failed: ${s.codex.detail}`);
          return s.codex.state === 'ready' ? true : undefined;
        },
        children,
        180_000,
      );
    await codexReady();

    return {
      url,
      token,
      root,
      workDir: path.join(root, 'work'),
      modelUrl,
      async enqueue(scripts) {
        const res = await fetch(modelUrl + '/_control/enqueue', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(scripts),
        });
        if (!res.ok) throw new Error(`enqueue: ${res.status} ${await res.text()}`);
      },
      async decideSignIn(decision) {
        const res = await fetch(modelUrl + '/_control/sign-in', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ decision }),
        });
        if (!res.ok) throw new Error(`sign-in decision: ${res.status} ${await res.text()}`);
      },
      async sendAndWait(sessionId, text) {
        const stream = await api('GET', '/api/events', undefined);
        const reader = stream.body!.getReader();
        let timedOut = false;
        // A bound only so that a wedged turn does not hang CI forever.
        const bound = setTimeout(() => {
          timedOut = true;
          void reader.cancel().catch(() => {});
        }, 180_000);
        try {
          const sent = await api('POST', `/api/sessions/${encodeURIComponent(sessionId)}/messages`, { text });
          if (sent.status !== 202) throw new Error(`sending: ${sent.status} ${await sent.text()}`);
          const { turnId } = (await sent.json()) as { turnId: string };
          let buffer = '';
          let name = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) throw new Error(timedOut ? `turn ${turnId} did not complete within 180 s` : `the event stream ended before turn ${turnId} completed`);
            buffer += new TextDecoder().decode(value);
            const lines = buffer.split('\n');
            buffer = lines.pop() ?? '';
            for (const line of lines) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              if (!line.startsWith('data:')) continue;
              const event = JSON.parse(line.slice(5)) as { type?: string; turnId?: string; status?: string };
              if ((event.type ?? name) === 'turn.completed' && event.turnId === turnId) return event.status ?? 'unknown';
            }
          }
        } finally {
          clearTimeout(bound);
          void reader.cancel().catch(() => {});
        }
      },
      async requests() {
        const res = await fetch(modelUrl + '/_control/requests');
        return (await res.json()) as CapturedRequest[];
      },
      api,
      logs: () => readLog(perch.logFile).slice(-8000),
      async restart() {
        await stopChild(perch);
        children.splice(children.indexOf(perch), 1);
        perch = await launch(new URL(url).host);
        await codexReady();
      },
      async stop(stopOpts = {}) {
        await stopChild(perch);
        await stopChild(model);
        if (stopOpts.removeData) rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const c of children.reverse()) await stopChild(c);
    throw e;
  }
}
