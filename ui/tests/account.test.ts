import { describe, expect, it } from 'vitest';
import {
  apiKeyOutcome,
  compatibleServerPatch,
  compatibleServerProblem,
  describeAccount,
  deviceOnAccount,
  deviceOnEvent,
  deviceStarted,
  deviceStartFailed,
  deviceWaitText,
  needsSignIn,
  restartProgress,
  type DeviceSignIn,
} from '../src/lib/account';
import type { AccountState, EventKind, RuntimeEvent, Status } from '../src/lib/types';

const state = (account: AccountState['account'], requiresOpenaiAuth = true): AccountState => ({
  account,
  requiresOpenaiAuth,
  sharedWithCodexCli: false,
});

describe('describeAccount', () => {
  it('says whom Codex is signed in as', () => {
    expect(describeAccount(state({ type: 'chatgpt', email: 'ada@example.com', planType: 'plus' }))).toEqual({
      standing: 'signedIn',
      text: 'Signed in as ada@example.com (plus)',
    });
    expect(describeAccount(state({ type: 'chatgpt', email: null, planType: null })).text).toBe('Signed in with ChatGPT');
    expect(describeAccount(state({ type: 'apiKey' })).text).toBe('Signed in with an API key');
    expect(describeAccount(state({ type: 'amazonBedrock' })).text).toBe('Signed in with Amazon Bedrock');
    expect(describeAccount(state({ type: 'other' })).text).toBe('Signed in');
  });

  it('tells not signed in from a provider that needs no sign-in, and unknown', () => {
    expect(describeAccount(state(null))).toEqual({ standing: 'notSignedIn', text: 'Not signed in' });
    expect(describeAccount(state(null, false))).toEqual({ standing: 'noSignInNeeded', text: 'Provider needs no sign-in' });
    expect(describeAccount(null).standing).toBe('unknown');
  });

  it('needs a sign-in only when Codex requires one and has none', () => {
    expect(needsSignIn(state(null))).toBe(true);
    expect(needsSignIn(state(null, false))).toBe(false);
    expect(needsSignIn(state({ type: 'apiKey' }))).toBe(false);
    expect(needsSignIn(null)).toBe(false);
  });
});

let seq = 0;
function event(kind: EventKind): RuntimeEvent {
  seq += 1;
  return { seq, at: seq, ...kind };
}

describe('the device-code sign-in', () => {
  const waiting = deviceStarted({
    type: 'chatgptDeviceCode',
    loginId: 'l1',
    verificationUrl: 'https://auth.openai.com/codex/device',
    userCode: 'ABCD-EFGH',
  });

  it('waits with the code and says for what', () => {
    expect(waiting).toEqual({ step: 'waiting', loginId: 'l1', verificationUrl: 'https://auth.openai.com/codex/device', userCode: 'ABCD-EFGH' });
    expect(deviceWaitText(waiting)).toBe('Waiting for you to finish signing in at https://auth.openai.com/codex/device…');
    expect(deviceWaitText({ step: 'idle' })).toBeNull();
  });

  it('fails with Codex’s reason when account.login says so', () => {
    const failed = deviceOnEvent(waiting, event({ type: 'account.login', loginId: 'l1', success: false, error: 'device code expired' }));
    expect(failed.step).toBe('failed');
    expect(failed.step === 'failed' && failed.error).toBe('Signing in with ChatGPT failed: device code expired.');
    expect(failed.step === 'failed' && failed.advice).toMatch(/new code/);
  });

  it('follows its own sign-in only: another window’s failing one is not its end', () => {
    const other = deviceOnEvent(waiting, event({ type: 'account.login', loginId: 'l0', success: false, error: 'replaced' }));
    expect(other).toBe(waiting);
  });

  it('succeeds when account.updated brings an account, not on account.login alone', () => {
    const still = deviceOnEvent(waiting, event({ type: 'account.login', loginId: 'l1', success: true, error: null }));
    expect(still).toBe(waiting);
    const noAccount = deviceOnEvent(waiting, event({ type: 'account.updated', account: state(null) }));
    expect(noAccount).toBe(waiting);
    const done = deviceOnEvent(
      waiting,
      event({ type: 'account.updated', account: state({ type: 'chatgpt', email: 'ada@example.com', planType: 'pro' }) }),
    );
    expect(done).toEqual({ step: 'done', summary: 'Signed in as ada@example.com (pro)' });
  });

  it('ignores events when it is not waiting', () => {
    const idle: DeviceSignIn = { step: 'idle' };
    expect(deviceOnEvent(idle, event({ type: 'account.login', loginId: null, success: false, error: 'x' }))).toBe(idle);
    expect(deviceOnAccount(idle, state({ type: 'apiKey' }))).toBe(idle);
  });

  it('says what failed when no code came', () => {
    expect(deviceStarted({ type: 'other' }).step).toBe('failed');
    const f = deviceStartFailed('Codex is not running');
    expect(f.step === 'failed' && f.error).toBe('Could not get a sign-in code: Codex is not running');
  });
});

describe('apiKeyOutcome', () => {
  it('says clearly when the key did not take', () => {
    expect(apiKeyOutcome(state({ type: 'apiKey' }))).toEqual({ ok: true, message: 'Signed in with an API key.' });
    const bad = apiKeyOutcome(state(null));
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/did not take/);
  });
});

describe('an OpenAI-compatible server', () => {
  it('checks the URL and the model', () => {
    expect(compatibleServerProblem('', 'llama3.2')).toMatch(/base URL/);
    expect(compatibleServerProblem('localhost:11434', 'llama3.2')).toMatch(/http/);
    expect(compatibleServerProblem('http://127.0.0.1:11434/v1', ' ')).toMatch(/model/);
    expect(compatibleServerProblem('http://127.0.0.1:11434/v1', 'llama 3')).toMatch(/spaces/);
    expect(compatibleServerProblem('http://127.0.0.1:11434/v1', 'llama3.2')).toBeNull();
  });

  it('saves the provider and the model, keeping a configured provider’s id', () => {
    expect(compatibleServerPatch(' http://127.0.0.1:11434/v1/ ', ' llama3.2 ', null)).toEqual({
      provider: { id: 'local', name: null, baseUrl: 'http://127.0.0.1:11434/v1', envKey: null, wireApi: 'responses' },
      codex: { model: 'llama3.2' },
    });
    const current = { id: 'vllm', name: 'vLLM', baseUrl: 'http://old/v1', envKey: 'VLLM_KEY', wireApi: 'responses' };
    expect(compatibleServerPatch('http://gpu:8000/v1', 'qwen', current).provider).toEqual({
      id: 'vllm',
      name: 'vLLM',
      baseUrl: 'http://gpu:8000/v1',
      envKey: 'VLLM_KEY',
      wireApi: 'responses',
    });
  });

  it('waits for Codex to restart and be ready', () => {
    const status = (state: Status['codex']['state'], restarts: number, detail: string | null = null) =>
      ({ codex: { state, restarts, detail } }) as Status;
    expect(restartProgress(status('ready', 2), 2).step).toBe('waiting'); // not restarted yet
    const waiting = restartProgress(status('restarting', 3, 'restarting with new settings'), 2);
    expect(waiting).toEqual({
      step: 'waiting',
      text: 'Waiting for Codex to restart with the new provider — Codex is restarting (restarting with new settings)…',
    });
    expect(restartProgress(status('ready', 3), 2)).toEqual({ step: 'ready' });
    expect(restartProgress(status('failed', 3, 'no binary'), 2)).toEqual({ step: 'failed', error: 'Codex could not start: no binary' });
  });
});
