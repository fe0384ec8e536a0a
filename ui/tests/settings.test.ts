import { describe, expect, it } from 'vitest';
import {
  codexForm,
  codexPatch,
  providerForm,
  providerPatch,
  providerProblem,
  rebaseForm,
  relayTokenInput,
  textOrNull,
} from '../src/lib/settings';
import type { CodexSettings, ProviderSettings } from '../src/lib/types';

const codex: CodexSettings = { bin: null, approvalPolicy: 'guarded', model: 'gpt-5', effort: null, cwd: '/work' };
const provider: ProviderSettings = {
  id: 'local',
  name: 'Local',
  baseUrl: 'http://localhost:11434/v1',
  envKey: null,
  wireApi: 'responses',
};

describe('textOrNull', () => {
  it('trims and maps blank to null', () => {
    expect(textOrNull('  ')).toBeNull();
    expect(textOrNull(' a ')).toBe('a');
  });
});

describe('codexPatch', () => {
  it('is null when nothing changed (blank fields are null)', () => {
    expect(codexPatch(codex, codexForm(codex))).toBeNull();
    expect(codexPatch(codex, { ...codexForm(codex), effort: '   ', model: ' gpt-5 ' })).toBeNull();
  });

  it('sends only the changed fields, blank as null', () => {
    const form = { ...codexForm(codex), bin: '/opt/codex', approvalPolicy: 'open' as const, cwd: '' };
    expect(codexPatch(codex, form)).toEqual({ bin: '/opt/codex', approvalPolicy: 'open', cwd: null });
  });
});

describe('providerPatch', () => {
  it('is undefined without changes, with or without a provider', () => {
    expect(providerPatch(null, providerForm(null))).toBeUndefined();
    expect(providerPatch(provider, providerForm(provider))).toBeUndefined();
  });

  it('sends null to remove the provider', () => {
    expect(providerPatch(provider, { ...providerForm(provider), enabled: false })).toEqual({ provider: null });
  });

  it('sends the whole provider when a field changed, blanks as null', () => {
    const form = { ...providerForm(provider), name: ' ', envKey: 'LOCAL_KEY', baseUrl: ' http://h:1/v1 ' };
    expect(providerPatch(provider, form)).toEqual({
      provider: { id: 'local', name: null, baseUrl: 'http://h:1/v1', envKey: 'LOCAL_KEY', wireApi: 'responses' },
    });
  });

  it('sends a new provider', () => {
    const form = { ...providerForm(null), enabled: true, id: 'p', baseUrl: 'https://api.example/v1' };
    expect(providerPatch(null, form)).toEqual({
      provider: { id: 'p', name: null, baseUrl: 'https://api.example/v1', envKey: null, wireApi: 'responses' },
    });
  });
});

describe('providerProblem', () => {
  it('asks for an id and an http(s) base URL', () => {
    const base = { ...providerForm(null), enabled: true };
    expect(providerProblem(providerForm(null))).toBeNull();
    expect(providerProblem({ ...base, baseUrl: 'http://x' })).toMatch(/ID/);
    expect(providerProblem({ ...base, id: 'p' })).toMatch(/base URL/);
    expect(providerProblem({ ...base, id: 'p', baseUrl: 'ftp://x' })).toMatch(/http/);
    expect(providerProblem({ ...base, id: 'p', baseUrl: 'http://localhost:8080/v1' })).toBeNull();
  });
});

describe('rebaseForm', () => {
  it('takes new saved values for untouched fields and keeps edits', () => {
    const oldBase = codexForm(codex);
    const edited = { ...oldBase, model: 'o3' };
    const newBase = codexForm({ ...codex, model: 'gpt-5.1', cwd: '/elsewhere' });
    expect(rebaseForm(edited, oldBase, newBase)).toEqual({ ...newBase, model: 'o3' });
  });

  it('works for boolean fields', () => {
    const oldBase = providerForm(null);
    const newBase = providerForm(provider);
    expect(rebaseForm(oldBase, oldBase, newBase)).toEqual(newBase);
    expect(rebaseForm({ ...oldBase, enabled: true, id: 'mine' }, oldBase, newBase)).toEqual({ ...newBase, id: 'mine' });
  });
});

describe('relayTokenInput', () => {
  it('trims the token', () => {
    expect(relayTokenInput('  rt-123\t')).toEqual({ token: 'rt-123' });
  });

  it('refuses a blank field with a message', () => {
    for (const raw of ['', '   ', '\t']) {
      expect(relayTokenInput(raw)).toEqual({ problem: expect.stringMatching(/^Enter the relay token/) });
    }
  });
});
