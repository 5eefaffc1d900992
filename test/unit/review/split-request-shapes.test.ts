import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type Tensor } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Review (session 6): a predictBatch larger than maxBatchSize runs as chunks whose outputs are
 * joined. An output whose non-batch size depends on the batch (declared -1) cannot be joined
 * exactly: the answer must be a refusal, never a tensor whose data and shape disagree.
 */
describe('review (s6): a split predictBatch is exact or refused', () => {
  it('chunks whose outputs differ beyond the batch dimension: INFERENCE_FAILED naming the output, no inexact tensor', async () => {
    // y has one column per row of its batch: [rows, rows].
    const runtime = fakeRuntime({
      signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, -1] }] },
      compute: (inputs) => {
        const rows = inputs['x']!.shape[0]!;
        return { y: { data: new Float32Array(rows * rows).fill(rows), shape: [rows, rows], dtype: 'float32' } as Tensor };
      },
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const events: string[] = [];
    host.on('requestCompleted', (e) => events.push(`completed ${e.rows}`));
    host.on('requestFailed', (e) => events.push(`failed ${e.code} ${e.rows}`));
    const x = { data: new Float32Array(6 * 4), shape: [6, 4] };
    const out = await host.predictBatch('m', { x }).catch((e: unknown) => e);
    expect(out).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringContaining("output 'y'") });
    // Session 10: one failed request, not two completed chunks (the refusal was not reported at all).
    expect(events).toEqual(['failed INFERENCE_FAILED 6']);
    // Chunks of one shape still join: 8 rows in two chunks of 4.
    const even = await host.predictBatch('m', { x: { data: new Float32Array(8 * 4), shape: [8, 4] } });
    expect(even['y']).toEqual({ data: new Float32Array(32).fill(4), shape: [8, 4], dtype: 'float32' });
    expect(events).toEqual(['failed INFERENCE_FAILED 6', 'completed 8']);
    await host.close();
  });
});
