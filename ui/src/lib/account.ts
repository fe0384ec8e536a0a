// Whom Codex is signed in as, in words, and the steps of the sign-in flows
// (ChatGPT device code, API key, an OpenAI-compatible server). Pure
// functions, unit-tested in tests/account.test.ts; the reactive state and
// the requests are in state/account.svelte.ts.

import { providerProblem, textOrNull, type ProviderForm } from './settings';
import type { AccountState, LoginStarted, PerchEvent, ProviderSettings, SettingsPatch, Status } from './types';

/** Where the person stands with Codex's account. */
export type AccountStanding =
  /** Codex has not answered yet (`Status.account` is null). */
  | 'unknown'
  | 'signedIn'
  /** Codex needs an OpenAI sign-in it does not have: turns cannot run. */
  | 'notSignedIn'
  /** The configured model provider needs no sign-in. */
  | 'noSignInNeeded';

export interface AccountSummary {
  standing: AccountStanding;
  /** One line for the footer and the Dashboard. */
  text: string;
}

/** Codex needs a sign-in it does not have (a turn would be refused). */
export function needsSignIn(state: AccountState | null | undefined): boolean {
  return !!state && state.requiresOpenaiAuth && state.account === null;
}

/** "Signed in as ada@example.com (plus)", "Not signed in", … */
export function describeAccount(state: AccountState | null | undefined): AccountSummary {
  if (!state) return { standing: 'unknown', text: 'Account not known yet (waiting for Codex to start)' };
  const account = state.account;
  if (!account) {
    return state.requiresOpenaiAuth
      ? { standing: 'notSignedIn', text: 'Not signed in' }
      : { standing: 'noSignInNeeded', text: 'Provider needs no sign-in' };
  }
  switch (account.type) {
    case 'chatgpt': {
      const plan = account.planType ? ` (${account.planType})` : '';
      return {
        standing: 'signedIn',
        text: account.email ? `Signed in as ${account.email}${plan}` : `Signed in with ChatGPT${plan}`,
      };
    }
    case 'apiKey':
      return { standing: 'signedIn', text: 'Signed in with an API key' };
    case 'amazonBedrock':
      return { standing: 'signedIn', text: 'Signed in with Amazon Bedrock' };
    case 'gcp':
      return { standing: 'signedIn', text: 'Signed in with Google Cloud' };
    default:
      return { standing: 'signedIn', text: 'Signed in' };
  }
}

// ---------------------------------------------------------------------------
// Sign in with ChatGPT (device code)

export type DeviceSignIn =
  | { step: 'idle' }
  /** Asking Codex for a code. */
  | { step: 'starting' }
  /** The person enters `userCode` at `verificationUrl`; Codex reports the end. */
  | { step: 'waiting'; loginId: string; verificationUrl: string; userCode: string }
  /** Codex answered with a browser sign-in page instead of a code. */
  | { step: 'browser'; loginId: string; authUrl: string }
  | { step: 'done'; summary: string }
  | { step: 'failed'; error: string; advice: string };

export const DEVICE_IDLE: DeviceSignIn = { step: 'idle' };

/** The flow once `POST /api/account/login` answered. */
export function deviceStarted(answer: LoginStarted): DeviceSignIn {
  switch (answer.type) {
    case 'chatgptDeviceCode':
      return { step: 'waiting', loginId: answer.loginId, verificationUrl: answer.verificationUrl, userCode: answer.userCode };
    case 'chatgpt':
      return { step: 'browser', loginId: answer.loginId, authUrl: answer.authUrl };
    default:
      return {
        step: 'failed',
        error: 'Codex did not give a sign-in code.',
        advice: 'This Codex may not support signing in with a code; use an API key instead, or update Codex.',
      };
  }
}

/** The flow when asking for a code failed. */
export function deviceStartFailed(error: string): DeviceSignIn {
  return {
    step: 'failed',
    error: `Could not get a sign-in code: ${error}`,
    advice: 'Check that Codex is running (the footer says “Codex ready”), then try again.',
  };
}

/**
 * The flow after an event: `account.login` of this sign-in with
 * `success: false` ends it with Codex's reason; `account.updated` bringing an account ends it signed
 * in. (`account.login` with `success: true` is followed by `account.updated`.)
 */
