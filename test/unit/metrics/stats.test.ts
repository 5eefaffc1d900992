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

  it('keeps every request’s queue, compute and total latency exactly, from one summary per batch', async () => {
    const clock = new FakeClock();
    const gate = deferred();
    let held = -1;
    const runtime = fakeRuntime({ runGate: () => (runtime.runs === held ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, clock, defaults: { batching: { maxBatchSize: 4 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const before = runtime.runs;
    held = before + 1;
    const first = host.predict('m', [1, 1, 1, 1]); // t=0, runs alone until t=7
    await flush();
    clock.advance(2);
    const two = [host.predict('m', [1, 1, 1, 1]), host.predict('m', [2, 1, 1, 1])]; // arrive at t=2
    clock.advance(1);
    const third = host.predict('m', [3, 1, 1, 1]); // arrives at t=3
    clock.advance(4);
    gate.resolve();
    await Promise.all([first, ...two, third]);
    expect(runtime.runs - before).toBe(2);
    const w = host.stats('m').versions[1]!.windows['1m'];
    expect(w).toMatchObject({ requests: 4, rows: 4, batches: 2 });
    // total: 7, 5, 5, 4; queue: 0, 5, 5, 4; compute: 7 for the first, 0 for the batch of three.
    expect(w.latencyMs.total.mean).toBeCloseTo(21 / 4, 9);
    expect(w.latencyMs.total.max).toBe(7);
    expect(w.latencyMs.queue.mean).toBeCloseTo(14 / 4, 9);
    expect(w.latencyMs.queue.max).toBe(5);
    expect(w.latencyMs.compute.mean).toBeCloseTo(7 / 4, 9);
    expect(w.latencyMs.compute.p50).toBeLessThanOrEqual(0.001); // three of four ran in 0 ms (the first bucket)
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
