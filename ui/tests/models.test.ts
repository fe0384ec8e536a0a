import { describe, expect, it } from 'vitest';
import { defaultEffort, effortAfterModelChange, effortsFor, isListedModel, modelName } from '../src/lib/models';
import type { Model } from '../src/lib/types';

const models: Model[] = [
  { id: 'gpt-5', displayName: 'GPT-5', efforts: ['low', 'medium', 'high'], defaultEffort: 'medium', isDefault: true },
  { id: 'gpt-5-mini', displayName: '', efforts: ['minimal', 'low'], defaultEffort: 'low', isDefault: false },
];

describe('model pickers', () => {
  it('names models and tells listed ones from typed ones', () => {
    expect(modelName(models[0])).toBe('GPT-5');
    expect(modelName(models[1])).toBe('gpt-5-mini');
    expect(isListedModel(models, '')).toBe(true);
    expect(isListedModel(models, 'gpt-5-mini')).toBe(true);
    expect(isListedModel(models, 'llama3.1:8b')).toBe(false);
  });

  it('offers the efforts of the model, of the default model, or of any model', () => {
    expect(effortsFor(models, 'gpt-5-mini')).toEqual(['minimal', 'low']);
    expect(effortsFor(models, '')).toEqual(['low', 'medium', 'high']);
    expect(effortsFor(models, 'llama3.1:8b')).toEqual(['low', 'medium', 'high', 'minimal']);
    expect(effortsFor([], '')).toEqual([]);
    expect(defaultEffort(models, '')).toBe('medium');
    expect(defaultEffort(models, 'gpt-5-mini')).toBe('low');
    expect(defaultEffort(models, 'other')).toBeNull();
  });

  it('keeps the effort across a model change only when the new model takes it', () => {
    expect(effortAfterModelChange(models, 'gpt-5-mini', 'low')).toBe('low');
    expect(effortAfterModelChange(models, 'gpt-5-mini', 'high')).toBe('');
    expect(effortAfterModelChange(models, 'gpt-5', '')).toBe('');
  });
});
