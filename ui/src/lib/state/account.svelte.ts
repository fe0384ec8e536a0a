// Codex's account: whom it is signed in as (`data.account`, live by
// `account.updated`) and the sign-in flows that the first-run screen and the
// Account dialog share. The pure parts are in `../account.ts`.

import { api, ApiError } from '../api';
import {
  apiKeyOutcome,
  compatibleServerPatch,
  compatibleServerProblem,
  DEVICE_IDLE,
  deviceOnAccount,
  deviceOnEvent,
  deviceStarted,
  deviceStartFailed,
  needsSignIn,
  restartProgress,
  type DeviceSignIn,
} from '../account';
import { errMsg } from '../format';
import { navigate, router } from '../router.svelte';
import type { AccountState, PerchEvent } from '../types';
import { loadModels, loadSettings, saveSettings } from './settings.svelte';
import { data } from './store.svelte';

/** One sign-in way: what it waits for while busy, then how it went. */
export interface SignInTask {
  state: 'idle' | 'busy' | 'ok' | 'failed';
  /** Busy: what it waits for. Otherwise: the outcome, in words. */
  message: string | null;
}

const IDLE_TASK: SignInTask = { state: 'idle', message: null };

export const signIn = $state({
  /** The first-run panel is open in the chat, where the composer would be. */
  open: false,
  device: DEVICE_IDLE as DeviceSignIn,
  apiKey: IDLE_TASK as SignInTask,
  server: IDLE_TASK as SignInTask,
});

/** Signed out of Perch: forgets the flows. */
export function resetSignIn(): void {
  deviceAttempt += 1;
  signIn.open = false;
  signIn.device = DEVICE_IDLE;
  signIn.apiKey = IDLE_TASK;
  signIn.server = IDLE_TASK;
}

/** Opens the first-run panel in the chat (from the footer or the Dashboard). */
export function openSignIn(): void {
  signIn.open = true;
  if (router.route.page !== 'chat') navigate({ page: 'chat', sessionId: data.selectedId });
}

function keepAccount(state: AccountState): void {
  data.account = state;
  if (data.status) data.status.account = state;
  signIn.device = deviceOnAccount(signIn.device, state);
}

/** Reads the account from Codex now (`GET /api/account`); throws ApiError. */
export async function loadAccount(): Promise<AccountState> {
  const state = await api.account();
  keepAccount(state);
  return state;
}

/** `account.updated` and `account.login` of the stream (after the reducer kept the account). */
export function onAccountEvent(ev: PerchEvent): void {
  // Signed out (here or elsewhere): earlier outcomes no longer hold.
  if (ev.type === 'account.updated' && needsSignIn(ev.account)) {
    if (signIn.device.step === 'done') signIn.device = DEVICE_IDLE;
    if (signIn.apiKey.state === 'ok') signIn.apiKey = IDLE_TASK;
  }
  const waiting = signIn.device.step === 'waiting' || signIn.device.step === 'browser';
  signIn.device = deviceOnEvent(signIn.device, ev);
  // Signed in again as the same account: no `account.updated` follows, so read it.
  if (waiting && ev.type === 'account.login' && ev.success) void loadAccount().catch(() => {});
}

// ---------------------------------------------------------------------------
// Sign in with ChatGPT: a device code the person enters on OpenAI's page.

/** Grows with each start, so the answer of an abandoned one is ignored. */
let deviceAttempt = 0;

export async function startDeviceSignIn(): Promise<void> {
  const attempt = ++deviceAttempt;
  signIn.device = { step: 'starting' };
  try {
    const answer = await api.accountLogin({ type: 'chatgptDeviceCode' });
    if (attempt === deviceAttempt) signIn.device = deviceStarted(answer);
  } catch (e) {
    if (attempt === deviceAttempt) signIn.device = deviceStartFailed(errMsg(e));
  }
}

/** Stops waiting here (Codex lets the code expire by itself). */
export function stopDeviceSignIn(): void {
  deviceAttempt += 1;
  signIn.device = DEVICE_IDLE;
}

// ---------------------------------------------------------------------------
// Sign in with an API key. The key goes to Codex and nowhere else (no log,
// no storage here).

