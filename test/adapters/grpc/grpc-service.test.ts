/**
 * Conformance of `modelhost/grpc` with a real @grpc/grpc-js client built from the shipped
 * `.proto`: every rpc of inference.GRPCInferenceService, every error mapping, deadlines,
 * cancellation, raw and typed contents, BYTES, INT64, FP16, message size bounds.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GRPC_STATUS_BY_CODE, GrpcStatus } from '../../../src/adapters/grpc/index.js';
import { ERROR_CODES } from '../../../src/errors/index.js';
import { ErrorCode, ModelHost } from '../../../src/index.js';
import { IDENTITY_DTYPES, onnxAffine, onnxIdentity } from '../../fixtures/onnx-models.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { call, failure, grpc, useGrpc, type Client } from './client.js';

const { start, track } = useGrpc('each');
const shared = useGrpc('all');

// Runs held by a test are released after it even when it fails, so its host can close.
const releases: (() => void)[] = [];
afterEach(() => releases.splice(0).forEach((release) => release()));

const le = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

function lengthPrefixed(...items: Uint8Array[]): Buffer {
  return Buffer.concat(items.flatMap((item) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(item.byteLength);
    return [length, Buffer.from(item)];
  }));
}

/** `x` float32 [1, 4] for the affine fake (y = 2x + 1). */
const AFFINE_REQUEST = { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] };

function expectStatus(error: grpc.ServiceError, code: number, modelhostCode?: ErrorCode, details?: RegExp): void {
  expect({ code: error.code, details: error.details }).toMatchObject({ code, ...(details ? { details: expect.stringMatching(details) } : {}) });
  if (modelhostCode !== undefined) expect(error.metadata.get('x-modelhost-error-code')).toEqual([modelhostCode]);
}

