import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isModelHostError, ModelHostError } from '../../../src/index.js';

describe('ModelHostError', () => {
  it('carries code, model, version and cause', () => {
    const cause = new Error('boom');
    const error = new ModelHostError(ErrorCode.INFERENCE_FAILED, 'failed', { cause, model: 'm', version: 2 });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ModelHostError');
    expect(error).toMatchObject({ code: 'INFERENCE_FAILED', model: 'm', version: 2, cause });
    expect(isModelHostError(error, ErrorCode.INFERENCE_FAILED)).toBe(true);
    expect(isModelHostError(error, ErrorCode.QUEUE_FULL)).toBe(false);
  });

  it('is recognized by instanceof across duplicate installs (branded with a registry symbol)', () => {
    // What another copy of the class produces: a different prototype with the same brand.
    const foreign: object = Object.create({ [Symbol.for('modelhost.error')]: true });
    expect(foreign instanceof ModelHostError).toBe(true);
    expect(new Error('x') instanceof ModelHostError).toBe(false);
    expect((null as unknown as object) instanceof ModelHostError).toBe(false);
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it('documents exactly the codes that exist', () => {
    expect(new Set(documented)).toEqual(new Set(Object.values(ErrorCode)));
    expect(documented).toHaveLength(Object.values(ErrorCode).length);
  });
});
