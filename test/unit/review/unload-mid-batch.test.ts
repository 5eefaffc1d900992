import { afterEach, describe, expect, it } from 'vitest';
import { ModelHost, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Review (session 6): a version unloaded while one of its batches (written into a reused
 * buffer) runs and more of its requests wait: each settles once, exact or with a code, and
 * the other version keeps answering exactly.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

describe('review (s6): unload mid-batch', () => {
  it('in-flight requests of the unloaded version finish exactly; its queued ones settle once; the other version serves', async () => {
    process.on('unhandledRejection', onUnhandled);
    let gate: (() => void) | undefined;
    let hold = false;
    const runtime = fakeRuntime({ runGate: () => (hold ? new Promise<void>((r) => (gate = r)) : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 3, maxDelayMs: 1 } } });
    await host.load('m', { source: FAKE_SOURCE, version: 1 });
    await host.load('m', { source: FAKE_SOURCE, version: 2 });
    const outcome = (p: Promise<Record<string, { data: unknown }>>) =>
      p.then(
        (out) => Array.from(out['y']!.data as Float32Array),
        (error: ModelHostError) => error.code,
      );
    await Promise.all([1, 2, 3].map((v) => host.predict('m', [v, v, v, v], { version: 1 }))); // a batch of 3 on v1 first: its buffer is reused next
    hold = true;
    const running = [4, 5, 6].map((v) => outcome(host.predict('m', [v, v, v, v], { version: 1 })));
    await new Promise((r) => setImmediate(r));
    const queued = [7, 8].map((v) => outcome(host.predict('m', [v, v, v, v], { version: 1 })));
    const unloading = host.unload('m', 1);
    await new Promise((r) => setImmediate(r));
    hold = false;
    gate!();
    await unloading;
    expect(await Promise.all(running)).toEqual([4, 5, 6].map((v) => Array(4).fill(2 * v + 1)));
    const late = await Promise.all(queued);
    for (const [k, r] of late.entries()) expect([Array(4).fill(2 * (7 + k) + 1), 'SHUTTING_DOWN']).toContainEqual(r);
    expect(await Promise.all([9, 10, 11].map((v) => outcome(host.predict('m', [v, v, v, v]))))).toEqual([9, 10, 11].map((v) => Array(4).fill(2 * v + 1)));
    expect(host.status('m').versions.map((v) => v.version)).toEqual([2]);
    await host.close();
    expect(unhandled).toEqual([]);
  });
});