describe('modelhost/grpc: health and metadata', () => {
  let host: ModelHost;
  let client: Client;
  beforeAll(async () => {
    host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });
    ({ client } = await shared.start(host));
  });

  it('ServerLive and ServerReady', async () => {
    expect(await call(client, 'ServerLive', {})).toEqual({ live: true });
    expect(await call(client, 'ServerReady', {})).toEqual({ ready: true });
  });

  it('ModelReady: the model, a version of it; NOT_FOUND for an unknown model or a version not in canonical form', async () => {
    expect(await call(client, 'ModelReady', { name: 'affine' })).toEqual({ ready: true });
    expect(await call(client, 'ModelReady', { name: 'affine', version: '1' })).toEqual({ ready: true });
    expect(await call(client, 'ModelReady', { name: 'affine', version: '7' })).toEqual({ ready: false });
    expectStatus(await failure(call(client, 'ModelReady', { name: 'nope' })), GrpcStatus.NOT_FOUND, ErrorCode.MODEL_NOT_FOUND, /nope/);
    expectStatus(await failure(call(client, 'ModelReady', { name: 'affine', version: '01' })), GrpcStatus.NOT_FOUND, ErrorCode.VERSION_NOT_FOUND, /"01"/);
  });

  it('ServerMetadata names the server, its version and the repository extension', async () => {
    const meta = await call(client, 'ServerMetadata', {});
    expect(meta).toMatchObject({ name: 'modelhost', extensions: ['model_repository'] });
    expect(meta.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('ModelMetadata: versions, platform, tensors with KServe datatypes and -1 dimensions', async () => {
    expect(await call(client, 'ModelMetadata', { name: 'affine' })).toEqual({
      name: 'affine',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1', '4'] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: ['-1', '4'] }],
    });
    expectStatus(await failure(call(client, 'ModelMetadata', { name: 'affine', version: '2' })), GrpcStatus.NOT_FOUND, ErrorCode.VERSION_NOT_FOUND);
  });
});

describe('modelhost/grpc: ModelInfer contents', () => {
  let client: Client;
  const bytesSeen: unknown[] = [];
  beforeAll(async () => {
    const bytes = fakeRuntime({
      name: 'bytes',
      signature: { inputs: [{ name: 'x', dtype: 'string', shape: [-1] }], outputs: [{ name: 'y', dtype: 'string', shape: [-1] }] },
      compute: (inputs) => {
        bytesSeen.push(inputs['x']!.data);
        return { y: { ...inputs['x']!, dtype: 'string' } };
      },
    });
    bytes.canLoad = (files) => files.includes('model.bytes');
    const host = new ModelHost({ runtimes: { bytes } });
    for (const dtype of IDENTITY_DTYPES) if (dtype !== 'string') await host.load(`id-${dtype}`, { source: onnxIdentity(dtype) });
    await host.load('bytes-id', { source: { files: { 'model.bytes': 'x' } } });
    await host.load('affine', { source: onnxAffine() });
    ({ client } = await shared.start(host));
  });

  it('typed contents in, typed contents out (FP32), with id, model_version and shapes', async () => {
    const response = await call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', id: 'req-1' });
    expect(response).toEqual({
      model_name: 'affine',
      model_version: '1',
      id: 'req-1',
      parameters: {},
      outputs: [{ name: 'y', datatype: 'FP32', shape: ['1', '4'], parameters: {}, contents: expect.objectContaining({ fp32_contents: [3, 5, 7, 9] }) }],
      raw_output_contents: [],
    });
  });

  it('raw_input_contents in, raw_output_contents out, little-endian, one entry per output', async () => {
    const response = await call(client, 'ModelInfer', { model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [le(Float32Array.of(0, 1, 2, 3, -1, -2, -3, 0.5))] });
    expect(response.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: ['2', '4'], parameters: {}, contents: null }]);
    expect(response.raw_output_contents).toHaveLength(1);
    const raw: Buffer = response.raw_output_contents[0];
    expect(Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)))).toEqual([1, 3, 5, 7, -1, -3, -5, 2]);
  });

  it('INT64 and UINT64: every digit of the extremes, typed and raw', async () => {
    const int64 = ['-9223372036854775808', '9223372036854775807', '9007199254740993', '0'];
    const typed = await call(client, 'ModelInfer', { model_name: 'id-int64', inputs: [{ name: 'x', datatype: 'INT64', shape: [4], contents: { int64_contents: int64 } }] });
    expect(typed.outputs[0].contents.int64_contents).toEqual(int64);
    const rawIn = BigInt64Array.from(int64.map(BigInt));
    const raw = await call(client, 'ModelInfer', { model_name: 'id-int64', inputs: [{ name: 'x', datatype: 'INT64', shape: [4] }], raw_input_contents: [le(rawIn)] });
    expect(Buffer.compare(raw.raw_output_contents[0], le(rawIn))).toBe(0);
    const uint64 = ['18446744073709551615', '9007199254740993'];
    const u = await call(client, 'ModelInfer', { model_name: 'id-uint64', inputs: [{ name: 'x', datatype: 'UINT64', shape: [2], contents: { uint64_contents: uint64 } }] });
    expect(u.outputs[0].contents.uint64_contents).toEqual(uint64);
  });

  it('FP16: raw bits round-trip exactly; typed contents are refused (the protocol has no FP16 field)', async () => {
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00);
    const response = await call(client, 'ModelInfer', { model_name: 'id-float16', inputs: [{ name: 'x', datatype: 'FP16', shape: [7] }], raw_input_contents: [le(bits)] });
    expect(response.outputs[0]).toMatchObject({ datatype: 'FP16', shape: ['7'] });
    expect(Buffer.compare(response.raw_output_contents[0], le(bits))).toBe(0);
    const refused = await failure(call(client, 'ModelInfer', { model_name: 'id-float16', inputs: [{ name: 'x', datatype: 'FP16', shape: [1], contents: { fp32_contents: [1] } }] }));
    expectStatus(refused, GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /input 'x'.*FP16 values go in raw_input_contents/);
  });

  it('BYTES: any bytes (not UTF-8, NUL, empty), typed and raw (4-byte length prefixes)', async () => {
    const items = [Buffer.from([0xff, 0xd8, 0x00, 0x80]), Buffer.alloc(0), Buffer.from('héllo')];
    const typed = await call(client, 'ModelInfer', { model_name: 'bytes-id', inputs: [{ name: 'x', datatype: 'BYTES', shape: [3], contents: { bytes_contents: items } }] });
    expect(typed.outputs[0].contents.bytes_contents.map((b: Buffer) => [...b])).toEqual(items.map((b) => [...b]));
    const raw = await call(client, 'ModelInfer', { model_name: 'bytes-id', inputs: [{ name: 'x', datatype: 'BYTES', shape: [3] }], raw_input_contents: [lengthPrefixed(...items)] });
    expect(Buffer.compare(raw.raw_output_contents[0], lengthPrefixed(...items))).toBe(0);
    expect(bytesSeen.at(-1)).toEqual(items.map((b) => new Uint8Array(b)));
  });

  it('BOOL, INT8, UINT16 and FP64 in their contents fields', async () => {
    const cases = [
      ['bool', 'BOOL', 'bool_contents', [true, false, true]],
      ['int8', 'INT8', 'int_contents', [-128, 0, 127]],
      ['uint16', 'UINT16', 'uint_contents', [0, 1, 65535]],
      ['float64', 'FP64', 'fp64_contents', [0.1, -1e300, 5e-324]],
    ] as const;
    for (const [dtype, datatype, field, values] of cases) {
      const response = await call(client, 'ModelInfer', { model_name: `id-${dtype}`, inputs: [{ name: 'x', datatype, shape: [3], contents: { [field]: values } }] });
      expect(response.outputs[0].contents[field], dtype).toEqual(values);
    }
  });

  it('an id outside the one request-id rule (300 characters, a space) is INVALID_ARGUMENT, as over HTTP', async () => {
    for (const id of ['x'.repeat(300), 'has space']) {
      expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', id })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /id must be 1–128 visible ASCII characters/);
    }
  });

  it('requested outputs: only those, in request order; an unknown or repeated one is INVALID_ARGUMENT before the model runs', async () => {
    const response = await call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', outputs: [{ name: 'y' }] });
    expect(response.outputs.map((o: { name: string }) => o.name)).toEqual(['y']);
    expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', outputs: [{ name: 'z' }] })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /"z" is not an output of model 'affine'/);
    expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', outputs: [{ name: 'y' }, { name: 'y' }] })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /twice/);
  });

  it('bad input is INVALID_ARGUMENT naming the input, the expected and the received', async () => {
    const refusals: [object, RegExp][] = [
      [{ model_name: 'affine', inputs: [] }, /no inputs/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP33', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] }, /input 'x': unknown datatype "FP33"/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3] } }] }, /input 'x': contents.fp32_contents has 3 elements but shape \[1, 4\] holds 4/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { int_contents: [1, 2, 3, 4] } }] }, /FP32 values go in contents.fp32_contents, got contents.int_contents/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.alloc(12)] }, /input 'x': has 12 bytes, but 4 elements of FP32 need 16/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }, { name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.alloc(16), Buffer.alloc(16)] }, /input 'x' is given twice/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.alloc(16), Buffer.alloc(16)] }, /raw_input_contents has 2 entries for 1 inputs/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] }, /shape must hold non-negative integers, got \[-1, 4\]/],
      [{ model_name: 'id-int8', inputs: [{ name: 'x', datatype: 'INT8', shape: [1], contents: { int_contents: [300] } }] }, /300.*out of range for dtype int8/],
      [{ model_name: 'id-bool', inputs: [{ name: 'x', datatype: 'BOOL', shape: [1] }], raw_input_contents: [Buffer.from([2])] }, /BOOL bytes are 0 or 1/],
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 4], contents: { int_contents: [1, 2, 3, 4] } }] }, /input 'x': expected dtype float32, got int32/],
      [{ ...AFFINE_REQUEST, model_name: 'affine', parameters: { timeout: { string_param: 'soon' } } }, /"timeout"/],
      [{ ...AFFINE_REQUEST, model_name: 'affine', parameters: { sequence_id: { int64_param: 7 } } }, /"sequence_id": modelhost has no sequence batching/],
      // Shared memory (Triton's extension) is not served: refused, never answered as if absent.
      [{ model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], parameters: { shared_memory_region: { string_param: 'r' }, shared_memory_byte_size: { int64_param: 16 } } }] }, /input 'x': parameter "shared_memory_region": modelhost has no shared-memory extension/],
      [{ ...AFFINE_REQUEST, model_name: 'affine', outputs: [{ name: 'y', parameters: { shared_memory_region: { string_param: 'r' } } }] }, /output "y": parameter "shared_memory_region": modelhost has no shared-memory extension/],
    ];
    for (const [request, details] of refusals) {
      expectStatus(await failure(call(client, 'ModelInfer', request)), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, details);
    }
  });

  it('an unknown model or version is NOT_FOUND; an empty model_name INVALID_ARGUMENT', async () => {
    expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'nope' })), GrpcStatus.NOT_FOUND, ErrorCode.MODEL_NOT_FOUND);
    // A gRPC client cannot call host.load(): the advice names the rpcs it can use.
    expect((await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'nope' }))).details).toMatch(
      /^model 'nope' is not loaded \(loaded: [^)]*\); RepositoryIndex lists the models this server has; an admin loads one from the server's model repository \(RepositoryModelLoad\)$/,
    );
    expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine', model_version: '3' })), GrpcStatus.NOT_FOUND, ErrorCode.VERSION_NOT_FOUND);
    expectStatus(await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: '' })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /model_name/);
  });
});

