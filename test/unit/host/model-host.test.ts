import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type WarningEvent } from '../../../src/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

function hostWith(runtime = fakeRuntime()) {
  return { host: new ModelHost({ runtimes: { fake: runtime } }), runtime };
}

describe('ModelHost: load and predict through the runtime SPI', () => {
  it('loads from a source, warms up before ready, predicts one instance and a batch', async () => {
    const { host, runtime } = hostWith();
    const result = await host.load('affine', { source: FAKE_SOURCE });
    expect(result).toEqual({ model: 'affine', version: 1, versions: [1] });
    expect(runtime.runs).toBe(1); // the warmup run
    expect(runtime.batches).toEqual([1]);

    const one = await host.predict('affine', [1, 2, 3, 4]);
    expect(one['y']).toEqual({ data: new Float32Array([3, 5, 7, 9]), shape: [4], dtype: 'float32' });

    const batch = await host.predictBatch('affine', { x: { data: new Float32Array(8).fill(1), shape: [2, 4] } });
    expect(batch['y']!.shape).toEqual([2, 4]);
    expect(batch['y']!.data).toEqual(new Float32Array(8).fill(3));
    await host.close();
  });

  it('reports lifecycle in status(), metadata() and ready()', async () => {
    const gate = deferred();
    const { host } = hostWith(fakeRuntime({ loadGate: () => gate.promise }));
    const loading = host.load('affine', { source: FAKE_SOURCE, version: 3 });
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(host.status('affine').versions[0]).toMatchObject({ version: 3, state: 'loading' });
    expect(host.ready('affine')).toBe(false);
    await expect(host.predict('affine', [1, 2, 3, 4])).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_READY });
    gate.resolve();
    await loading;
    expect(host.ready('affine')).toBe(true);
    expect(host.ready()).toBe(true);
    expect(host.status()).toEqual([
      {
        name: 'affine',
        defaultVersion: 3,
        candidate: undefined,
        traffic: { 3: 1 },
        shadow: undefined,
        ready: true,
        versions: [expect.objectContaining({ version: 3, state: 'ready', runtime: 'fake', pending: 0 })],
      },
    ]);
    expect(host.metadata('affine')).toEqual({
      name: 'affine',
      version: 3,
      versions: [3],
      runtime: 'fake',
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
      batched: true,
      maxBatchSize: 32,
      queueMaxSize: 1024,
    });
    await host.close();
    expect(host.ready()).toBe(false);
    expect(host.live()).toBe(false);
  });

  it('answers metadata() with one frozen object while nothing it says changes, and a new one when the versions change', async () => {
    const { host } = hostWith();
    await host.load('affine', { source: FAKE_SOURCE, version: 1 });
    const first = host.metadata('affine');
    expect(host.metadata('affine')).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.versions)).toBe(true);
    await host.load('affine', { source: FAKE_SOURCE, version: 2 });
    const second = host.metadata('affine');
    expect(second).toMatchObject({ version: 2, versions: [2, 1] });
    expect(host.metadata('affine', 1)).toMatchObject({ version: 1, versions: [2, 1] });
    await host.unload('affine', 2);
    expect(host.metadata('affine')).toMatchObject({ version: 1, versions: [1] });
    expect(first.versions).toEqual([1]); // an answer given out never changes
    await host.close();
  });

  it('keeps the previous version serving when a new one fails to load', async () => {
    let fail = false;
    const { host } = hostWith(fakeRuntime({ failLoad: () => (fail ? new Error('corrupt weights') : undefined) }));
    await host.load('affine', { source: FAKE_SOURCE, version: 1 });
    fail = true;
    await expect(host.load('affine', { source: FAKE_SOURCE, version: 2 })).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: expect.stringMatching(/corrupt weights/) });
    expect(host.status('affine')).toMatchObject({ defaultVersion: 1, ready: true });
    expect(host.status('affine').versions).toEqual([
      expect.objectContaining({ version: 2, state: 'failed', error: expect.objectContaining({ code: 'LOAD_FAILED' }) }),
      expect.objectContaining({ version: 1, state: 'ready' }),
    ]);
    await expect(host.predict('affine', [0, 0, 0, 0])).resolves.toBeDefined();
    await host.close();
  });

  it('metadata of a model whose only version failed to load says why (HTTP infer and predict ask it first)', async () => {
    const { host } = hostWith(fakeRuntime({ failLoad: () => new Error('corrupt weights') }));
    await expect(host.load('affine', { source: FAKE_SOURCE, version: 1 })).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED });
    expect(() => host.metadata('affine')).toThrow(expect.objectContaining({ code: ErrorCode.MODEL_NOT_READY, message: expect.stringMatching(/^model 'affine' is not ready: v1 failed to load: .*corrupt weights/) }));
    await host.close();
  });

  it('fails a load whose warmup fails on a fully shaped signature', async () => {
    const { host } = hostWith(fakeRuntime({ failRun: () => new Error('kernel missing') }));
    await expect(host.load('affine', { source: FAKE_SOURCE })).rejects.toMatchObject({
      code: ErrorCode.LOAD_FAILED,
      message: expect.stringMatching(/failed its warmup run: kernel missing/),
    });
    await host.close();
  });

  it('unloads a version after its pending requests settle, and the model after its last version', async () => {
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const { host } = hostWith(runtime);
    await host.load('affine', { source: FAKE_SOURCE }); // warmup is run 1 and passes
    const request = host.predict('affine', [1, 1, 1, 1]);
    await new Promise((r) => setImmediate(r));
    expect(host.status('affine').versions[0]).toMatchObject({ pending: 1 });
    let unloaded = false;
    const unloading = host.unload('affine', 1).then(() => (unloaded = true));
    await new Promise((r) => setImmediate(r));
    expect(host.status('affine').versions[0]).toMatchObject({ state: 'draining' });
    expect(unloaded).toBe(false);
    expect(runtime.openSessions).toBe(1);
    held.resolve();
    await expect(request).resolves.toBeDefined();
    await unloading;
    expect(runtime.openSessions).toBe(0);
    await expect(host.predict('affine', [1, 1, 1, 1])).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    expect(host.status()).toEqual([]);
    await host.close();
  });

  it('unloading while loading cancels the load: the model ends unloaded and no session is left', async () => {
    const gate = deferred();
    const { host, runtime } = hostWith(fakeRuntime({ loadGate: () => gate.promise }));
    const loading = host.load('affine', { source: FAKE_SOURCE });
    await new Promise((r) => setImmediate(r));
    const unloading = host.unload('affine');
    gate.resolve();
    await expect(loading).rejects.toMatchObject({ code: ErrorCode.CANCELLED, message: expect.stringMatching(/cancelled by a later unload/) });
    await unloading;
    expect(runtime.openSessions).toBe(0);
    expect(host.status()).toEqual([]);
    await host.close();
  });

  it('names the model in the SHUTTING_DOWN a draining host refuses a request with', async () => {
    const gate = deferred();
    let held = false;
    const { host } = hostWith(fakeRuntime({ runGate: () => (held ? gate.promise : Promise.resolve()) }));
    await host.load('affine', { source: FAKE_SOURCE });
    held = true;
    const running = host.predict('affine', [1, 2, 3, 4]);
    const closed = host.close();
    await expect(host.predict('affine', [1, 2, 3, 4])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN, model: 'affine' });
    await expect(host.predict('other', [1])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN, model: undefined });
    gate.resolve();
    await running;
    await closed;
  });

  it('rejects with SHUTTING_DOWN after close, and close is idempotent', async () => {
    const { host, runtime } = hostWith();
    await host.load('affine', { source: FAKE_SOURCE });
    const first = host.close();
    expect(host.close()).toBe(first);
    await first;
    expect(runtime.openSessions).toBe(0);
    await expect(host.predict('affine', [1, 2, 3, 4])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await expect(host.load('affine', { source: FAKE_SOURCE })).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await host.destroy();
  });

  it('supports await using', async () => {
    const runtime = fakeRuntime();
    {
      await using host = new ModelHost({ runtimes: { fake: runtime } });
      await host.load('affine', { source: FAKE_SOURCE });
      expect(runtime.openSessions).toBe(1);
    }
    expect(runtime.openSessions).toBe(0);
  });

  it('turns a throwing listener into a warning, and the host keeps working', async () => {
    const { host } = hostWith();
    const warnings: WarningEvent[] = [];
    host.on('modelLoaded', () => {
      throw new Error('listener bug');
    });
    host.on('warning', (w) => warnings.push(w));
    await host.load('affine', { source: FAKE_SOURCE });
    expect(warnings).toEqual([expect.objectContaining({ model: 'affine', message: expect.stringMatching(/a 'modelLoaded' listener threw: listener bug/) })]);
    await expect(host.predict('affine', [1, 2, 3, 4])).resolves.toBeDefined();
    await host.close();
  });

  it('fires a once listener once and removes it, as eventemitter3 does (events.once too)', async () => {
    const { host } = hostWith();
    const loaded: string[] = [];
    host.once('modelLoaded', (e) => loaded.push(e.model));
    const first = once(host as unknown as NodeJS.EventEmitter, 'modelLoaded');
    await host.load('a', { source: FAKE_SOURCE });
    await host.load('b', { source: FAKE_SOURCE });
    await host.load('c', { source: FAKE_SOURCE });
    expect(loaded).toEqual(['a']);
    expect((await first)[0]).toMatchObject({ model: 'a' });
    expect(host.listenerCount('modelLoaded')).toBe(0); // the host's own subscribers are not listeners
    await host.close();
  });

  it('calls a listener with the context given to on, and removes once listeners by the function registered', async () => {
    const { host } = hostWith();
    const context = { seen: [] as string[] };
    host.on('modelLoaded', function (this: typeof context, e) {
      this.seen.push(e.model);
    }, context);
    const never = () => {
      throw new Error('removed before it fired');
    };
    host.once('modelLoaded', never);
    expect(host.listeners('modelLoaded')).toContain(never);
    host.off('modelLoaded', never);
    expect(host.listeners('modelLoaded')).not.toContain(never);
    await host.load('a', { source: FAKE_SOURCE });
    expect(context.seen).toEqual(['a']);
    await host.close();
  });

  it('removes a throwing once listener after its one warning', async () => {
    const { host } = hostWith();
    const warnings: WarningEvent[] = [];
    host.on('warning', (w) => warnings.push(w));
    host.once('modelLoaded', () => {
      throw new Error('listener bug');
    });
    await host.load('a', { source: FAKE_SOURCE });
    await host.load('b', { source: FAKE_SOURCE });
    expect(warnings.map((w) => w.message)).toEqual(["a 'modelLoaded' listener threw: listener bug"]);
    await host.close();
  });

  it('emits modelLoaded, versionSwapped, modelLoadFailed and modelUnloaded with model, version and timestamp', async () => {
    const { host } = hostWith(fakeRuntime({ failLoad: () => undefined }));
    const events: [string, object][] = [];
    for (const name of ['modelLoaded', 'modelLoadFailed', 'modelUnloaded', 'versionSwapped'] as const) host.on(name, (e: object) => events.push([name, e]));
    await host.load('affine', { source: FAKE_SOURCE });
    await host.unload('affine');
    expect(events.map(([n]) => n)).toEqual(['modelLoaded', 'versionSwapped', 'modelUnloaded']);
    for (const [, e] of events) expect(e).toMatchObject({ model: 'affine', version: 1, timestamp: expect.any(Number) });
    await host.close();
  });
});

