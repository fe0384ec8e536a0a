// Settings (kept in `data.settings`, live by `settings.changed`), and the
// models Codex reports. (The account is in ./account.svelte.ts.)

import { api } from '../api';
import type { Model, Settings, SettingsPatch } from '../types';
import { data } from './store.svelte';

export const codexInfo = $state({
  models: [] as Model[],
});

export async function loadSettings(): Promise<Settings> {
  const s = await api.settings();
  data.settings = s;
  return s;
}

/** PATCHes settings and shows the server's answer; throws ApiError. */
export async function saveSettings(body: SettingsPatch): Promise<Settings> {
  const s = await api.patchSettings(body);
  data.settings = s;
  return s;
}

export async function setProviderKey(key: string | null): Promise<Settings> {
  const s = key === null ? await api.clearProviderKey() : await api.setProviderKey(key);
  data.settings = s;
  return s;
}

/** Stores (a string) or removes (null) the relay token; used from the next start. */
export async function setRelayToken(token: string | null): Promise<Settings> {
  const s = token === null ? await api.clearRelayToken() : await api.setRelayToken(token);
  data.settings = s;
  return s;
}

export async function loadModels(): Promise<void> {
  try {
    codexInfo.models = (await api.models()).data;
  } catch {
    codexInfo.models = []; // Codex may not be ready yet; the pickers fall back to text.
  }
}
