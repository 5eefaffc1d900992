/**
 * Every error code → HTTP status (DESIGN §4), through real requests where a request can
 * reach it; error bodies are exactly `{ "error": "..." }`, never a stack trace.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { errorResponse } from '../../../src/adapters/http/http-errors.js';
import { statusFor, STATUS_BY_CODE } from '../../../src/adapters/http/index.js';
import { ERROR_CODES } from '../../../src/errors/index.js';
import { ErrorCode, ModelHost, ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { onnxAffine } from '../../fixtures/onnx-models.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { post, request, useServers, type JsonResponse } from './serve.js';

const tempDir = useTempDirs('each');
const { serve } = useServers();

const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
const infer = (url: string, model = 'm') => post(`${url}/v2/models/${model}/infer`, INFER);

/** `{ error }` and nothing else: no stack, no code field, no cause. */
function expectErrorBody(response: JsonResponse, status: number, code: ErrorCode, message?: RegExp): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(typeof response.body.error).toBe('string');
  if (message !== undefined) expect(response.body.error).toMatch(message);
  expect(response.text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+|node_modules/);
  expect(response.headers.get('x-modelhost-error-code')).toBe(code);
}

describe('statusFor / STATUS_BY_CODE', () => {
  const EXPECTED: Record<ErrorCode, number> = {
    INVALID_INPUT: 400,
    INVALID_CONFIG: 400, // reaches HTTP only through admin routes
    MODEL_NOT_FOUND: 404,
    VERSION_NOT_FOUND: 404,
    MODEL_NOT_READY: 503,
    QUEUE_FULL: 429,
    DEADLINE_EXCEEDED: 504,
    CANCELLED: 499,
    CIRCUIT_OPEN: 503,
    INFERENCE_FAILED: 500,
    LOAD_FAILED: 422,
    INTEGRITY_FAILED: 422,
    UNSUPPORTED_MODEL: 422,
    SHUTTING_DOWN: 503,
    UNAUTHORIZED: 403, // 401 when authorize asks for credentials
  };

  it.each(ERROR_CODES.map((code) => [code, EXPECTED[code]] as const))('%s → %i', (code, status) => {
    expect(statusFor(code)).toBe(status);
    expect(STATUS_BY_CODE[code]).toBe(status);
  });

  it('covers every code, and is frozen', () => {
    expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.isFrozen(STATUS_BY_CODE)).toBe(true);
  });

  it('errorResponse: { error } with the message, Retry-After in whole seconds (at least 1) on QUEUE_FULL, "internal error" for anything else', () => {
    const full = errorResponse(new ModelHostError(ErrorCode.QUEUE_FULL, 'queue is full', { retryAfterMs: 2100 }));
    expect(full).toEqual({ status: 429, headers: { 'content-type': 'application/json', 'x-modelhost-error-code': 'QUEUE_FULL', 'retry-after': '3' }, body: '{"error":"queue is full"}' });
    expect(errorResponse(new ModelHostError(ErrorCode.QUEUE_FULL, 'full', { retryAfterMs: 5 })).headers['retry-after']).toBe('1');
    expect(errorResponse(new ModelHostError(ErrorCode.QUEUE_FULL, 'full')).headers['retry-after']).toBe('1');
    const internal = errorResponse(Object.assign(new TypeError("Cannot read properties of undefined (reading 'x')"), { code: 'INVALID_INPUT' }));
    expect(internal).toEqual({ status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"internal error"}' });
  });
});