export function deviceOnEvent(flow: DeviceSignIn, ev: PerchEvent): DeviceSignIn {
  if (flow.step !== 'waiting' && flow.step !== 'browser') return flow;
  // Another window's (or the CLI's) sign-in ending is not this one's.
  const ours = ev.type === 'account.login' && (ev.loginId == null || ev.loginId === flow.loginId);
  if (ev.type === 'account.login' && ours && !ev.success) {
    return {
      step: 'failed',
      error: `Signing in with ChatGPT failed: ${ev.error?.trim() || 'Codex did not say why'}.`,
      advice:
        'The code may have expired, or the sign-in was cancelled in the browser. Get a new code and enter it within a few minutes.',
    };
  }
  if (ev.type === 'account.updated') return deviceOnAccount(flow, ev.account);
  return flow;
}

/** The flow once the account is known (from `account.updated` or `GET /api/account`): an account ends it signed in. */
export function deviceOnAccount(flow: DeviceSignIn, state: AccountState): DeviceSignIn {
  if ((flow.step === 'waiting' || flow.step === 'browser') && state.account) {
    return { step: 'done', summary: describeAccount(state).text };
  }
  return flow;
}

/** What the flow waits for, in words (shown live). */
export function deviceWaitText(flow: DeviceSignIn): string | null {
  if (flow.step === 'starting') return 'Asking Codex for a sign-in code…';
  if (flow.step === 'waiting') return `Waiting for you to finish signing in at ${flow.verificationUrl}…`;
  if (flow.step === 'browser') return 'Waiting for you to finish signing in on the page that opened…';
  return null;
}

// ---------------------------------------------------------------------------
// Sign in with an API key

/** Whether a key took, from the account Codex reports after signing in. */
export function apiKeyOutcome(after: AccountState): { ok: boolean; message: string } {
  if (after.account) return { ok: true, message: `${describeAccount(after).text}.` };
  if (!after.requiresOpenaiAuth) {
    return { ok: true, message: 'Saved. The configured model provider needs no sign-in, so the key is not used for it.' };
  }
  return {
    ok: false,
    message:
      'Codex took the key but still reports no account: the key did not take. Check that you pasted the whole key (it starts with “sk-”), then try again.',
  };
}

// ---------------------------------------------------------------------------
// An OpenAI-compatible server (Ollama, vLLM, …) as the model provider

/** The provider id a server set up here gets (unless one is configured). */
export const COMPATIBLE_SERVER_ID = 'local';

/** What to fix in the server's fields, or null. */
export function compatibleServerProblem(baseUrl: string, model: string): string | null {
  const problem = providerProblem(serverForm(baseUrl, null));
  if (problem) return problem;
  if (!model.trim()) return 'Enter the model to use, as the server names it (for example “llama3.2” or “qwen2.5-coder”).';
  if (/\s/.test(model.trim())) return 'A model name has no spaces.';
  return null;
}

function serverForm(baseUrl: string, current: ProviderSettings | null): ProviderForm {
  return {
    enabled: true,
    id: current?.id ?? COMPATIBLE_SERVER_ID,
    name: current?.name ?? '',
    baseUrl,
    envKey: current?.envKey ?? '',
    wireApi: current?.wireApi ?? 'responses',
  };
}

/** The settings that make Codex use the server (the configured provider's id, name and key variable are kept). */
export function compatibleServerPatch(baseUrl: string, model: string, current: ProviderSettings | null): SettingsPatch {
  const form = serverForm(baseUrl, current);
  return {
    provider: {
      id: form.id,
      name: textOrNull(form.name),
      baseUrl: form.baseUrl.trim().replace(/\/+$/, ''),
      envKey: textOrNull(form.envKey),
      wireApi: form.wireApi,
    },
    codex: { model: model.trim() },
  };
}

/** Where a restart of Codex stands, from `/api/status`, against the restart count before it. */
export function restartProgress(
  status: Status,
  restartsBefore: number,
): { step: 'ready' } | { step: 'failed'; error: string } | { step: 'waiting'; text: string } {
  const codex = status.codex;
  if (codex.state === 'failed') {
    return { step: 'failed', error: `Codex could not start: ${codex.detail ?? 'it did not say why'}` };
  }
  if (codex.state === 'ready' && codex.restarts > restartsBefore) return { step: 'ready' };
  const detail = codex.detail ? ` (${codex.detail})` : '';
  return { step: 'waiting', text: `Waiting for Codex to restart with the new provider — Codex is ${codex.state}${detail}…` };
}
