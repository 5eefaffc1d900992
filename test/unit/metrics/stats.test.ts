import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('host.stats()', () => {
  it('reports requests/s, errors by code, latency split into queue/compute/total, batch sizes, queue depth, breaker and traffic per version', async () => {
    const clock = new FakeClock();
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs === 2 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, clock, defaults: { batching: { maxBatchSize: 4 }, queue: { maxSize: 6 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const first = host.predict('m', [1, 1, 1, 1]); // runs alone, held
    await flush();
    clock.advance(3);
    const queued = Array.from({ length: 6 }, () => host.predict('m', [1, 1, 1, 1]));
    const refused = await host.predict('m', [1, 1, 1, 1]).catch((e: ModelHostError) => e.code);
    expect(refused).toBe(ErrorCode.QUEUE_FULL);
    const bad = await host.predict('m', [1]).catch((e: ModelHostError) => e.code);
    expect(bad).toBe(ErrorCode.INVALID_INPUT);
    expect(host.stats('m').versions[1]!.queueDepth).toBe(6);
    clock.advance(7);
    gate.resolve();
    await Promise.all([first, ...queued]);
    const stats = host.stats('m');
    expect(stats).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    const v1 = stats.versions[1]!;
    expect(v1).toMatchObject({ state: 'ready', breaker: 'closed', queueDepth: 0, pending: 0, traffic: 1 });
    const w = v1.windows['1m'];
    expect(w.requests).toBe(9); // 7 served + 1 QUEUE_FULL + 1 INVALID_INPUT (refused before the queue, still counted)
    expect(w.errors).toBe(2);
    expect(w.errorsByCode).toEqual({ QUEUE_FULL: 1, INVALID_INPUT: 1 });
    expect(w.batches).toBe(3); // 1 + 4 + 2
    expect(w.batchSizes).toEqual({ 1: 1, 4: 1, 2: 1 });
    expect(w.meanBatchSize).toBeCloseTo(7 / 3);
    expect(w.latencyMs.total.max).toBeGreaterThan(0);
    expect(w.latencyMs.queue.p99).toBeGreaterThanOrEqual(w.latencyMs.queue.p50);
    expect(w.latencyMs.total.p99).toBeLessThanOrEqual(10 * 1.05);
    expect(v1.windows['5m'].requests).toBe(9);
    clock.advance(61_000);
    expect(host.stats('m').versions[1]!.windows['1m'].requests).toBe(0);
    expect(host.stats('m').versions[1]!.windows['5m'].requests).toBe(9);
    await host.close();
  });

  it('can be turned off', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, stats: false });
    await host.load('m', { source: FAKE_SOURCE });
    await host.predict('m', [1, 1, 1, 1]);
    expect(host.stats('m').versions[1]!.windows['1m'].requests).toBe(0);
    expect(host.listenerCount('requestCompleted')).toBe(0);
    await host.close();
  });
});
