/**
 * Faults injected through the runtime SPI (DESIGN §7): a runtime that throws, hangs,
 * returns outputs of the wrong shape or NaN, or fails to load. Each time the affected model
 * alone is affected: its requests settle with a code that says why, nothing stays pending
 * (except a run that never returns, which holds only its own slot), and another model on
 * the same host keeps serving. A worker crashing mid-batch is in thread-instances.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type Runtime } from '../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime, type FakeRuntimeOptions } from '../helpers/fake-runtime.js';

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
