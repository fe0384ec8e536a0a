// The model and effort pickers (components/ModelPicker.svelte): what they
// offer, from the models Codex lists (GET /api/models). Pure functions,
// unit-tested in tests/models.test.ts.

import type { Model } from './types';

/** A model as the pickers name it. */
export function modelName(m: Model): string {
  return m.displayName || m.id;
}

/** The model Codex uses when none is chosen. */
export function defaultModel(models: Model[]): Model | undefined {
  return models.find((m) => m.isDefault);
}

/** Whether `id` is one Codex lists ('' is the default, which is). */
export function isListedModel(models: Model[], id: string): boolean {
  return id === '' || models.some((m) => m.id === id);
}

/**
 * The efforts a model takes: '' is Codex's default model; a model Codex does
 * not list (a provider's own, typed in) may take any effort a listed one does.
 */
export function effortsFor(models: Model[], modelId: string): string[] {
  const m = modelId ? models.find((x) => x.id === modelId) : defaultModel(models);
  return m ? m.efforts : [...new Set(models.flatMap((x) => x.efforts))];
}

/** The effort the model's default stands for, for the empty choice's label. */
export function defaultEffort(models: Model[], modelId: string): string | null {
  const m = modelId ? models.find((x) => x.id === modelId) : defaultModel(models);
  return m?.defaultEffort ?? null;
}

/** The effort kept when the model changes: the chosen one if the new model
 *  takes it, else '' (the new model's default). */
export function effortAfterModelChange(models: Model[], modelId: string, effort: string): string {
  return effort && effortsFor(models, modelId).includes(effort) ? effort : '';
}
