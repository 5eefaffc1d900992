import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, ModelHostError, type Runtime, type Session, type Tensor } from '../../../src/index.js';
import { AFFINE_SIGNATURE, affine, FAKE_SOURCE } from '../../helpers/fake-runtime.js';

/**
 * Review of "a batch settles through one reaction on its run" (session 6): whatever a run
 * does (throws synchronously, rejects, returns outputs that break the contract, takes longer
 * than the breaker's bound), every request settles exactly once with the right code, the
 * events and stats count each request once, and no rejection goes unhandled.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

/** First value of a row says what the runtime does with any batch holding it. */
const SYNC_THROW = 101;
const REJECT = 102;
const BAD_ROWS = 103;
const SLOW = 104;

function faultyRuntime(seen: { changed: number }): Runtime {
  return {
    name: 'faulty',
    canLoad: () => true,
    async load(): Promise<Session> {
      return {
        signature: AFFINE_SIGNATURE,
        run(inputs: Record<string, Tensor>) {
          const x = inputs['x']!.data as Float32Array;
          const firsts = Array.from({ length: x.length / 4 }, (_, r) => x[r * 4]!);
          if (firsts.includes(SYNC_THROW)) throw new Error('native abort');
          if (firsts.includes(REJECT)) return Promise.reject(new Error('native failure'));
          if (firsts.includes(BAD_ROWS)) return Promise.resolve({ y: { data: new Float32Array(0), shape: [0, 4], dtype: 'float32' } as Tensor });
          if (firsts.includes(SLOW)) {
            // Still reads its input after the breaker gave up on it: that memory must not be handed to the next batch.
            const before = Array.from(x);
            return new Promise((resolve) =>
              setTimeout(() => {
                if (Array.from(x).some((v, i) => v !== before[i])) seen.changed++;
                resolve(affine(inputs));
              }, 30),
            );
          }
          return Promise.resolve(affine(inputs));
        },
        dispose() {},
      };
    },
  };
}

const expectedOf = (v: number) => [2 * v + 1, 2 * v + 3, 2 * v + 5, 2 * v + 7];

describe('review (s6): every request of a batch settles once, whatever its run does', () => {
  it('sync throws, rejections, contract-breaking outputs and breaker timeouts mixed into 30 bursts: each request settles once, right code, exact values; counts agree', async () => {
    process.on('unhandledRejection', onUnhandled);
    const seen = { changed: 0 };
    const host = new ModelHost({
      runtimes: { faulty: faultyRuntime(seen) },
      defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 }, concurrency: 2, breaker: { timeoutMs: 10, volumeThreshold: 1000 }, warmup: false },
    });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'faulty' } });
    const settledIds = new Map<string, number>();
    const count = (id: string | undefined) => settledIds.set(id!, (settledIds.get(id!) ?? 0) + 1);
    host.on('requestCompleted', (e) => count(e.id));
    host.on('requestFailed', (e) => count(e.id));
    let batchRequests = 0;
    const timedOut: string[] = [];
    host.on('batchFailed', (e) => void (/breaker\.timeoutMs/.test(e.message) && timedOut.push(e.message)));
    host.on('batchCompleted', (e) => (batchRequests += e.requests));
    const faults = [SYNC_THROW, REJECT, BAD_ROWS, SLOW];
    const results: Promise<void>[] = [];
    let n = 0;
    let succeeded = 0;
    for (let burst = 0; burst < 30; burst++) {
      const fault = faults[burst % faults.length]!;
      for (let k = 0; k < 6; k++) {
        const id = `r${n++}`;
        const value = k === 2 ? fault : burst * 10 + k;
        const p = host.predict('m', [value, value + 1, value + 2, value + 3], { id });
        let settles = 0;
        results.push(
          p.then(
            (out) => {
              settles++;
              // a slow request succeeds when its batch did not hold it up to the bound
              expect([SYNC_THROW, REJECT, BAD_ROWS]).not.toContain(value);
              expect(Array.from(out['y']!.data as Float32Array)).toEqual(expectedOf(value));
              succeeded++;
            },
            (error: unknown) => {
              settles++;
              expect(error).toBeInstanceOf(ModelHostError);
              // a request the runtime threw on alone is pinned on its input (INVALID_INPUT, s10); bad rows and timeouts stay INFERENCE_FAILED
              expect((error as ModelHostError).code).toBe([SYNC_THROW, REJECT].includes(value) && /rejected this request's inputs/.test((error as Error).message) ? ErrorCode.INVALID_INPUT : ErrorCode.INFERENCE_FAILED);
              // only a faulty request fails (blamed on it: its batch-mates succeed when run again),
              // or a batch-mate of a slow one whose batch the breaker's bound gave up on (not run again, s10)
              // (bursts 2 ms apart may share a batch)
              if (!faults.includes(value)) {
                expect((error as ModelHostError).message).toMatch(/breaker\.timeoutMs/);
              }
            },
          ).then(() => expect(settles).toBe(1)),
        );
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(results);
    expect(unhandled.map((e) => String((e as Error)?.stack ?? e))).toEqual([]);
    expect(seen.changed).toBe(0);
    expect(settledIds.size).toBe(n);
    expect([...settledIds.values()].every((c) => c === 1)).toBe(true);
    const w = host.stats('m').versions[1]!.windows['1m'];
    expect(w.requests).toBe(n);
    expect(w.requests - w.errors).toBe(succeeded);
    expect(batchRequests).toBeGreaterThan(0);
    expect(timedOut.length).toBeGreaterThan(0); // the slow runs did outlive the bound while the next batches ran
    await host.close();
  });
});
