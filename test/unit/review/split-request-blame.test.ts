import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';

/**
 * Session 10, as a new user: a `predictBatch` larger than `maxBatchSize` runs as chunks. When
 * one chunk's failure was pinned on the request, its sibling chunks failed with the same error
 * but no blame, so their `requestFailed` events counted as the version's faults (stats, the
 * rollout guard); and a refusal named the chunk's shape as "this request's inputs".
 */
const runtime = (hangOn: number, throwOn: number) => hangingRuntime({ name: 'rows', hangOn, throwOn });

describe('review (s10): a predictBatch split into chunks, one of them blamed on the request', () => {
  it('every chunk it fails carries the blame: none counts as the version’s fault', async () => {
    const { runtime: rows, release } = runtime(666, 13);
    const host = new ModelHost({ runtimes: { rows }, models: { m: { runtime: 'rows', batching: { maxBatchSize: 2 }, instances: { kind: 'inline', runTimeoutMs: 20 }, breaker: { enabled: false } } } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE });
    const error = (await host.predictBatch('m', { x: [[666], [1], [2], [3], [4], [5]] }).catch((e: ModelHostError) => e)) as ModelHostError;
    expect(error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/blamed on the request/) });
    // One request, one event (the hung chunk's siblings failed with it report nothing of their own), blamed on the request.
    expect(failed).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, rows: 6, blame: 'request' })]);
    expect(host.stats('m').versions[1]!.windows['1m']).toMatchObject({ versionErrors: 0 });
    release();
    await host.close();
  });

  it('a chunk the runtime refuses names the request’s inputs, and says it was a chunk of them', async () => {
    const { runtime: rows } = runtime(666, 13);
    const host = new ModelHost({ runtimes: { rows }, models: { m: { runtime: 'rows', batching: { maxBatchSize: 2 }, warmup: { inputs: { x: [[1]] } } } } });
    await host.load('m', { source: FAKE_SOURCE });
    const error = (await host.predictBatch('m', { x: [[1], [2], [13], [3], [4]] }).catch((e: ModelHostError) => e)) as ModelHostError;
    expect(error).toMatchObject({
      code: ErrorCode.INVALID_INPUT,
      message: expect.stringMatching(/^model 'm' v1: the runtime rejected this request's inputs \(x: float32 \[5, 1\]; rows 2 to 3 of them \(from 0\), run as one chunk: maxBatchSize 2\) \(blamed on the request: /),
    });
    await host.close();
  });
});