describe('modelhost/grpc: status mapping, deadlines and cancellation', () => {
  it('maps every modelhost error code (QUEUE_FULL → UNAVAILABLE, as Triton)', () => {
    expect(Object.keys(GRPC_STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
    expect(GRPC_STATUS_BY_CODE).toMatchObject({
      INVALID_INPUT: GrpcStatus.INVALID_ARGUMENT,
      MODEL_NOT_FOUND: GrpcStatus.NOT_FOUND,
      VERSION_NOT_FOUND: GrpcStatus.NOT_FOUND,
      QUEUE_FULL: GrpcStatus.UNAVAILABLE,
      DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
      CANCELLED: GrpcStatus.CANCELLED,
      CIRCUIT_OPEN: GrpcStatus.UNAVAILABLE,
      MODEL_NOT_READY: GrpcStatus.UNAVAILABLE,
      SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
      INFERENCE_FAILED: GrpcStatus.INTERNAL,
      UNAUTHORIZED: GrpcStatus.PERMISSION_DENIED,
    });
  });

  it('docs/errors.md gives each code the gRPC status it gets', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const names = Object.fromEntries(Object.entries(GrpcStatus).map(([name, value]) => [value, name]));
    for (const code of ERROR_CODES) {
      const row = new RegExp(`^\\| \`${code}\` \\|.*\\| \`([A-Z_]+)\`[^|]*\\|$`, 'm').exec(doc);
      expect(row?.[1], code).toBe(names[GRPC_STATUS_BY_CODE[code]]);
    }
  });

  /** A host whose model `m` (the affine fake) holds every run after warmup until `held` resolves. */
  async function heldHost(options: ConstructorParameters<typeof ModelHost>[0] = {}) {
    const held = deferred();
    releases.push(() => held.resolve());
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 }, queue: { maxSize: 1 } }, ...options });
    await host.load('m', { source: FAKE_SOURCE });
    return { host, runtime, held };
  }

  it('QUEUE_FULL → UNAVAILABLE with the retry hint in trailers; the queued call still succeeds', async () => {
    const { host, runtime, held } = await heldHost();
    const { client } = await start(host);
    const running = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const queued = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(1));
    const refused = await failure(call(client, 'ModelInfer', AFFINE_REQUEST));
    expectStatus(refused, GrpcStatus.UNAVAILABLE, ErrorCode.QUEUE_FULL, /queue/);
    expect(Number(refused.metadata.get('retry-after-ms')[0])).toBeGreaterThan(0);
    held.resolve();
    expect((await running).outputs[0].contents.fp32_contents).toEqual([3, 5, 7, 9]);
    expect((await queued).outputs[0].contents.fp32_contents).toEqual([3, 5, 7, 9]);
  });

  it('the call\'s gRPC deadline becomes the task\'s: it leaves the queue when it passes, and never runs', async () => {
    const { host, runtime, held } = await heldHost();
    const { client } = await start(host);
    const failed: string[] = [];
    host.on('requestFailed', (e) => failed.push(e.code));
    const running = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const late = await failure(call(client, 'ModelInfer', AFFINE_REQUEST, { deadlineMs: 150 }));
    expect(late.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(0));
    await vi.waitFor(() => expect(failed.length).toBe(1));
    expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain(failed[0]);
    held.resolve();
    await running;
    expect(runtime.runs).toBe(2); // the expired request never ran
  });

  it('the server\'s timeoutMs → DEADLINE_EXCEEDED from modelhost (its code in trailers)', async () => {
    const { host, held } = await heldHost();
    const { client } = await start(host, { timeoutMs: 50 });
    const refused = await failure(call(client, 'ModelInfer', AFFINE_REQUEST));
    expectStatus(refused, GrpcStatus.DEADLINE_EXCEEDED, ErrorCode.DEADLINE_EXCEEDED);
    held.resolve();
  });

  it('Triton\'s "timeout" request parameter (microseconds) is a deadline too', async () => {
    const { host, runtime, held } = await heldHost();
    const { client } = await start(host);
    const running = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const refused = await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, parameters: { timeout: { int64_param: '50000' } } }));
    expectStatus(refused, GrpcStatus.DEADLINE_EXCEEDED, ErrorCode.DEADLINE_EXCEEDED);
    held.resolve();
    await running;
  });

  it('a cancelled call aborts its queued task (CANCELLED), which never runs', async () => {
    const { host, runtime, held } = await heldHost();
    const { client } = await start(host);
    const failed: string[] = [];
    host.on('requestFailed', (e) => failed.push(e.code));
    const running = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    let cancelled: grpc.ServiceError | undefined;
    const pending = client.ModelInfer(AFFINE_REQUEST, (error: grpc.ServiceError | null) => {
      cancelled = error ?? undefined;
    });
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(1));
    pending.cancel();
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(0));
    await vi.waitFor(() => expect(failed).toEqual(['CANCELLED']));
    expect(cancelled?.code).toBe(GrpcStatus.CANCELLED);
    held.resolve();
    await running;
    expect(runtime.runs).toBe(2);
  });

  it('anything that is no ModelHostError is INTERNAL "internal error", its detail to the host\'s logger only', async () => {
    const logged: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: Record<string, unknown>) => logged.push({ message, ...fields }) };
    class BrokenHost extends ModelHost {
      override metadata(): never {
        throw new TypeError('secret detail at /srv/models/m');
      }
    }
    const { client } = await start(new BrokenHost({ logger }));
    const refused = await failure(call(client, 'ModelMetadata', { name: 'm' }));
    expect({ code: refused.code, details: refused.details }).toEqual({ code: GrpcStatus.INTERNAL, details: 'internal error' });
    expect(logged).toEqual([expect.objectContaining({ message: 'unexpected error answered with INTERNAL', method: '/inference.GRPCInferenceService/ModelMetadata', error: expect.stringMatching(/secret detail/) })]);
  });

  it('MODEL_NOT_READY → UNAVAILABLE while the only version loads', async () => {
    const gate = deferred();
    releases.push(() => gate.resolve());
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ loadGate: () => gate.promise }) } });
    const { client } = await start(host);
    const loading = host.load('m', { source: FAKE_SOURCE });
    await vi.waitFor(() => expect(host.status('m').versions[0]?.state).toBe('loading'));
    expectStatus(await failure(call(client, 'ModelInfer', AFFINE_REQUEST)), GrpcStatus.UNAVAILABLE, ErrorCode.MODEL_NOT_READY);
    expect(await call(client, 'ModelReady', { name: 'm' })).toEqual({ ready: false });
    gate.resolve();
    await loading;
    expect(await call(client, 'ModelReady', { name: 'm' })).toEqual({ ready: true });
  });

  it('INFERENCE_FAILED → INTERNAL in modelhost\'s words (never the runtime\'s); CIRCUIT_OPEN → UNAVAILABLE', async () => {
    const runtime = fakeRuntime({ failRun: () => (runtime.runs > 1 ? new Error('GPU fell off') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { client } = await start(host);
    for (let i = 0; i < 3; i++) expectStatus(await failure(call(client, 'ModelInfer', AFFINE_REQUEST)), GrpcStatus.INTERNAL, ErrorCode.INFERENCE_FAILED, /^model 'm' v1: inference failed: the runtime failed on this batch$/);
    await vi.waitFor(() => expect(host.status('m').versions[0]!.breaker).toBe('open'));
    expectStatus(await failure(call(client, 'ModelInfer', AFFINE_REQUEST)), GrpcStatus.UNAVAILABLE, ErrorCode.CIRCUIT_OPEN);
  });

  it("an input the runtime refuses alone: INVALID_ARGUMENT naming the inputs, the runtime's text to the logger with the request id, never to the client", async () => {
    const logged: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const record = (message: string, fields?: Record<string, unknown>) => logged.push({ message, fields });
    const logger = { debug: record, info: record, warn: record, error: record };
    const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).includes(13) ? new RangeError('index 13 out of range in /secret/abs/path/vocab.txt') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { client } = await start(host);
    await call(client, 'ModelInfer', AFFINE_REQUEST); // known-good inputs for the probe
    const poisoned = { ...AFFINE_REQUEST, id: 'req-13', inputs: [{ ...AFFINE_REQUEST.inputs[0]!, contents: { fp32_contents: [1, 13, 3, 4] } }] };
    const error = await failure(call(client, 'ModelInfer', poisoned));
    expectStatus(error, GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /^model 'm' v1: the runtime rejected this request's inputs \(x: float32 \[1, 4\]\) \(blamed on the request: /);
    expect(error.details).not.toMatch(/secret|abs\/path|out of range/);
    expect(logged.filter((l) => l.message === 'input rejected by the runtime')).toEqual([
      { message: 'input rejected by the runtime', fields: expect.objectContaining({ requestId: 'req-13', model: 'm', version: 1, detail: expect.arrayContaining([expect.stringMatching(/\/secret\/abs\/path\/vocab\.txt/)]) }) },
    ]);
    expect(host.status('m').versions[0]!.breaker).toBe('closed');
  });

  it("INFERENCE_FAILED: the runtime's own text (an absolute path) goes to the host's logger with the request id, unary and streamed, never to the client", async () => {
    const logged: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const record = (message: string, fields?: Record<string, unknown>) => logged.push({ message, fields });
    const logger = { debug: record, info: record, warn: record, error: record };
    const runtime = fakeRuntime({ failRun: () => new RangeError('offset out of bounds reading /secret/abs/path/weights.bin') });
    const host = new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false, breaker: { enabled: false } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { client } = await start(host);
    const error = await failure(call(client, 'ModelInfer', { ...AFFINE_REQUEST, id: 'req-7' }));
    expectStatus(error, GrpcStatus.INTERNAL, ErrorCode.INFERENCE_FAILED, /^model 'm' v1: inference failed: the runtime failed on this batch$/);
    expect(error.details).not.toMatch(/secret|abs\/path/);
    const failures = () => logged.filter((l) => l.message === 'inference failed');
    expect(failures()).toEqual([{ message: 'inference failed', fields: expect.objectContaining({ requestId: 'req-7', model: 'm', version: 1, detail: expect.arrayContaining([expect.stringMatching(/\/secret\/abs\/path\/weights\.bin/)]) }) }]);
    const stream = client.ModelStreamInfer();
    const answered = new Promise<any>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
    });
    stream.write({ ...AFFINE_REQUEST, id: 'req-8' });
    expect((await answered).error_message).toMatch(/^model 'm' v1: inference failed/);
    stream.end();
    await vi.waitFor(() => expect(failures().map((l) => l.fields?.['requestId'])).toEqual(['req-7', 'req-8']));
  });

  it('SHUTTING_DOWN → UNAVAILABLE while the host drains; the call in flight finishes', async () => {
    const { host, runtime, held } = await heldHost();
    const { client } = await start(host);
    const inFlight = call(client, 'ModelInfer', AFFINE_REQUEST);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const closing = host.close();
    expectStatus(await failure(call(client, 'ModelInfer', AFFINE_REQUEST)), GrpcStatus.UNAVAILABLE, ErrorCode.SHUTTING_DOWN);
    held.resolve();
    expect((await inFlight).outputs).toHaveLength(1);
    await closing;
  });
});

