/**
 * Faults injected through the runtime SPI (DESIGN §7): a runtime that throws, hangs,
 * returns outputs of the wrong shape or NaN, or fails to load. Each time the affected model
 * alone is affected: its requests settle with a code that says why, nothing stays pending
 * (except a run that never returns, which holds only its own slot), and another model on
 * the same host keeps serving. A worker crashing mid-batch is in thread-instances.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type Runtime } from '../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime, type FakeRuntimeOptions } from '../helpers/fake-runtime.js';
import { hangingRuntime } from '../helpers/hanging-runtime.js';
import { get, serve } from '../adapters/http/serve.js';

const ROW = new Float32Array([1, 2, 3, 4]);

/** A host serving 'faulty' (the injected runtime) and 'healthy' (a working one). */
async function hostWith(faults: FakeRuntimeOptions, options: { timeoutMs?: number } = {}) {
  const faulty = fakeRuntime({ ...faults, name: 'faulty' });
  const host = new ModelHost({
    runtimes: { faulty: faulty as Runtime, fake: fakeRuntime() },
    models: { healthy: { runtime: 'fake' }, faulty: { runtime: 'faulty', warmup: false, breaker: { enabled: false }, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) } },
  });
  await host.load('healthy', { source: FAKE_SOURCE });
  return { host, faulty };
}

async function healthyServes(host: ModelHost): Promise<void> {
  const out = await Promise.all([1, 2, 3].map((v) => host.predict('healthy', new Float32Array([v, v, v, v]))));
  expect(out.map((o) => Array.from(o['y']!.data as Float32Array))).toEqual([1, 2, 3].map((v) => [2 * v + 1, 2 * v + 1, 2 * v + 1, 2 * v + 1]));
}

function pending(host: ModelHost, model: string): number {
  return host.status(model).versions.reduce((n, v) => n + v.pending, 0);
}

describe('fault injection through the runtime SPI', () => {
  it('a runtime that throws: INFERENCE_FAILED for its requests, nothing pending, the other model serves', async () => {
    const { host } = await hostWith({ failRun: () => new Error('kernel exploded') });
    await host.load('faulty', { source: FAKE_SOURCE });
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => host.predict('faulty', ROW)));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.INFERENCE_FAILED, message: "model 'faulty' v1: inference failed: the runtime failed on this batch", cause: { message: expect.stringMatching(/kernel exploded/) } } });
    await vi.waitFor(() => expect(pending(host, 'faulty')).toBe(0));
    await healthyServes(host);
    await host.destroy();
  });

  it('a runtime that hangs: its requests end at their deadline (DEADLINE_EXCEEDED); the other model serves', async () => {
    const never = deferred();
    const { host } = await hostWith({ runGate: () => never.promise }, { timeoutMs: 50 });
    await host.load('faulty', { source: FAKE_SOURCE });
    const results = await Promise.allSettled([1, 2, 3].map(() => host.predict('faulty', ROW)));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.DEADLINE_EXCEEDED } });
    await healthyServes(host);
    // Only the hung run's slot is held (thread instances replace a hung worker: instances.runTimeoutMs).
    expect(host.status('faulty').versions[0]!.queueDepth).toBe(0);
    never.resolve();
    await host.destroy();
  });

  it.each([
    ['one row too many', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: new Float32Array(x.data.length + 4), shape: [x.shape[0]! + 1, 4], dtype: 'float32' as const } }), /output 'y' has \d rows for a batch of \d, so it cannot be split per request/],
    ['values that do not fill the shape', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(1), shape: [...x.shape], dtype: 'float32' as const } }), /output 'y' holds \d+ values, but its shape \[\d, 4\] says \d+/],
    ['no dtype', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(), shape: [...x.shape] } }), /output 'y' has dtype undefined, expected float32/],
    ['a wrong dtype', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: Int32Array.from(x.data), shape: [...x.shape], dtype: 'int32' as const } }), /output 'y' has dtype "int32", expected float32/],
    ['data of another storage class', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: Float64Array.from(x.data), shape: [...x.shape], dtype: 'float32' as const } }), /output 'y' holds Float64Array, expected Float32Array for dtype float32/],
    ['no declared output', (x: { data: Float32Array; shape: number[] }) => ({ z: { data: x.data.slice(), shape: [...x.shape], dtype: 'float32' as const } }), /the runtime returned no output 'y' \(expected float32 \[-1, 4\]\)/],
    ['a negative dimension', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(), shape: [x.shape[0]!, -4], dtype: 'float32' as const } }), /output 'y' has shape \[\d, -4\], expected non-negative integer dimensions/],
    ['a fractional dimension', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(), shape: [x.shape[0]!, 4.5], dtype: 'float32' as const } }), /output 'y' has shape \[\d, 4.5\], expected non-negative integer dimensions/],
    ['another rank', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(), shape: [x.shape[0]!, 2, 2], dtype: 'float32' as const } }), /output 'y' has shape \[\d, 2, 2\], expected \[-1, 4\] \(-1: any size\)/],
    ['another fixed dimension', (x: { data: Float32Array; shape: number[] }) => ({ y: { data: x.data.slice(0, x.shape[0]! * 2), shape: [x.shape[0]!, 2], dtype: 'float32' as const } }), /output 'y' has shape \[\d, 2\], expected \[-1, 4\]/],
  ])('a runtime that returns %s: INFERENCE_FAILED naming the output, never another request’s rows', async (_name, compute, message) => {
    const gate = deferred();
    const { host, faulty } = await hostWith({ compute: (inputs) => compute(inputs['x'] as never) as never, runGate: () => gate.promise });
    await host.load('faulty', { source: FAKE_SOURCE });
    const first = host.predict('faulty', ROW); // runs alone, held
    await new Promise((resolve) => setImmediate(resolve));
    const batch = [1, 2, 3].map((v) => host.predict('faulty', new Float32Array([v, v, v, v]))); // queue as one batch of 3
    gate.resolve();
    await first.catch(() => undefined);
    const results = await Promise.allSettled(batch);
    expect(faulty.batches).toContain(3);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(message) } });
    await vi.waitFor(() => expect(pending(host, 'faulty')).toBe(0));
    await healthyServes(host);
    await host.destroy();
  });

  it('a runtime that returns NaN: the values reach the caller exactly, and the version keeps serving', async () => {
    const { host } = await hostWith({ compute: (inputs) => ({ y: { data: new Float32Array(inputs['x']!.data.length).fill(Number.NaN), shape: [...inputs['x']!.shape], dtype: 'float32' } }) });
    await host.load('faulty', { source: FAKE_SOURCE });
    const out = await host.predict('faulty', ROW);
    expect(Array.from(out['y']!.data as Float32Array).every(Number.isNaN)).toBe(true);
    expect(host.ready('faulty')).toBe(true);
    await healthyServes(host);
    await host.destroy();
  });

  it('a runtime that crashes on load: LOAD_FAILED, the model is not ready, the other model serves', async () => {
    const { host } = await hostWith({ failLoad: () => new Error('segfault-ish') });
    await expect(host.load('faulty', { source: FAKE_SOURCE })).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: expect.stringMatching(/segfault-ish/) });
    expect(host.ready('faulty')).toBe(false);
    await expect(host.predict('faulty', ROW)).rejects.toMatchObject({ code: expect.stringMatching(/MODEL_NOT_READY|MODEL_NOT_FOUND/) });
    await healthyServes(host);
    await host.destroy();
  });
});

