import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type WarningEvent } from '../../src/index.js';
import { probeRuntime } from '../fixtures/runtimes/probe-runtime.js';
import { materializeMobileNetV2 } from '../fixtures/third-party.js';
import { randomFloats, writeMlpVersions } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;

const PROBE = { files: { 'model.probe': '' } };
const row = (a: number) => new Float32Array([a, a + 0.5]);

describe('worker-thread instances', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeMlpVersions(root);
    await materializeMobileNetV2(`${root}/mobilenet/1`);
  });

  it.each(['mlp-onnx', 'mlp-tfjs'])('%s: outputs on 2 thread instances are identical to inline, single and batched', async (model) => {
    const threads = new ModelHost({ repository: root, defaults: { instances: { kind: 'thread', count: 2 } } });
    const inline = new ModelHost({ repository: root, defaults: { instances: { kind: 'inline' } } });
    await Promise.all([threads.load(model), inline.load(model)]);
    expect(threads.status(model).versions[0]!.instances).toEqual({ kind: 'thread', count: 2 });
    expect(inline.status(model).versions[0]!.instances).toEqual({ kind: 'inline', count: 1 });
    const inputs = Array.from({ length: 40 }, (_, i) => randomFloats(64, 500 + i));
    const [a, b] = await Promise.all([Promise.all(inputs.map((x) => threads.predict(model, x))), Promise.all(inputs.map((x) => inline.predict(model, x)))]);
    expect(a).toEqual(b);
    const batch = { x: { data: randomFloats(64 * 5, 9), shape: [5, 64] } };
    expect(await threads.predictBatch(model, batch)).toEqual(await inline.predictBatch(model, batch));
    await Promise.all([threads.close(), inline.close()]);
  });

  it('MobileNetV2 (tfjs wasm in a worker): identical to inline', async () => {
    const threads = new ModelHost({ repository: root, defaults: { instances: { kind: 'thread', count: 1 } } });
    const inline = new ModelHost({ repository: root, defaults: { instances: { kind: 'inline' } } });
    await Promise.all([threads.load('mobilenet'), inline.load('mobilenet')]);
    const image = randomFloats(224 * 224 * 3, 4).map((v) => (v + 1) / 2);
    expect(await threads.predict('mobilenet', image)).toEqual(await inline.predict('mobilenet', image));
    await Promise.all([threads.close(), inline.close()]);
  });

  it('auto measures MobileNetV2 inline, moves it to a worker, and leaves no tensor behind on the main thread', async () => {
    const before = tf.memory().numTensors;
    const host = new ModelHost({ repository: root });
    await host.load('mobilenet');
    // ~100 ms a run against a 2 ms threshold
    expect(host.status('mobilenet').versions[0]!.instances).toMatchObject({ kind: 'thread', count: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const image = randomFloats(224 * 224 * 3, 5).map((v) => (v + 1) / 2);
    expect((await host.predict('mobilenet', image))).toBeDefined();
    await host.close();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('warms up every instance before the version is ready', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, defaults: { instances: { kind: 'thread', count: 2 }, batching: { maxBatchSize: 1 } } });
    await host.load('probe', { source: PROBE });
    // Two requests in one turn go to the two idle instances: each has run once before (its warmup).
    const [a, b] = await Promise.all([host.predict('probe', row(1)), host.predict('probe', row(2))]);
    expect(a['thread']!.data[0]).not.toBe(b['thread']!.data[0]);
    expect(a['runs']!.data[0]).toBe(2);
    expect(b['runs']!.data[0]).toBe(2);
    await host.close();
  });

  it('auto (the default) keeps a version inline when a warm run is quick, and moves it to threads when it holds the thread', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, models: { slow: { probe: { busyMs: 25 } } } });
    await Promise.all([host.load('quick', { source: PROBE }), host.load('slow', { source: PROBE })]);
    const quick = host.status('quick').versions[0]!.instances!;
    const slow = host.status('slow').versions[0]!.instances!;
    expect(quick).toEqual({ kind: 'inline', count: 1, measuredRunMs: expect.any(Number) });
    expect(slow).toEqual({ kind: 'thread', count: 1, measuredRunMs: expect.any(Number) });
    expect(slow.measuredRunMs).toBeGreaterThanOrEqual(25); // the busy wait itself, not a speed claim
    expect((await host.predict('quick', row(1)))['thread']!.data[0]).toBe(0); // the main thread
    expect((await host.predict('slow', row(1)))['thread']!.data[0]).not.toBe(0);
    // the session that measured was disposed: one inline session, one in the worker (not counted here)
    expect(probeRuntime.memory!().sessions).toBe(1);
    await host.close();
    expect(probeRuntime.memory!().sessions).toBe(0);
  });

  it('auto stays inline without warmup (nothing to measure with), and an explicit kind is not measured', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, defaults: { probe: { busyMs: 25 } } });
    await host.load('unwarmed', { source: PROBE, config: { warmup: false } });
    await host.load('pinned', { source: PROBE, config: { instances: { kind: 'inline' } } });
    expect(host.status('unwarmed').versions[0]!.instances).toEqual({ kind: 'inline', count: 1 });
    expect(host.status('pinned').versions[0]!.instances).toEqual({ kind: 'inline', count: 1 });
    await host.close();
  });

  it('a custom runtime without a worker module runs inline by default, and refuses kind: thread', async () => {
    const { worker: _, ...inlineOnly } = probeRuntime;
    const host = new ModelHost({ runtimes: { probe: inlineOnly } });
    await host.load('probe', { source: PROBE });
    expect(host.status('probe').versions[0]!.instances).toEqual({ kind: 'inline', count: 1 });
    await expect(host.load('other', { source: PROBE, config: { instances: { kind: 'thread' } } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringMatching(/instances.kind is 'thread', but runtime 'probe' declares no worker module/),
    });
    await host.close();
  });

  it('a worker that crashes mid-batch fails only the culprit, is replaced, and the host keeps serving', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, defaults: { instances: { kind: 'thread', count: 1 }, batching: { maxBatchSize: 8 } } });
    const warnings: WarningEvent[] = [];
    host.on('warning', (w) => warnings.push(w));
    await host.load('probe', { source: PROBE });
    const results = await Promise.all([1, 2, -1, 4].map((v) => host.predict('probe', row(v)).then((o) => o['y']!.data[0], (e: ModelHostError) => e.code)));
    expect(results).toEqual([1, 2, ErrorCode.INFERENCE_FAILED, 4]);
    expect(warnings.some((w) => /a worker instance was lost \(the worker exited with code 3\)/.test(w.message))).toBe(true);
    await vi.waitFor(async () => expect((await host.memory()).workerThreads).toBe(1));
    expect((await host.predict('probe', row(7)))['y']!.data[0]).toBe(7);
    await host.close();
  });

  it('a worker that hangs is cut by instances.runTimeoutMs and replaced, once: the request is not run again on the replacement', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, defaults: { instances: { kind: 'thread', count: 1, runTimeoutMs: 300 }, batching: false } });
    const lost: string[] = [];
    host.on('warning', (w) => /a worker instance was lost/.test(w.message) && lost.push(w.message));
    await host.load('probe', { source: PROBE });
    const hung = await host.predict('probe', row(-2)).catch((e: ModelHostError) => e);
    expect(hung).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/no answer within 300 ms/) });
    expect(lost).toHaveLength(1); // the re-run to place the blame hung (and cost) a second worker
    expect((await host.predict('probe', row(5)))['y']!.data[0]).toBe(5);
    await host.close();
  });

  it('a runtime error inside the worker, on that input alone, is an INVALID_INPUT for that request only', async () => {
    const host = new ModelHost({ runtimes: { probe: probeRuntime }, defaults: { instances: { kind: 'thread', count: 1 } } });
    await host.load('probe', { source: PROBE });
    const results = await Promise.all([3, -3, 5].map((v) => host.predict('probe', row(v)).then((o) => o['y']!.data[0], (e: ModelHostError) => e.message)));
    expect(results[0]).toBe(3);
    expect(results[1]).toMatch(/the runtime rejected this request's inputs \(.*\) \(blamed on the request/);
    expect(results[1]).not.toMatch(/refused row -3/);
    expect(results[2]).toBe(5);
    await host.close();
  });

  it('unload ends its workers after in-flight requests settle; close leaves no worker alive', async () => {
    const host = new ModelHost({ repository: root, defaults: { instances: { kind: 'thread', count: 2 } } });
    const before = (await host.memory()).workerThreads;
    await host.load('mlp-onnx');
    expect((await host.memory()).workerThreads).toBe(before + 2);
    const inFlight = Promise.all(Array.from({ length: 20 }, (_, i) => host.predict('mlp-onnx', randomFloats(64, i))));
    await host.unload('mlp-onnx');
    expect(await inFlight).toHaveLength(20);
    await host.load('mlp-tfjs');
    await host.close();
    await vi.waitFor(async () => expect((await host.memory()).workerThreads).toBe(before));
  });

  it('a load that fails in the workers fails the version and leaves no worker behind', async () => {
    const bad = await tempDir();
    await writeFile(`${bad}/model.onnx`, 'not an onnx file');
    const host = new ModelHost({ defaults: { instances: { kind: 'thread', count: 2 } } });
    const before = (await host.memory()).workerThreads;
    // The response names the file; onnxruntime's own message travels as the cause, for the log.
    const error = (await host.load('bad', { source: bad }).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: ErrorCode.LOAD_FAILED, message: "onnxruntime could not load model.onnx (its message is in the host's log) (in a worker thread)" });
    expect(String(error.cause)).toMatch(/protobuf parsing failed/);
    await vi.waitFor(async () => expect((await host.memory()).workerThreads).toBe(before));
    await host.close();
  });
});