export async function signInWithApiKey(key: string): Promise<boolean> {
  const apiKey = key.trim();
  if (!apiKey) {
    signIn.apiKey = { state: 'failed', message: 'Paste the API key first.' };
    return false;
  }
  signIn.apiKey = { state: 'busy', message: 'Checking the key with OpenAI, then signing Codex in…' };
  try {
    await api.accountLogin({ type: 'apiKey', apiKey });
  } catch (e) {
    // Perch's own check says what OpenAI said; anything else is Codex's refusal.
    const checked = e instanceof ApiError && e.code.startsWith('api_key_');
    signIn.apiKey = { state: 'failed', message: checked ? errMsg(e) : `Codex refused the key: ${errMsg(e)}` };
    return false;
  }
  signIn.apiKey = { state: 'busy', message: 'Checking with Codex that the key took…' };
  try {
    const outcome = apiKeyOutcome(await loadAccount());
    signIn.apiKey = { state: outcome.ok ? 'ok' : 'failed', message: outcome.message };
    return outcome.ok;
  } catch (e) {
    signIn.apiKey = {
      state: 'failed',
      message: `The key was sent, but reading the account back from Codex failed: ${errMsg(e)}. Try again in a moment.`,
    };
    return false;
  }
}

// ---------------------------------------------------------------------------
// An OpenAI-compatible server (Ollama, vLLM, …): saved as the model provider
// with the Settings API, then Codex restarts with it and lists its models.

const RESTART_LIMIT_MS = 90_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until Codex restarted (its restart count grew) and is ready; the reason it did not, or null. */
async function waitForRestart(restartsBefore: number, say: (text: string) => void): Promise<string | null> {
  const deadline = Date.now() + RESTART_LIMIT_MS;
  let last = 'no answer from Perch yet';
  while (Date.now() < deadline) {
    try {
      const status = await api.status();
      const progress = restartProgress(status, restartsBefore);
      if (progress.step === 'ready') return null;
      if (progress.step === 'failed') return `${progress.error}. Check the base URL, or copy Settings → Diagnostics.`;
      say(progress.text);
      last = `Codex is ${status.codex.state}`;
    } catch (e) {
      last = errMsg(e);
      say(`Waiting for Perch to answer (${last})…`);
    }
    await sleep(500);
  }
  return `Codex did not become ready within ${RESTART_LIMIT_MS / 1000} s (${last}). Look at Settings → Diagnostics, then try again.`;
}

export async function useCompatibleServer(baseUrl: string, model: string): Promise<boolean> {
  const fail = (message: string) => {
    signIn.server = { state: 'failed', message };
    return false;
  };
  const problem = compatibleServerProblem(baseUrl, model);
  if (problem) return fail(problem);
  const say = (message: string) => (signIn.server = { state: 'busy', message });
  const patch = compatibleServerPatch(baseUrl, model, data.settings?.provider ?? null);
  const url = patch.provider?.baseUrl ?? baseUrl.trim();

  // Perch asks the server itself first: Codex's own model list would not
  // show that nothing answers there.
  say(`Asking ${url} for its models…`);
  let offered: string[];
  try {
    offered = (await api.checkProvider({ baseUrl: url, apiKey: null })).models;
  } catch (e) {
    return fail(errMsg(e));
  }
  const wanted = patch.codex?.model ?? model.trim();
  if (wanted && offered.length > 0 && !offered.includes(wanted)) {
    const some = offered.slice(0, 8).join(', ');
    return fail(`${url} has no model “${wanted}”. It offers: ${some}${offered.length > 8 ? ', …' : ''}.`);
  }

  say('Saving the provider in the settings…');
  let restartsBefore: number;
  let restartRequired: boolean;
  try {
    if (!data.settings) await loadSettings();
    restartsBefore = (await api.status()).codex.restarts;
    restartRequired = (await saveSettings(patch)).restartRequired;
  } catch (e) {
    return fail(`Could not save the provider: ${errMsg(e)}`);
  }
  if (restartRequired) {
    say(`Restarting Codex with ${url}…`);
    try {
      await api.restartCodex();
    } catch (e) {
      return fail(`The provider is saved, but restarting Codex failed: ${errMsg(e)}. Restart it from Settings.`);
    }
    const late = await waitForRestart(restartsBefore, say);
    if (late) return fail(late);
  }

  void loadModels();
  void loadAccount().catch(() => {}); // `account.updated` follows the restart as well
  signIn.server = { state: 'ok', message: `Codex now uses ${url} with the model ${patch.codex?.model ?? model.trim()}.` };
  return true;
}

// ---------------------------------------------------------------------------

/** Signs Codex out (with `sharedWithCodexCli`, the Codex CLI too); throws ApiError. */
export async function signOutOfCodex(): Promise<void> {
  keepAccount(await api.accountLogout());
  stopDeviceSignIn();
  signIn.apiKey = IDLE_TASK;
}