/**
 * A runtime that never answers for one input only (a poisoned request), inline: one such
 * request held the version's only slot for good, so every other client of the version timed
 * out while readiness said ready. After `instances.runTimeoutMs` the run is abandoned, its
 * request fails (blamed on it), the slot serves the others, and the session is disposed once
 * the abandoned run returns.
 */
describe('a runtime that hangs for one input only (inline)', () => {
  const poisonRuntime = () => hangingRuntime({ name: 'poison' });

  it('abandons the hung run after instances.runTimeoutMs: the poisoned request fails alone, other clients are answered, the breaker stays closed', async () => {
    const { runtime, hung, state } = poisonRuntime();
    const host = new ModelHost({ runtimes: { poison: runtime }, models: { m: { runtime: 'poison', instances: { kind: 'inline', runTimeoutMs: 50 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    const poisoned = host.predict('m', [666]).then(() => 'answered', (e: ModelHostError) => e);
    await new Promise((resolve) => setImmediate(resolve)); // the poisoned run holds the slot
    const others = await Promise.all([1, 2, 3].map((v) => host.predict('m', [v], { timeoutMs: 5000 })));
    expect(others.map((o) => o['y']!.data[0])).toEqual([2, 4, 6]);
    expect(await poisoned).toMatchObject({
      code: ErrorCode.INFERENCE_FAILED,
      message: "model 'm' v1: inference failed: no answer within 50 ms (instances.runTimeoutMs): the run was abandoned (blamed on the request: it got no answer while other inputs succeed on this version; a run that got none is not run again)",
    });
    expect(host.status('m').versions[0]).toMatchObject({ state: 'ready', breaker: 'closed', pending: 0 });
    expect(host.readiness()).toMatchObject({ ready: true });
    // Abandoned, not forgotten: the session outlives close() until its last run returns.
    expect(hung.length).toBe(1); // the run itself: a run that got no answer is not run again to place the blame
    const closing = host.close();
    await closing;
    expect(state.open).toBe(1);
    for (const resolve of hung) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });

  it('a request that hangs costs one abandoned run, not two: four in a row leave the version ready (the re-run to place the blame made it stalled at the fourth)', async () => {
    const { runtime, hung, state } = poisonRuntime();
    const host = new ModelHost({ runtimes: { poison: runtime }, models: { m: { runtime: 'poison', instances: { kind: 'inline', runTimeoutMs: 20 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    for (let i = 0; i < 4; i++) {
      await expect(host.predict('m', [666])).rejects.toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/blamed on the request: it got no answer/) });
      expect(hung.length, `request ${i + 1}`).toBe(i + 1);
    }
    expect(host.status('m').versions[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
    expect(host.status('m').versions[0]!.stalled).toBeUndefined();
    expect(host.ready('m')).toBe(true);
    expect((await host.predict('m', [3]))['y']!.data[0]).toBe(6);
    await host.close();
    for (const resolve of hung.splice(0)) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });

  it('refuses with the version not ready, rather than abandoning without bound, once 8 runs never came back', async () => {
    const { runtime, hung, state } = poisonRuntime();
    const host = new ModelHost({ runtimes: { poison: runtime }, models: { m: { runtime: 'poison', instances: { kind: 'inline', runTimeoutMs: 20 }, breaker: { enabled: false } } } });
    await host.load('m', { source: FAKE_SOURCE });
    // One abandoned run per request (a run that got no answer is not run again, whole or in halves): eight in a row.
    for (let i = 0; i < 8; i++) await expect(host.predict('m', [666], { timeoutMs: 300 })).rejects.toMatchObject({ code: expect.stringMatching(/^(INFERENCE_FAILED|DEADLINE_EXCEEDED)$/) });
    await vi.waitFor(() => expect(hung.length).toBeGreaterThanOrEqual(8), { timeout: 5000 });
    await vi.waitFor(() => expect(host.ready('m')).toBe(false));
    expect(host.readiness()).toMatchObject({ ready: false });
    expect(host.status('m').versions[0]).toMatchObject({ state: 'ready', stalled: expect.stringMatching(/^8 runs got no answer/) });
    expect(host.status('m').reason).toMatch(/v1 cannot answer: 8 runs got no answer within 20 ms \(instances\.runTimeoutMs\) and have not returned/);
    await expect(host.predict('m', [1], { timeoutMs: 1000 })).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_READY });
    await expect(host.predict('m', [1], { version: 1 })).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_READY, message: expect.stringMatching(/^model 'm' v1 cannot answer: 8 runs got no answer/) });
    // The orchestrator hears the same: server, model and version readiness.
    const served = await serve(host);
    try {
      for (const route of ['/v2/health/ready', '/v2/models/m/ready', '/v2/models/m/versions/1/ready']) expect((await get(`${served.url}${route}`)).status, route).toBe(503);
      expect((await get(`${served.url}/status.json`)).body.models[0]).toMatchObject({ ready: false, versions: [{ state: 'ready', stalled: expect.stringMatching(/^8 runs got no answer/) }] });
    } finally {
      await served.close();
    }
    // The runs return: the version answers again.
    for (const resolve of hung.splice(0)) resolve();
    await vi.waitFor(() => expect(host.ready('m')).toBe(true));
    expect((await host.predict('m', [4]))['y']!.data[0]).toBe(8);
    console.info(`[fault-injection] runs still out at close: ${hung.length}`);
    await host.close();
    for (const resolve of hung.splice(0)) resolve(); // runs the isolation started after the first release
    await vi.waitFor(() => expect(state.open).toBe(0));
  });

  it('a warmup run that never returns fails the load within instances.runTimeoutMs, naming why; the session is disposed once the run returns', async () => {
    const { runtime, hung, state } = poisonRuntime();
    const host = new ModelHost({
      runtimes: { poison: runtime },
      models: { m: { runtime: 'poison', instances: { kind: 'inline', runTimeoutMs: 40 }, warmup: { inputs: { x: { data: [666], shape: [1, 1] } } } } },
    });
    await expect(host.load('m', { source: FAKE_SOURCE })).rejects.toMatchObject({
      code: ErrorCode.LOAD_FAILED,
      message: "model 'm' v1 failed its warmup run: no answer within 40 ms (instances.runTimeoutMs): the run was abandoned",
    });
    expect(host.ready('m')).toBe(false);
    expect(state.open).toBe(1); // the hung run still holds the session
    for (const resolve of hung) resolve();
    await vi.waitFor(() => expect(state.open).toBe(0));
    await host.close();
  });

  it("auto instances: a measuring run that never returns fails the load the same way, and does not hold other models' loads", async () => {
    const { runtime, hung, state } = poisonRuntime();
    const host = new ModelHost({
      runtimes: { poison: runtime },
      models: { m: { runtime: 'poison', instances: { kind: 'auto', runTimeoutMs: 40 }, warmup: { inputs: { x: { data: [666], shape: [1, 1] } } } }, other: { runtime: 'poison', instances: { kind: 'auto' } } },
    });
    const failing = host.load('m', { source: FAKE_SOURCE });
    await expect(failing).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: expect.stringMatching(/no answer within 40 ms \(instances\.runTimeoutMs\)/) });
    await host.load('other', { source: FAKE_SOURCE });
    expect((await host.predict('other', [2]))['y']!.data[0]).toBe(4);
    for (const resolve of hung) resolve();
    await host.close();
    await vi.waitFor(() => expect(state.open).toBe(0));
  });
});