describe('modelhost/grpc: message size bounds', () => {
  it('a raw tensor just under maxReceiveMessageBytes passes; one over it is RESOURCE_EXHAUSTED naming both sizes', async () => {
    const host = new ModelHost();
    await host.load('id', { source: onnxIdentity('float32', ['N', 'D']) });
    const limit = 1024 * 1024;
    const { client } = await start(host, { maxReceiveMessageBytes: limit, maxSendMessageBytes: 2 * limit });
    const elements = (limit - 256) / 4; // the message adds names, shape and framing
    const near = Float32Array.from({ length: elements }, (_, i) => i);
    const response = await call(client, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, elements] }], raw_input_contents: [le(near)] });
    expect(Buffer.compare(response.raw_output_contents[0], le(near))).toBe(0);
    const over = new Float32Array(limit / 4 + 16);
    const refused = await failure(call(client, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, over.length] }], raw_input_contents: [le(over)] }));
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(new RegExp(`larger than max \\(\\d+ vs\\.? ${limit}\\)`));
  });

  it('outputs over maxSendMessageBytes are RESOURCE_EXHAUSTED naming their size and the bound', async () => {
    const host = new ModelHost();
    await host.load('id', { source: onnxIdentity('float32', ['N', 'D']) });
    const { client } = await start(host, { maxSendMessageBytes: 4096 });
    const ok = await call(client, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1000] }], raw_input_contents: [le(new Float32Array(1000))] });
    expect(ok.raw_output_contents[0].byteLength).toBe(4000);
    const refused = await failure(call(client, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2000] }], raw_input_contents: [le(new Float32Array(2000))] }));
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/outputs are 8000 bytes, over the 4096-byte message bound \(maxSendMessageBytes\)/);
  });

  it('refuses bad options with the option named', async () => {
    await expect(start(new ModelHost(), { maxReceiveMessageBytes: 0 })).rejects.toThrow(/`maxReceiveMessageBytes` must be an integer in \[1, \d+\], got 0/);
    await expect(start(new ModelHost(), { timeoutMs: -1 })).rejects.toThrow(/`timeoutMs` must be a positive number of ms, got -1/);
  });
});

