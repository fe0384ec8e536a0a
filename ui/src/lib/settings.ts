// Form state for the Settings page and the PATCH bodies built from it. Pure
// functions, unit-tested in tests/settings.test.ts.
//
// A form holds strings (an empty field means "not set", sent as null). Only
// fields that differ from the saved settings are sent, so a save never
// overwrites a change made elsewhere (the tray, another tab) meanwhile.

import type { ApprovalPolicy, CodexPatch, CodexSettings, ProviderSettings } from './types';

export type FormValue = string | boolean;

/** An empty or blank field is `null`, otherwise the trimmed text. */
export function textOrNull(s: string): string | null {
  const t = s.trim();
  return t === '' ? null : t;
}

/**
 * Follows a change of the saved settings while the person edits: fields they
 * have not touched (still equal to the old saved value) take the new saved
 * value; edited fields keep the edit.
 */
export function rebaseForm<F extends Record<string, FormValue>>(form: F, oldBase: F, newBase: F): F {
  const out = { ...newBase };
  for (const key of Object.keys(newBase) as (keyof F)[]) {
    if (form[key] !== oldBase[key]) out[key] = form[key];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Codex

export interface CodexForm {
  [key: string]: FormValue;
  bin: string;
  approvalPolicy: ApprovalPolicy;
  model: string;
  effort: string;
  cwd: string;
}

export const APPROVAL_POLICIES: { value: ApprovalPolicy; label: string; hint: string }[] = [
  { value: 'guarded', label: 'Guarded', hint: 'Asks before any command not known to be safe; writes only inside the workspace.' },
  { value: 'open', label: 'Open', hint: 'Never asks; writes only inside the workspace.' },
  { value: 'read-only', label: 'Read-only', hint: 'Reads only; anything else must be asked for.' },
];

export function codexForm(c: CodexSettings): CodexForm {
  return {
    bin: c.bin ?? '',
    approvalPolicy: c.approvalPolicy,
    model: c.model ?? '',
    effort: c.effort ?? '',
    cwd: c.cwd ?? '',
  };
}

/** The `codex` part of a PATCH body, or null when nothing changed. */
export function codexPatch(saved: CodexSettings, form: CodexForm): CodexPatch | null {
  const out: CodexPatch = {};
  const text = (key: 'bin' | 'model' | 'effort' | 'cwd') => {
    const v = textOrNull(form[key]);
    if (v !== saved[key]) out[key] = v;
  };
  text('bin');
  if (form.approvalPolicy !== saved.approvalPolicy) out.approvalPolicy = form.approvalPolicy;
  text('model');
  text('effort');
  text('cwd');
  return Object.keys(out).length > 0 ? out : null;
}

// ---------------------------------------------------------------------------
// Provider

export interface ProviderForm {
  [key: string]: FormValue;
  /** A custom provider is used (off: Codex's default OpenAI provider). */
  enabled: boolean;
  id: string;
  name: string;
  baseUrl: string;
  envKey: string;
  wireApi: string;
}

/** What Codex speaks to a provider (Codex dropped "chat"). */
export const WIRE_APIS = ['responses'] as const;

export function providerForm(p: ProviderSettings | null): ProviderForm {
  return {
    enabled: p !== null,
    id: p?.id ?? '',
    name: p?.name ?? '',
    baseUrl: p?.baseUrl ?? '',
    envKey: p?.envKey ?? '',
    wireApi: p?.wireApi ?? 'responses',
  };
}

/** The provider a form describes (null: none). */
export function providerFromForm(form: ProviderForm): ProviderSettings | null {
  if (!form.enabled) return null;
  return {
    id: form.id.trim(),
    name: textOrNull(form.name),
    baseUrl: form.baseUrl.trim(),
    envKey: textOrNull(form.envKey),
    wireApi: form.wireApi.trim() || 'responses',
  };
}

/**
 * The `provider` part of a PATCH body (the whole provider, or null to remove
 * it), or undefined when nothing changed.
 */
export function providerPatch(
  saved: ProviderSettings | null,
  form: ProviderForm,
): { provider: ProviderSettings | null } | undefined {
  const next = providerFromForm(form);
  if (next === null) return saved === null ? undefined : { provider: null };
  if (
    saved &&
    saved.id === next.id &&
    saved.name === next.name &&
    saved.baseUrl === next.baseUrl &&
    saved.envKey === next.envKey &&
    saved.wireApi === next.wireApi
  ) {
    return undefined;
  }
  return { provider: next };
}

/** What to fix before saving a provider, or null. The server checks the
 *  rest (and its message is shown as well). */
export function providerProblem(form: ProviderForm): string | null {
  if (!form.enabled) return null;
  if (!form.id.trim()) return 'Give the provider an ID (for example "local").';
  const url = form.baseUrl.trim();
  if (!url) return 'Enter the base URL of the provider’s API (for example http://127.0.0.1:11434/v1).';
  if (!/^https?:\/\/\S+$/i.test(url)) return 'The base URL must start with http:// or https://.';
  return null;
}

// ---------------------------------------------------------------------------
// Relay token (write-only: the page only learns whether one is stored)

/** The relay token to store (the field, trimmed), or what to fix first. The
 *  server checks the rest (length, control characters; its message is shown). */
export function relayTokenInput(raw: string): { token: string } | { problem: string } {
  const token = raw.trim();
  if (!token) return { problem: 'Enter the relay token to save it (the bearer token the relay expects).' };
  return { token };
}
