/**
 * Session 8's option strictness and event changes, attacked as a new user and as an attacker
 * would: each case here failed before its fix.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { addInferenceService } from '../../../src/adapters/grpc/index.js';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { JsonlSink } from '../../../src/monitoring/jsonl-sink.js';
import { PassThrough } from 'node:stream';
import { instrument } from '../../../src/metrics/opentelemetry.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

async function loaded(): Promise<ModelHost> {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } });
  await host.load('m', { source: FAKE_SOURCE });
  return host;
}

describe('predict options: own keys only, as every other option check', () => {
  it('an enumerable key on the options object’s prototype is not an option the caller gave (an ES5 class’s method)', async () => {
    const host = await loaded();
    // TypeScript compiled to ES5 puts methods on the prototype as enumerable properties.
    function RequestOptions(this: { timeoutMs: number }) {
      this.timeoutMs = 1000;
    }
    RequestOptions.prototype.describe = function () {
      return 'opts';
    };
    const options = new (RequestOptions as unknown as new () => { timeoutMs: number })();
    await expect(host.predict('m', [1, 2, 3, 4], options)).resolves.toHaveProperty('y');
    // Inherited known options are still read (destructuring reads the prototype).
    const inherited = Object.create({ version: 7 }) as { version: number };
    await expect(host.predict('m', [1, 2, 3, 4], inherited)).rejects.toMatchObject({ code: ErrorCode.VERSION_NOT_FOUND });
    // An own misspelt key is still refused, whatever its value.
    await expect(host.predict('m', [1, 2, 3, 4], { timeout: undefined } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringContaining('unknown option "timeout"') });
    await expect(host.predict('m', [1, 2, 3, 4], Object.assign(Object.create(null) as object, { timeoutMs: 1000 }))).resolves.toHaveProperty('y');
    await host.close();
  });
});

describe('adapters refuse an option of another adapter (it would silently not hold)', () => {
  it('createHttpHandler has no listener: `limits` is refused, not ignored', async () => {
    const host = await loaded();
    expect(() => createHttpHandler(host, { limits: { concurrency: 4 } } as never)).toThrow(/`options` has an unknown option 'limits'; known options: bodyLimitBytes, .*serverName$/);
    await host.close();
  });

  it('addInferenceService binds no server: `tls` and `address` are refused, not ignored', async () => {
    const host = await loaded();
    const server = {} as never;
    await expect(addInferenceService(server, host, { tls: { certFile: 'c', keyFile: 'k' } } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining("unknown option 'tls'") });
    await expect(addInferenceService(server, host, { address: '0.0.0.0' } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining("unknown option 'address'") });
    await host.close();
  });
});

describe('metrics options: a value of the wrong kind is refused, as the HTTP adapters’ are', () => {
  it("instrument({ traces: 'false' }) traced every request; a tracer that is not one failed at the first request", async () => {
    const host = await loaded();
    const predict = host.predict;
    expect(() => instrument(host, { traces: 'false' } as never)).toThrow('`traces` must be true or false, got "false"');
    expect(() => instrument(host, { requestHistograms: 0 } as never)).toThrow('`requestHistograms` must be true or false, got 0');
    expect(() => instrument(host, { tracer: 'jaeger' } as never)).toThrow('`tracer` must be an OpenTelemetry Tracer ({ startSpan() }), got "jaeger"');
    expect(() => instrument(host, { meter: {} } as never)).toThrow('`meter` must be an OpenTelemetry Meter ({ createHistogram() }), got {}');
    expect(host.predict).toBe(predict);
    await host.close();
  });

  it('collectMetrics: buckets not an array, and a registry that is not one, are INVALID_CONFIG naming them (was a TypeError from inside)', async () => {
    const host = await loaded();
    expect(() => collectMetrics(host, { buckets: { requestSeconds: 0.5 } } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: '`buckets.requestSeconds` must be increasing finite numbers, got 0.5' }));
    expect(() => collectMetrics(host, { registry: 'default' } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: '`registry` must be a prom-client Registry, got "default"' }));
    await host.close();
  });
});

describe('host events: eventemitter3’s rules for a context', () => {
  it('a falsy context is the emitter, as eventemitter3 has it: off(event, fn, null) removes on(event, fn, null)', async () => {
    const host = await loaded();
    const reference = new EventEmitter();
    const fn = function (this: unknown) {};
    for (const emitter of [reference, host as unknown as EventEmitter]) {
      emitter.on('warning', fn, null);
      emitter.off('warning', fn, null);
      expect(emitter.listenerCount('warning')).toBe(0);
    }
    const seen: unknown[] = [];
    for (const context of [0, '', false, null]) {
      host.once('modelLoaded', function (this: unknown) {
        seen.push(this);
      }, context);
    }
    await host.load('m2', { source: FAKE_SOURCE });
    expect(seen).toEqual([host, host, host, host]);
    await host.close();
  });

  it('events.once(host, name) still resolves once and leaves no listener', async () => {
    const host = await loaded();
    const loadedEvent = once(host as never, 'modelLoaded');
    await host.load('m2', { source: FAKE_SOURCE });
    const [payload] = (await loadedEvent) as [{ model: string }];
    expect(payload.model).toBe('m2');
    expect(host.listenerCount('modelLoaded')).toBe(0);
    await host.close();
  });
});

describe("the host's own subscribers are not the caller's listeners", () => {
  it('a fresh host has no listeners, and removeAllListeners() leaves its statistics and bookkeeping working', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } });
    // Before: 1 (the host's own cache-invalidation and stats subscribers sat on the public emitter).
    expect(host.listenerCount('modelLoaded')).toBe(0);
    expect(host.listenerCount('requestFailed')).toBe(0);
    expect(host.eventNames()).toEqual([]);
    await host.load('m', { source: FAKE_SOURCE });
    host.removeAllListeners(); // a user's cleanup of its own listeners
    host.off('requestFailed');
    await expect(host.predict('m', [1, 2, 3])).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await expect(host.predict('m', [1, 2, 3, 4])).resolves.toHaveProperty('y');
    const window = host.stats('m').versions[1]!.windows['1m'];
    // Before: the failure was lost with the stats recorder's listener (errors 0).
    expect(window.requests).toBe(2);
    expect(window.errors).toBe(1);
    await host.close();
  });
});

describe('a version refused from outside is named, cut short', () => {
  it('a 5000-character version path segment is not echoed whole', async () => {
    const host = await loaded();
    const handle = createHttpHandler(host);
    const long = '9'.repeat(5000);
    for (const url of [`/v2/models/m/versions/${long}`, `/v1/models/m/versions/${long}`, `/v1/models/m/labels/${long}`]) {
      const response = await handle({ method: 'GET', url, headers: {}, body: undefined, signal: new AbortController().signal });
      expect(response?.status).toBe(404);
      const text = String(response?.body);
      expect(text).toContain('9999');
      expect(text.length).toBeLessThan(300);
    }
    await host.close();
  });

  it('-0 is named as -0, not 0', async () => {
    const host = await loaded();
    const error = (await host.predict('m', [1, 2, 3, 4], { version: -0 }).catch((e: unknown) => e)) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(error.message).toBe('version must be a positive integer, got -0');
    await host.close();
  });

  it('setTraffic with a Map (not an object of weights) says so', async () => {
    const host = await loaded();
    await expect(host.setTraffic('m', new Map([[1, 1]]) as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/`weights` must be an object \{ \[version\]: weight \}, got a Map/) });
    await expect(host.setTraffic('m', [1] as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/`weights` must be an object \{ \[version\]: weight \}, got an array/) });
    await host.close();
  });
});

describe('version folders not named as versions', () => {
  it("a model whose only folders are 01/ and 1.0/ is refused naming them, not 'on disk: none'", async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mh-versions-'));
    try {
      for (const folder of ['01', '1.0', 'assets']) {
        await mkdir(path.join(root, 'm', folder), { recursive: true });
        await writeFile(path.join(root, 'm', folder, 'model.fake'), 'fake');
      }
      const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, repository: { root } });
      const error = (await host.load('m').catch((e: unknown) => e)) as ModelHostError;
      expect(error.code).toBe(ErrorCode.VERSION_NOT_FOUND);
      expect(error.message).toMatch(/\(on disk: none; not versions \(canonical decimal: 1, not 01\): "01", "1\.0"\)$/);
      await host.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('JsonlSink.open: models of the wrong kind', () => {
  it("models: 'fraud' (a string) sampled the models named f, r, a, u and d: refused before it listens", async () => {
    const host = await loaded();
    await expect(JsonlSink.open(host, { stream: new PassThrough(), models: 'fraud' as never })).rejects.toThrow('JsonlSink: models must be an array of model names, got "fraud"');
    await expect(JsonlSink.open(host, { stream: new PassThrough(), models: [1] as never })).rejects.toThrow('JsonlSink: models must be an array of model names, got [1]');
    expect(host.listenerCount('requestSampled')).toBe(0);
    await host.close();
  });
});