describe('modelhost/grpc: ModelStreamInfer', () => {
  it('answers every request of the stream, by id; an error is that request\'s error_message and the stream goes on', async () => {
    const host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });
    const { client } = await start(host);
    const stream = client.ModelStreamInfer();
    const responses: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: unknown) => responses.push(r));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (let i = 0; i < 5; i++) stream.write({ ...AFFINE_REQUEST, model_name: 'affine', id: `r${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [i, i, i, i] } }] });
    stream.write({ ...AFFINE_REQUEST, model_name: 'nope', id: 'bad' });
    stream.end();
    await done;
    expect(responses).toHaveLength(6);
    const byId = new Map(responses.map((r) => [r.infer_response.id, r]));
    for (let i = 0; i < 5; i++) {
      expect(byId.get(`r${i}`)!.error_message).toBe('');
      expect(byId.get(`r${i}`)!.infer_response.outputs[0].contents.fp32_contents).toEqual([2 * i + 1, 2 * i + 1, 2 * i + 1, 2 * i + 1]);
    }
    expect(byId.get('bad')!.error_message).toMatch(/nope/);
  });

  it('holds at most maxStreamInFlight requests of a stream: reading pauses, then every one is answered', async () => {
    const held = deferred();
    releases.push(() => held.resolve());
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { client } = await start(host, { maxStreamInFlight: 2 });
    const stream = client.ModelStreamInfer();
    const answered: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: any) => answered.push(r.infer_response.id));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (let i = 0; i < 6; i++) stream.write({ ...AFFINE_REQUEST, id: `r${i}` });
    stream.end();
    await vi.waitFor(() => expect(runtime.runs).toBe(2)); // one running (held) …
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(1)); // … one queued
    // A negative: give the four written but unread requests time to arrive if reading did not pause.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(host.status('m').versions[0]!.queueDepth).toBe(1); // the other four wait unread
    held.resolve();
    await done;
    expect(answered.sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('cancelling the stream aborts its queued requests', async () => {
    const held = deferred();
    releases.push(() => held.resolve());
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const { client } = await start(host);
    const failed: string[] = [];
    host.on('requestFailed', (e) => failed.push(e.code));
    const stream = client.ModelStreamInfer();
    stream.on('error', () => undefined);
    for (let i = 0; i < 3; i++) stream.write({ ...AFFINE_REQUEST, id: `r${i}` });
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(2));
    stream.cancel();
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(0));
    // The two queued requests and the one held in the runtime: the stream's caller is gone.
    await vi.waitFor(() => expect(failed).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']));
    held.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runtime.runs).toBe(2); // warmup and the held one: the queued ones never ran
  });
});

describe('modelhost/grpc: repository extension behind the admin authorization', () => {
  const tempDir = useTempDirs();
  const TOKEN = 'a-long-enough-admin-token';

  let root: string;
  async function repositoryHost() {
    root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine() });
    await writeVersion(root, 'affine', 2, { 'model.onnx': onnxAffine({ scale: 3 }) });
    return track(new ModelHost({ repository: { root, versionPolicy: 'all' } }));
  }

  const bearer = (token: string) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  };

  it('a load on a host without a repository is INVALID_CONFIG → INVALID_ARGUMENT', async () => {
    const { client } = await start(new ModelHost(), { authorize: () => true });
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine' })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_CONFIG, /repository/);
  });

  it('without an authorize hook every repository rpc is PERMISSION_DENIED', async () => {
    const { client } = await start(await repositoryHost());
    for (const method of ['RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload']) {
      expectStatus(await failure(call(client, method, { model_name: 'affine' })), GrpcStatus.PERMISSION_DENIED, ErrorCode.UNAUTHORIZED, /disabled/);
    }
  });

  it('the HTTP bearer-token hook, on metadata: none or a wrong token is UNAUTHENTICATED; a refusal PERMISSION_DENIED', async () => {
    const { bearerTokenAuthorizer } = await import('../../../src/cli/admin-token.js');
    const { client } = await start(await repositoryHost(), { authorize: bearerTokenAuthorizer(TOKEN) });
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine' })), GrpcStatus.UNAUTHENTICATED, undefined, /credentials/);
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine' }, { metadata: bearer('wrong-token-wrong-token') })), GrpcStatus.UNAUTHENTICATED);
    const seen: string[] = [];
    const { client: refusing } = await start(await repositoryHost(), {
      authorize: (request) => {
        seen.push(request.url);
        return false;
      },
    });
    expectStatus(await failure(call(refusing, 'RepositoryModelUnload', { model_name: 'affine' })), GrpcStatus.PERMISSION_DENIED, ErrorCode.UNAUTHORIZED);
    expect(seen).toEqual(['/inference.GRPCInferenceService/RepositoryModelUnload']);
  });

  it('with the token: load a version, index it, unload it; Triton\'s config/file parameters are refused', async () => {
    const { bearerTokenAuthorizer } = await import('../../../src/cli/admin-token.js');
    const host = await repositoryHost();
    const { client } = await start(host, { authorize: bearerTokenAuthorizer(TOKEN) });
    const metadata = bearer(TOKEN);
    expect(await call(client, 'RepositoryIndex', {}, { metadata })).toEqual({ models: [] });
    expect(await call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { version: { string_param: '2' } } }, { metadata })).toEqual({});
    expect(host.ready('affine')).toBe(true);
    expect((await call(client, 'RepositoryIndex', { ready: true }, { metadata })).models).toEqual([{ name: 'affine', version: '2', state: 'READY', reason: '' }]);
    const response = await call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine' });
    expect(response.outputs[0].contents.fp32_contents).toEqual([4, 7, 10, 13]);
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { config: { string_param: '{}' } } }, { metadata })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /"config" is not supported/);
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { 'file:1/model.onnx': { bytes_param: Buffer.from('x') } } }, { metadata })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /not supported/);
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { version: { string_param: '02' } } }, { metadata })), GrpcStatus.INVALID_ARGUMENT, ErrorCode.INVALID_INPUT, /"version"/);
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'missing' }, { metadata })), GrpcStatus.NOT_FOUND);
    expect(await call(client, 'RepositoryModelUnload', { model_name: 'affine', parameters: { unload_dependents: { bool_param: false } } }, { metadata })).toEqual({});
    expect(host.status().flatMap((m) => m.versions.filter((v) => v.state === 'ready'))).toEqual([]);
    // A version whose files are broken: LOAD_FAILED → INTERNAL; what served keeps serving.
    await writeVersion(root, 'affine', 3, { 'model.onnx': new TextEncoder().encode('not a protobuf') }, { checksums: false });
    expect(await call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { version: { int64_param: '1' } } }, { metadata })).toEqual({});
    expectStatus(await failure(call(client, 'RepositoryModelLoad', { model_name: 'affine', parameters: { version: { int64_param: '3' } } }, { metadata })), GrpcStatus.INTERNAL, ErrorCode.LOAD_FAILED);
    expect((await call(client, 'ModelInfer', { ...AFFINE_REQUEST, model_name: 'affine' })).outputs[0].contents.fp32_contents).toEqual([3, 5, 7, 9]);
  });
});