describe('each code through a real request', () => {
  it('INVALID_INPUT → 400', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const response = await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    expectErrorBody(response, 400, ErrorCode.INVALID_INPUT, /model 'm' v1, input 'x'.*\[1, 3\]/);
  });

  it('a body that is not UTF-8 is refused (400), never decoded with replacement characters; a byte order mark and non-ASCII text are read', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const text = JSON.stringify(INFER);
    const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    // 0xff never occurs in UTF-8; 0xed 0xa0 0x80 would be a lone surrogate; 0xc0 0x80 an overlong NUL.
    for (const bad of [[0xff], [0xed, 0xa0, 0x80], [0xc0, 0x80]]) {
      const response = await post(`${url}/v2/models/m/infer`, bytes(text.slice(0, -1), ',"id":"', bad, '"}'), { 'content-type': 'application/json' });
      expectErrorBody(response, 400, ErrorCode.INVALID_INPUT, /^the request body is not UTF-8 text; JSON must be$/);
    }
    const withBom = await post(`${url}/v2/models/m/infer`, bytes([0xef, 0xbb, 0xbf], text), { 'content-type': 'application/json' });
    expect(withBom.status, withBom.text).toBe(200);
    // Valid UTF-8 beyond ASCII is text: here an id the request-id rule refuses by name, quoted back intact.
    const accented = await post(`${url}/v2/models/m/infer`, bytes(text.slice(0, -1), ',"id":"é"}'), { 'content-type': 'application/json' });
    expectErrorBody(accented, 400, ErrorCode.INVALID_INPUT, /"é"/);
  });

  it('MODEL_NOT_FOUND and VERSION_NOT_FOUND → 404', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    expectErrorBody(await infer(url, 'nope'), 404, ErrorCode.MODEL_NOT_FOUND, /'nope'/);
    // An HTTP client cannot call host.load(): the advice is what it can do over HTTP (the in-process message keeps its own).
    const http = "model 'nope' is not loaded (loaded: m); POST /v2/repository/index lists the models this server has; an admin loads one from the server's model repository (POST /v2/repository/models/nope/load)";
    expect((await infer(url, 'nope')).body.error).toBe(http);
    expect((await post(`${url}/v1/models/nope:predict`, { instances: [[1, 2, 3, 4]] })).body.error).toBe(http);
    expect((await request(`${url}/v2/models/nope`)).body.error).toBe(http);
    await expect(host.predict('nope', [1, 2, 3, 4])).rejects.toThrow("model 'nope' is not loaded (loaded: m); call host.load('nope') first");
    expectErrorBody(await post(`${url}/v2/models/m/versions/4/infer`, INFER), 404, ErrorCode.VERSION_NOT_FOUND, /version 4/);
    expectErrorBody(await post(`${url}/v1/models/m/versions/4:predict`, { instances: [[1, 2, 3, 4]] }), 404, ErrorCode.VERSION_NOT_FOUND);
  });

  it('MODEL_NOT_READY → 503 while the only version loads', async () => {
    const gate = deferred();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ loadGate: () => gate.promise }) } });
    const { url } = await serve(host);
    const loading = host.load('m', { source: FAKE_SOURCE });
    await vi.waitFor(() => expect(host.status('m').versions[0]?.state).toBe('loading'));
    expectErrorBody(await infer(url), 503, ErrorCode.MODEL_NOT_READY, /^model 'm' is not ready: no ready default version \(v1 loading\)$/);
    expectErrorBody(await post(`${url}/v1/models/m:predict`, { instances: [[1, 2, 3, 4]] }), 503, ErrorCode.MODEL_NOT_READY);
    gate.resolve();
    await loading;
    expect((await infer(url)).status).toBe(200);
  });

  it('QUEUE_FULL → 429 with Retry-After', async () => {
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) }); // warmup passes
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 }, queue: { maxSize: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const running = infer(url);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const queued = infer(url);
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(1));
    const refused = await infer(url);
    expectErrorBody(refused, 429, ErrorCode.QUEUE_FULL, /queue/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    held.resolve();
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
  });

  it('DEADLINE_EXCEEDED → 504 from the timeoutMs option', async () => {
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host, { timeoutMs: 30 });
    expectErrorBody(await infer(url), 504, ErrorCode.DEADLINE_EXCEEDED);
    expectErrorBody(await post(`${url}/v1/models/m:predict`, { instances: [[1, 2, 3, 4]] }), 504, ErrorCode.DEADLINE_EXCEEDED);
    held.resolve();
  });

  it.each([
    ['no dtype', () => ({ y: { data: new Float32Array(4), shape: [1, 4] } }), /output 'y' has dtype undefined, expected float32/],
    ['a wrong dtype', () => ({ y: { data: new Int32Array(4), shape: [1, 4], dtype: 'int32' } }), /output 'y' has dtype "int32", expected float32/],
    ['no declared output', () => ({}), /the runtime returned no output 'y'/],
    ['data that does not fill its shape', () => ({ y: { data: new Float32Array(3), shape: [1, 4], dtype: 'float32' } }), /output 'y' holds 3 values, but its shape \[1, 4\] says 4/],
  ])('a runtime that returns %s: 500 INFERENCE_FAILED naming the output, as JSON', async (_name, compute, message) => {
    const runtime = fakeRuntime({ compute: compute as never });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const response = await infer(url);
    expectErrorBody(response, 500, ErrorCode.INFERENCE_FAILED, message);
    expect(response.body.error).toMatch(/^model 'm' v1: inference failed: /);
    expect(response.text).not.toMatch(/\/tmp|\/work|\/home|internal error/);
  });

  it('a runtime that refuses one request\'s input alone: 400 naming the inputs, the logger gets the runtime\'s detail (it was logged as a 500 and no longer was)', async () => {
    const logged: { message: string; fields: unknown }[] = [];
    const record = (message: string, fields?: unknown) => logged.push({ message, fields });
    const logger = { debug: record, info: record, warn: record, error: record };
    const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).includes(13) ? new RangeError('index 13 out of range in /secret/abs/path/vocab.txt') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    expect((await infer(url)).status).toBe(200); // known-good inputs for the probe
    const response = await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 13, 3, 4] }] });
    expectErrorBody(response, 400, ErrorCode.INVALID_INPUT, /^model 'm' v1: the runtime rejected this request's inputs \(x: float32 \[1, 4\]\) \(blamed on the request: /);
    expect(response.text).not.toMatch(/secret|abs\/path|RangeError|out of range/);
    expect(logged).toContainEqual({
      message: 'input rejected by the runtime',
      fields: expect.objectContaining({ requestId: response.headers.get('x-request-id'), model: 'm', version: 1, detail: expect.arrayContaining([expect.stringMatching(/index 13 out of range in \/secret\/abs\/path\/vocab\.txt/)]) }),
    });
    // A refusal of modelhost's own (the validator's) has no runtime text to log.
    logged.length = 0;
    expect((await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] })).status).toBe(400);
    expect(logged.filter((l) => l.message === 'input rejected by the runtime')).toEqual([]);
  });

  it('a runtime that throws with an absolute path: the body says what failed in modelhost\'s words, the logger gets the detail', async () => {
    const logged: { message: string; fields: unknown }[] = [];
    const record = (message: string, fields?: unknown) => logged.push({ message, fields });
    const logger = { debug: record, info: record, warn: record, error: record };
    const runtime = fakeRuntime({ failRun: () => new RangeError('offset out of bounds reading /secret/abs/path/weights.bin') });
    const host = new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false, breaker: { enabled: false } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const response = await infer(url);
    expectErrorBody(response, 500, ErrorCode.INFERENCE_FAILED, /^model 'm' v1: inference failed: the runtime failed on this batch$/);
    expect(response.text).not.toMatch(/secret|abs\/path|RangeError|out of bounds/);
    expect(logged).toContainEqual({ message: 'inference failed', fields: expect.objectContaining({ model: 'm', version: 1, detail: [expect.stringMatching(/\/secret\/abs\/path\/weights\.bin/)] }) });
    // In-process callers still see the runtime's own error as the cause.
    const error = (await host.predict('m', new Float32Array(4)).catch((e: ModelHostError) => e)) as ModelHostError;
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it('INFERENCE_FAILED → 500 in modelhost\'s words (never the runtime\'s), then CIRCUIT_OPEN → 503 once the breaker opens', async () => {
    const runtime = fakeRuntime({ failRun: () => (runtime.runs > 1 ? new Error('GPU fell off') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    for (let i = 0; i < 3; i++) {
      const response = await infer(url);
      expect(response.text).not.toMatch(/GPU fell off/);
      expectErrorBody(response, 500, ErrorCode.INFERENCE_FAILED, /^model 'm' v1: inference failed: the runtime failed on this batch$/);
    }
    await vi.waitFor(() => expect(host.status('m').versions[0]!.breaker).toBe('open'));
    expectErrorBody(await infer(url), 503, ErrorCode.CIRCUIT_OPEN, /circuit breaker is open/);
  });

  it('SHUTTING_DOWN → 503 for requests that arrive while the host drains', async () => {
    const held = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const inFlight = infer(url);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const closing = host.close();
    expectErrorBody(await infer(url), 503, ErrorCode.SHUTTING_DOWN);
    expectErrorBody(await post(`${url}/v1/models/m:predict`, { instances: [[1, 2, 3, 4]] }), 503, ErrorCode.SHUTTING_DOWN);
    held.resolve();
    expect((await inFlight).status).toBe(200); // the one in flight finishes
    await closing;
  });

  it('INVALID_CONFIG → 400 on an admin load (no repository to load from)', async () => {
    const { url } = await serve(new ModelHost(), { authorize: () => true });
    expectErrorBody(await post(`${url}/admin/models/m/load`), 400, ErrorCode.INVALID_CONFIG, /repository/);
  });

  it('LOAD_FAILED, INTEGRITY_FAILED and UNSUPPORTED_MODEL → 422 on an admin load; what served keeps serving', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.onnx': onnxAffine() });
    await writeVersion(root, 'm', 2, { 'model.onnx': new TextEncoder().encode('not a protobuf at all') }, { checksums: false });
    const three = await writeVersion(root, 'm', 3, { 'model.onnx': onnxAffine() });
    await writeFile(path.join(three, 'model.onnx'), onnxAffine({ scale: 9 })); // after SHA256SUMS: a mismatch
    await mkdir(path.join(root, 'm', '4'), { recursive: true });
    await writeFile(path.join(root, 'm', '4', 'weights.pt'), 'torch');
    const host = new ModelHost({ repository: root });
    const { url } = await serve(host, { authorize: () => true });
    expect((await post(`${url}/admin/models/m/load`, { version: 1 })).status).toBe(200);

    expectErrorBody(await post(`${url}/admin/models/m/load`, { version: 2 }), 422, ErrorCode.LOAD_FAILED);
    expectErrorBody(await post(`${url}/admin/models/m/deploy`, { version: 3 }), 422, ErrorCode.INTEGRITY_FAILED, /model\.onnx/);
    expectErrorBody(await post(`${url}/v2/repository/models/m/load`, { parameters: { version: 4 } }), 422, ErrorCode.UNSUPPORTED_MODEL, /weights\.pt/);
    expect(host.status('m').defaultVersion).toBe(1);
    expect((await post(`${url}/v2/models/m/infer`, INFER)).body.outputs[0].data).toEqual([3, 5, 7, 9]);
  });

  it('UNAUTHORIZED → 403, or 401 with WWW-Authenticate when authorize asks for credentials', async () => {
    const refused = await serve(new ModelHost(), { authorize: () => false });
    expectErrorBody(await post(`${refused.url}/admin/models/m/promote`), 403, ErrorCode.UNAUTHORIZED);
    const ask = await serve(new ModelHost(), { authorize: () => 401 });
    const response = await post(`${ask.url}/admin/models/m/promote`);
    expect(response).toMatchObject({ status: 401, body: { error: expect.any(String) } });
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('CANCELLED (499) has no one to answer: the client is gone; the request settles as CANCELLED (see disconnect.test.ts)', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const failures: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failures.push(e));
    await host.predict('m', [1, 2, 3, 4], { signal: AbortSignal.abort() }).catch(() => undefined);
    expect(failures.map((f) => f.code)).toEqual(['CANCELLED']);
    expect(statusFor(failures[0]!.code)).toBe(499);
    await host.close();
  });

  it('anything that is not a ModelHostError → 500 { "error": "internal error" }, nothing of the cause', async () => {
    const host = new ModelHost();
    const { url } = await serve(host, {
      metrics: {
        contentType: 'text/plain',
        metrics: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:9091 at pushgateway (/srv/app/metrics.js:42:9)')),
      },
    });
    const response = await request(`${url}/metrics`);
    expect(response).toMatchObject({ status: 500, body: { error: 'internal error' } });
    expect(response.text).toBe('{"error":"internal error"}');
    expect(response.headers.get('x-modelhost-error-code')).toBeNull();
  });
});
