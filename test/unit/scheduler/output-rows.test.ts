import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('outputs that cannot be split per request', () => {
  it('a batched model whose output has a data-dependent leading size (3 boxes for any batch) fails the request, never mis-splits', async () => {
    const boxes = fakeRuntime({
      compute: () => ({ y: { data: new Float32Array(12), shape: [3, 4], dtype: 'float32' } }),
    });
    const host = new ModelHost({ runtimes: { fake: boxes }, defaults: { warmup: { runs: 0 } } });
    try {
      await host.load('detector', { source: FAKE_SOURCE });
      const results = await Promise.allSettled([host.predict('detector', [1, 2, 3, 4]), host.predict('detector', [5, 6, 7, 8])]);
      for (const result of results) {
        expect(result).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/output 'y' has 3 rows for a batch of [12], so it cannot be split per request/) } });
      }
    } finally {
      await host.close();
    }
  });
});
