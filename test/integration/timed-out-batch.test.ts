import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type RequestFailedEvent, type Runtime } from '../../src/index.js';
import { FAKE_SOURCE } from '../helpers/fake-runtime.js';
import { hangingRuntime as hangingOn } from '../helpers/hanging-runtime.js';

/**
 * A batch of several requests whose run got no answer within its time bound is not bisected
 * (session 10): each half still holding the hanging input cost another whole timeout and
 * another abandoned run (about 1 + log2(n)), so two hanging requests in batches of 8 made the
 * version `stalled` (8 abandoned runs) — a client that found an input hanging the runtime took
 * the version out of service. Now its requests fail with the timeout, and the probe alone
 * decides whether it counts against the model.
 */
const HANG = 666;

/** The runtime these tests hang: on HANG, until released or for `hangMs`. */
const hangingRuntime = (hangMs?: number) => hangingOn({ hangOn: HANG, hangMs });

/** Eight requests submitted together (one batch): two of them hang the runtime. */
function batchOfEight(host: ModelHost, round: number) {
  const values = [1, 2, HANG, 3, 4, HANG, 5, 6].map((v) => (v === HANG ? v : round * 10 + v));
  return Promise.all(values.map((v) => host.predict('m', [v]).then((out) => out['y']!.data[0], (e: ModelHostError) => e)));
}

describe('a timed-out batch of several requests is not bisected', () => {
  it('instances.runTimeoutMs: each batch holding hanging inputs costs one abandoned run and one probe; its requests fail with the timeout, blamed on them; the version stays ready', async () => {
    const { runtime, hung, state } = hangingRuntime();
    const host = new ModelHost({
      runtimes: { hang: runtime },
      models: { m: { runtime: 'hang', instances: { kind: 'inline', runTimeoutMs: 20 }, batching: { maxBatchSize: 8, maxDelayMs: 5 }, warmup: false } },
    });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [7]))['y']!.data[0]).toBe(14); // known-good inputs for the probe
    // Bisected, 4 such batches left 8+ runs abandoned: the version was stalled (not ready).
    for (let round = 1; round <= 6; round++) {
      const runs = state.runs;
      const results = await batchOfEight(host, round);
      for (const r of results) {
        expect(r).toMatchObject({
          code: ErrorCode.INFERENCE_FAILED,
          message:
            "model 'm' v1: inference failed: no answer within 20 ms (instances.runTimeoutMs): the run was abandoned (blamed on the requests of its batch: it got no answer while other inputs succeed on this version; a run that got none is not run again, so which request hung it is not known)",
        });
      }
      expect(state.runs - runs, `round ${round}: the batch and the probe`).toBe(2);
      expect(hung.length, `round ${round}`).toBe(round); // one abandoned run per batch
    }
    expect(failed.map((f) => f.blame)).toEqual(Array(48).fill('request'));
    expect(host.status('m').versions[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
    expect(host.status('m').versions[0]!.stalled).toBeUndefined();
    expect(host.ready('m')).toBe(true);
    expect((await host.predict('m', [3]))['y']!.data[0]).toBe(6);
    await host.close();
    for (const resolve of hung.splice(0)) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });

  it("instances.runTimeoutMs: the model's when the probe gets no answer either; it counts once per batch and opens the breaker", async () => {
    const { runtime, hung, state } = hangingRuntime();
    const host = new ModelHost({
      runtimes: { hang: runtime },
      models: {
        m: { runtime: 'hang', instances: { kind: 'inline', runTimeoutMs: 20 }, batching: { maxBatchSize: 8, maxDelayMs: 5 }, warmup: false, breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 } },
      },
    });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [7]))['y']!.data[0]).toBe(14);
    state.broken = true; // now every run hangs
    const results = await batchOfEight(host, 1);
    for (const r of results) expect(r).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: "model 'm' v1: inference failed: no answer within 20 ms (instances.runTimeoutMs): the run was abandoned" });
    expect(failed.map((f) => f.blame)).toEqual(Array(8).fill('model'));
    expect(hung.length).toBe(2); // the batch and the probe, nothing else
    expect(host.status('m').versions[0]!.breaker).toBe('closed'); // 1 of 2 calls
    await batchOfEight(host, 2);
    expect(host.status('m').versions[0]!.breaker).toBe('open');
    await host.close();
    for (const resolve of hung.splice(0)) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });

  it('breaker.timeoutMs: the batch is not run again, its requests fail with the timeout, the probe (after the slow run returned) decides; the breaker hears nothing', async () => {
    const { runtime, state } = hangingRuntime(60);
    const host = new ModelHost({
      runtimes: { hang: runtime },
      models: { m: { runtime: 'hang', batching: { maxBatchSize: 8, maxDelayMs: 5 }, warmup: false, breaker: { timeoutMs: 40, volumeThreshold: 1 } } },
    });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [7]))['y']!.data[0]).toBe(14);
    for (let round = 1; round <= 3; round++) {
      const hanging = state.hangingRuns;
      const results = await batchOfEight(host, round);
      for (const r of results) {
        expect(r).toMatchObject({
          code: ErrorCode.INFERENCE_FAILED,
          message:
            "model 'm' v1: inference failed: the runtime call timed out after 40ms (breaker.timeoutMs) (blamed on the requests of its batch: it got no answer while other inputs succeed on this version; a run that got none is not run again, so which request hung it is not known)",
        });
      }
      expect(state.hangingRuns - hanging, `round ${round}`).toBe(1);
    }
    expect(failed.map((f) => f.blame)).toEqual(Array(24).fill('request'));
    expect(host.status('m').versions[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
    expect((await host.predict('m', [3]))['y']!.data[0]).toBe(6);
    await host.close();
  });

  it('breaker.timeoutMs: a lone request that hangs for good still settles (the probe, behind its held slot, is bounded too) and is the model’s', async () => {
    const { runtime, hung, state } = hangingRuntime();
    const host = new ModelHost({ runtimes: { hang: runtime }, models: { m: { runtime: 'hang', batching: false, warmup: false, breaker: { timeoutMs: 20, volumeThreshold: 5 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [7]))['y']!.data[0]).toBe(14);
    state.broken = true;
    await expect(host.predict('m', [1])).rejects.toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: "model 'm' v1: inference failed: the runtime call timed out after 20ms (breaker.timeoutMs)" });
    const closing = host.close(); // waits for the held slot: the runtime is told to answer again
    state.broken = false;
    await vi.waitFor(() => {
      for (const resolve of hung.splice(0)) resolve();
      expect(state.open).toBe(0);
    });
    await closing;
  });
});