describe('ModelHost: every bad call settles with a clear code', () => {
  it.each([
    ['an unknown model', (h: ModelHost) => h.predict('nope', [1]), ErrorCode.MODEL_NOT_FOUND, /model 'nope' is not loaded/],
    ['an unknown version', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { version: 9 }), ErrorCode.VERSION_NOT_FOUND, /no loaded version 9/],
    ['a bad timeoutMs', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { timeoutMs: -1 }), ErrorCode.INVALID_INPUT, /`timeoutMs` must be a number ≥ 0, got -1/],
    ['a bad signal', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { signal: {} as AbortSignal }), ErrorCode.INVALID_INPUT, /`signal` must be an AbortSignal/],
    // A misspelt option used to be ignored: the request ran with no deadline at all.
    ['a misspelt timeoutMs', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { timeout: 50 } as never), ErrorCode.INVALID_INPUT, /^predict\('affine'\): unknown option "timeout" \(did you mean 'timeoutMs'\?\); known options: version, timeoutMs, priority, signal, routingKey, id$/],
    ['a misspelt memory option (the collection was skipped)', (h: ModelHost) => h.memory({ colect: true } as never), ErrorCode.INVALID_CONFIG, /^`memory\(options\)` has an unknown option 'colect' \(did you mean 'collect'\?\)/],
    ['an option predict does not take', (h: ModelHost) => h.predictBatch('affine', { x: [[1, 2, 3, 4]] }, { batching: false } as never), ErrorCode.INVALID_INPUT, /^predict\('affine'\): unknown option "batching"; known options: /],
    // The one request-id rule of every protocol, in-process too.
    ['an empty id', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { id: '' }), ErrorCode.INVALID_INPUT, /^predict\('affine'\): `id` must be 1–128 visible ASCII characters \(no spaces\), got "" \(0 characters\)$/],
    ['an id with a space', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { id: 'a b' }), ErrorCode.INVALID_INPUT, /`id` must be 1–128 visible ASCII characters \(no spaces\), got "a b" \(3 characters\)/],
    ['an id of 129 characters', (h: ModelHost) => h.predictBatch('affine', { x: [[1, 2, 3, 4]] }, { id: 'x'.repeat(129) }), ErrorCode.INVALID_INPUT, /`id` must be .*\(129 characters\)/],
    ['an id that is not a string', (h: ModelHost) => h.predict('affine', [1, 2, 3, 4], { id: 7 as never }), ErrorCode.INVALID_INPUT, /`id` must be 1–128 visible ASCII characters \(no spaces\), got 7$/],
    ['feedback naming an invalid id', async (h: ModelHost) => h.feedback('affine', 'line\nbreak', 1), ErrorCode.INVALID_INPUT, /^feedback\('affine'\): the request id must be 1–128 visible ASCII characters \(no spaces\), got "line\\nbreak" \(10 characters\)$/],
    ['a model name like ../etc', (h: ModelHost) => h.load('../etc'), ErrorCode.INVALID_INPUT, /model name must be/],
    ['load without repository or source', (h: ModelHost) => h.load('affine2'), ErrorCode.INVALID_CONFIG, /needs a model repository/],
    ['a source no runtime recognizes', (h: ModelHost) => h.load('x', { source: { files: { 'weights.pt': 'x' } } }), ErrorCode.UNSUPPORTED_MODEL, /no runtime recognizes its files \(weights\.pt\)/],
    ['a bad source', (h: ModelHost) => h.load('x', { source: 42 as never }), ErrorCode.INVALID_INPUT, /source must be a path/],
    ['a bad load config', (h: ModelHost) => h.load('x', { source: FAKE_SOURCE, config: { warmup: { runz: 1 } } as never }), ErrorCode.INVALID_CONFIG, /unknown option 'runz' \(did you mean 'runs'\?\)/],
    // Per-load model options go under `config`: a top-level `batching` used to be ignored without a word.
    ['a load option that is not one', (h: ModelHost) => h.load('x', { source: FAKE_SOURCE, batching: { maxBatchSize: 8 } } as never), ErrorCode.INVALID_CONFIG, /^`load\('x'\) options` has an unknown option 'batching'; known options: version, source, config$/],
    ['a deploy option that is not one', (h: ModelHost) => h.deploy('affine', 2, { source: FAKE_SOURCE, canry: 0.1 } as never), ErrorCode.INVALID_CONFIG, /`deploy\('affine'\) options` has an unknown option 'canry' \(did you mean 'canary'\?\)/],
    ['unload of an unknown version', (h: ModelHost) => h.unload('affine', 5), ErrorCode.VERSION_NOT_FOUND, /no loaded version 5/],
    // Names are looked up as data: one that names an Object.prototype member is unknown like any other.
    ['unload of an unknown model named valueOf', (h: ModelHost) => h.unload('valueOf'), ErrorCode.MODEL_NOT_FOUND, /model 'valueOf' is not loaded/],
    ['unload of an unknown model named constructor', (h: ModelHost) => h.unload('constructor'), ErrorCode.MODEL_NOT_FOUND, /model 'constructor' is not loaded/],
  ])('%s', async (_title, call, code, message) => {
    const { host } = hostWith();
    await host.load('affine', { source: FAKE_SOURCE });
    const error = (await call(host).then(
      () => undefined,
      (e: unknown) => e,
    )) as ModelHostError;
    expect(error?.code).toBe(code);
    expect(error.message).toMatch(message);
    await expect(host.predict('affine', [1, 2, 3, 4])).resolves.toBeDefined(); // nothing broke
    await host.close();
  });
});

