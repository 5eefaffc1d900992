/**
 * Review of issue 19 (session 11): `cache.maxBytes` (and `modelhost_cache_bytes`) counted an
 * entry as 64 bytes, 64 per tensor and its data; the heap held ~830 bytes besides the data for
 * an entry of one input and one output (objects, shapes, typed arrays, lru-cache's slots), so a
 * small model's cache held two to three times its bound. The count now includes what an entry
 * really costs.
 */
import { describe, expect, it } from 'vitest';
import { liveHeapBytes as heap } from '../../helpers/heap.js';
import { ResponseCache } from '../../../src/monitoring/response-cache.js';

describe('cache.maxBytes counts what the cached answers hold', () => {
  for (const features of [4, 64, 1024]) {
    it(`50 000 answers of ${features} float inputs and 10 outputs: the bytes counted are at least 80% of the heap they take`, () => {
      const cache = new ResponseCache({ enabled: true, maxBytes: 1024 ** 3 });
      const before = heap();
      for (let i = 0; i < 50_000; i++) {
        const x = new Float32Array(features);
        x[0] = i;
        const inputs = { x: { data: x, shape: [1, features], dtype: 'float32' as const } };
        cache.set(i, 1, inputs, false, { y: { data: new Float32Array(10), shape: [1, 10], dtype: 'float32' as const } });
      }
      const taken = heap() - before;
      expect(cache.size).toBe(50_000);
      console.info(`[cache bytes] ${features} inputs: counted ${cache.bytes}, heap ${taken}, ratio ${(cache.bytes / taken).toFixed(2)}`);
      expect(cache.bytes).toBeGreaterThanOrEqual(0.8 * taken);
      expect(cache.bytes).toBeLessThanOrEqual(2 * taken);
    });
  }
});