describe('the message of a request blamed on itself ends as docs/observability.md says', () => {
  /** The parentheses the doc lists under "Who is blamed", one per bullet. */
  const documented = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('- `(blamed on the '))
    .map((line) => line.slice(3, -1));

  it('each ending the code gives is one the doc lists, and the doc lists no other', async () => {
    expect(documented).toHaveLength(4);
    const { runtime, hung, state } = hangingRuntime();
    const poisoned = (x: number) => x === 13;
    const throwing: Runtime = {
      ...runtime,
      async load(...args) {
        const session = await runtime.load(...args);
        return { ...session, run: (inputs) => ((inputs['x']!.data as Float32Array).some(poisoned) ? Promise.reject(new Error('0 samples')) : session.run(inputs)) };
      },
    };
    const host = new ModelHost({
      runtimes: { hang: throwing },
      models: { m: { runtime: 'hang', instances: { kind: 'inline', runTimeoutMs: 20 }, batching: { maxBatchSize: 8, maxDelayMs: 5 }, warmup: false } },
    });
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [7]))['y']!.data[0]).toBe(14);
    const messages = new Set<string>();
    const fail = (v: number) => host.predict('m', [v]).then(() => undefined, (e: ModelHostError) => void messages.add(e.message));
    await fail(13); // alone: fails again on its own
    await fail(HANG); // alone: no answer
    await Promise.all([1, 2, 13, 3].map((v) => (v === 13 ? fail(v) : host.predict('m', [v])))); // batched: its batch-mates succeed
    await batchOfEight(host, 2).then((results) => results.forEach((r) => messages.add((r as ModelHostError).message)));
    const endings = [...messages].map((m) => m.slice(m.lastIndexOf(' (blamed on ') + 1));
    for (const ending of endings) expect(documented).toContain(ending);
    expect(new Set(endings).size).toBe(3); // the fourth (the isolation budget ran out) needs more than two culprits per batch
    await host.close();
    for (const resolve of hung.splice(0)) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });
});