describe('ModelHost: scheduling options reach the scheduler', () => {
  it('applies a call timeoutMs and a configured default timeoutMs on the host clock', async () => {
    const clock = new FakeClock();
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 2 ? held.promise : Promise.resolve()) }); // two warmups pass
    const host = new ModelHost({ runtimes: { fake: runtime }, clock, models: { slow: { timeoutMs: 20 } } });
    await host.load('affine', { source: FAKE_SOURCE });
    await host.load('slow', { source: FAKE_SOURCE });
    const a = host.predict('affine', [1, 2, 3, 4], { timeoutMs: 5 }).catch((e: ModelHostError) => e.code);
    const b = host.predict('slow', [1, 2, 3, 4]).catch((e: ModelHostError) => e.code);
    await flush();
    clock.advance(5);
    expect(await a).toBe(ErrorCode.DEADLINE_EXCEEDED);
    clock.advance(15);
    expect(await b).toBe(ErrorCode.DEADLINE_EXCEEDED);
    held.resolve();
    await host.close();
  });

  it('batches concurrent predicts into one runtime call and splits oversize predictBatch calls', async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 4 } } });
    await host.load('affine', { source: FAKE_SOURCE });
    runtime.batches.length = 0;
    const outs = await Promise.all([0, 1, 2].map((i) => host.predict('affine', [i, i, i, i])));
    expect(runtime.batches).toEqual([3]);
    expect(outs.map((o) => Array.from(o['y']!.data as Float32Array))).toEqual([0, 1, 2].map((i) => Array(4).fill(2 * i + 1)));
    expect(outs[0]!['y']!.shape).toEqual([4]);
    runtime.batches.length = 0;
    const big = await host.predictBatch('affine', { x: { data: new Float32Array(4 * 10).map((_, i) => Math.floor(i / 4)), shape: [10, 4] } });
    expect(runtime.batches).toEqual([4, 4, 2]);
    expect(Array.from(big['y']!.data as Float32Array).filter((_, i) => i % 4 === 0)).toEqual(Array.from({ length: 10 }, (_, r) => 2 * r + 1));
    expect(host.metadata('affine').maxBatchSize).toBe(4);
    await host.close();
  });

  it('runs every request alone with batching: false', async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    await host.load('affine', { source: FAKE_SOURCE });
    runtime.batches.length = 0;
    await Promise.all([0, 1, 2].map((i) => host.predict('affine', [i, i, i, i])));
    expect(runtime.batches).toEqual([1, 1, 1]);
    expect(host.metadata('affine').maxBatchSize).toBe(1);
    await host.close();
  });

  it('destroy rejects queued requests with SHUTTING_DOWN at once', async () => {
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 } } });
    await host.load('affine', { source: FAKE_SOURCE });
    const running = host.predict('affine', [1, 1, 1, 1]).catch((e: ModelHostError) => e.code);
    await flush();
    const queued = host.predict('affine', [2, 2, 2, 2]).catch((e: ModelHostError) => e.code);
    const destroyed = host.destroy();
    expect(await queued).toBe(ErrorCode.SHUTTING_DOWN);
    expect(await running).toBe(ErrorCode.SHUTTING_DOWN);
    held.resolve();
    await destroyed;
    expect(runtime.openSessions).toBe(0);
  });
});

describe('runtime error text stays out of what callers and listeners are shown', () => {
  it("batchFailed and requestFailed say it in modelhost's words; the runtime's text (an absolute path) is only the cause", async () => {
    const secret = '/srv/models/private/ranker/1/model.onnx: node MatMul_7 failed';
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ failRun: () => new Error(secret) }) }, defaults: { batching: false, warmup: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const batchFailed: { message: string; cause: unknown }[] = [];
    const requestFailed: { message: string }[] = [];
    host.on('batchFailed', (e) => batchFailed.push(e));
    host.on('requestFailed', (e) => requestFailed.push(e));
    const error = await host.predict('m', [1, 2, 3, 4]).catch((e: ModelHostError) => e);
    expect(error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED });
    for (const shown of [(error as ModelHostError).message, ...batchFailed.map((e) => e.message), ...requestFailed.map((e) => e.message)]) expect(shown).not.toContain('/srv/models');
    expect(batchFailed[0]!.message).toBe("model 'm' v1: inference failed: the runtime failed on this batch");
    expect((batchFailed[0]!.cause as Error).message).toContain(secret);
    await host.close();
  });
});
