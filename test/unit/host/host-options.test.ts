import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostOptions } from '../../../src/index.js';

describe('ModelHost options are validated at construction', () => {
  it.each<[string, unknown, RegExp]>([
    ['an unknown option', { repo: './models' }, /`options` has an unknown option 'repo'/],
    ['a bad repository', { repository: 42 }, /`repository` must be an object, got 42/],
    ['an empty repository root', { repository: { root: '' } }, /`repository.root` must be a non-empty string, got ""/],
    ['a bad version policy', { repository: { root: '.', versionPolicy: { latest: 0 } } }, /repository.versionPolicy.latest must be an integer ≥ 1, got 0/],
    ['a typo in defaults', { defaults: { warmpu: false } }, /`defaults` has an unknown option 'warmpu' \(did you mean 'warmup'\?\)/],
    ['an unknown runtime', { models: { m: { runtime: 'torch' } } }, /`models.m.runtime` must be one of 'tfjs', 'onnx', got "torch"/],
    ['a bad tfjs backend', { defaults: { tfjs: { backend: 'gpu' } } }, /`defaults.tfjs.backend` must be one of 'auto', 'node', 'wasm', 'cpu', got "gpu"/],
    ['bad onnx threads', { defaults: { onnx: { intraOpNumThreads: -1 } } }, /`defaults.onnx.intraOpNumThreads` must be an integer from 0 to 1024, got -1/],
    ['a bad model name', { models: { '../x': {} } }, /`models` has an entry "..\/x", which is not a valid model name/],
    ['a runtime without load', { runtimes: { mine: {} } }, /`runtimes.mine` must be a Runtime/],
    ['a logger without methods', { logger: {} }, /`logger.info` must be a function/],
    ['a zero maxBatchSize', { defaults: { batching: { maxBatchSize: 0 } } }, /`defaults.batching.maxBatchSize` must be an integer from 1 to 1000000, got 0/],
    ['a negative maxDelayMs', { models: { m: { batching: { maxDelayMs: -1 } } } }, /`models.m.batching.maxDelayMs` must be a number from 0 to 60000, got -1/],
    ['batching: true', { defaults: { batching: true } }, /`defaults.batching` must be an object or false, got true/],
    ['a bad queue size', { defaults: { queue: { maxSize: 0 } } }, /`defaults.queue.maxSize` must be an integer from 1 to 100000000, got 0/],
    ['a bad concurrency', { defaults: { concurrency: 1.5 } }, /`defaults.concurrency` must be an integer from 1 to 1024, got 1.5/],
    ['a bad timeoutMs', { defaults: { timeoutMs: 'soon' } }, /`defaults.timeoutMs` must be a number from 0 to 2147483647, got "soon"/],
    ['a clock without now', { clock: { setTimeout() {}, clearTimeout() {} } }, /`clock.now` must be a function/],
  ])('rejects %s', (_title, options, message) => {
    expect(() => new ModelHost(options as ModelHostOptions)).toThrow(message);
    try {
      new ModelHost(options as ModelHostOptions);
    } catch (error) {
      expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    }
  });

  it('accepts custom runtime sections named after the runtime, and does not mutate the options', () => {
    const options = Object.freeze({
      runtimes: Object.freeze({ mine: { name: 'mine', load: async () => ({}) as never } }),
      models: Object.freeze({ m: Object.freeze({ runtime: 'mine', mine: Object.freeze({ anything: 1 }) }) }),
    });
    expect(() => new ModelHost(options as unknown as ModelHostOptions)).not.toThrow();
  });
});
