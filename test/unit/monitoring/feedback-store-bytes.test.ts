/**
 * Review of issue 19 (session 11): `feedback.maxBytes` counted each remembered request as 8 bytes
 * per row, 2 per character of its id and 64 for the entry (144 bytes for a one-row request with a
 * 36-character id); the heap held ~500 (the entry's object and typed array, lru-cache's and its
 * Map's slots), so the bound held three times what it said. The count now includes what an entry
 * really costs.
 */
import { describe, expect, it } from 'vitest';
import { liveHeapBytes as heap } from '../../helpers/heap.js';
import { FeedbackStore } from '../../../src/monitoring/feedback-store.js';

describe('feedback.maxBytes counts what the remembered predictions hold', () => {
  it('100 000 one-row predictions with 36-character ids: the bytes counted are at least 80% of the heap they take', () => {
    const store = new FeedbackStore('m', { task: 'classification', output: undefined, ttlMs: 3_600_000, maxEntries: 200_000, maxBytes: 1024 ** 3, windowMs: 600_000 }, () => 0);
    const outputs = { y: { data: new Float32Array([0.1, 0.9]), shape: [1, 2], dtype: 'float32' as const } };
    const before = heap();
    // 36-character ids, as a UUID's, made here (the store keeps them: they count as held).
    for (let i = 0; i < 100_000; i++) store.record(String(i).padStart(36, '0'), 1, outputs, 1);
    const taken = heap() - before;
    expect(store.pending).toBe(100_000);
    console.info(`[feedback bytes] counted ${store.bytes}, heap ${taken}, ratio ${(store.bytes / taken).toFixed(2)}`);
    expect(store.bytes).toBeGreaterThanOrEqual(0.8 * taken);
    expect(store.bytes).toBeLessThanOrEqual(3 * taken);
  });
});
