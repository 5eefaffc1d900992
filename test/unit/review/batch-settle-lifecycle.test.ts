import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Review (session 6): requests of a batch written into a reused buffer, cancelled, expired,
 * drained while it runs: each settles once with the right code, results are exact, `stats()`
 * counts each request once, nothing is left unhandled.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

const tick = () => new Promise((r) => setImmediate(r));

describe('review (s6): cancel, deadline and close around a running batch', () => {
  it('aborted and expired while running or queued, then close() mid-batch: codes, exact values, counts', async () => {
    process.on('unhandledRejection', onUnhandled);
    let gate: (() => void) | undefined;
    let hold = false;
    const runtime = fakeRuntime({ runGate: () => (hold ? new Promise<void>((r) => (gate = r)) : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    // warm the reused buffer: one batch of several requests first
    await Promise.all([1, 2].map((v) => host.predict('m', [v, v, v, v])));
    hold = true;
    const aborts = { a: new AbortController(), e: new AbortController() };
    const outcome = (p: Promise<Record<string, { data: unknown }>>) =>
      p.then(
        (out) => Array.from(out['y']!.data as Float32Array),
        (error: ModelHostError) => error.code,
      );
    const running = {
      a: outcome(host.predict('m', [10, 10, 10, 10], { signal: aborts.a.signal })),
      b: outcome(host.predict('m', [11, 11, 11, 11], { timeoutMs: 30 })),
      c: outcome(host.predict('m', [12, 12, 12, 12])),
      d: outcome(host.predict('m', [13, 13, 13, 13])),
    };
    await tick();
    expect(runtime.batches.at(-1)).toBe(4);
    const queued = {
      e: outcome(host.predict('m', [20, 20, 20, 20], { signal: aborts.e.signal })),
      f: outcome(host.predict('m', [21, 21, 21, 21], { timeoutMs: 30 })),
      g: outcome(host.predict('m', [22, 22, 22, 22])),
    };
    aborts.a.abort();
    aborts.e.abort();
    await new Promise((r) => setTimeout(r, 60)); // b and f pass their deadlines
    const closing = host.close();
    hold = false;
    gate!();
    await closing;
    expect(await running.a).toBe(ErrorCode.CANCELLED);
    expect(await running.b).toBe(ErrorCode.DEADLINE_EXCEEDED);
    expect(await running.c).toEqual([25, 25, 25, 25]);
    expect(await running.d).toEqual([27, 27, 27, 27]);
    expect(await queued.e).toBe(ErrorCode.CANCELLED);
    expect(await queued.f).toBe(ErrorCode.DEADLINE_EXCEEDED);
    expect(await queued.g).toEqual([45, 45, 45, 45]);
    expect(unhandled).toEqual([]);
  });
});
