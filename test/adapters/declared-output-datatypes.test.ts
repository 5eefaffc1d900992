/**
 * A tfjs graph output the model declares as an integer type narrower than int32 (`DT_UINT8`
 * in model.json's signature) comes back in that type: tfjs computes it as int32, and the
 * scheduler gives the values back as declared when every one fits, else refuses the run as
 * its other output checks do (INFERENCE_FAILED, 500). Metadata and responses agree, on every
 * protocol, in-process and on a worker thread. tfjs has a bool dtype of its own: a DT_BOOL
 * output is exact as it is.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createGrpcServer, type GrpcServer } from '../../src/adapters/grpc/index.js';
import { DTYPES, ErrorCode, ModelHost, type ModelHostError } from '../../src/index.js';
import { NARROW_TF_TYPES, tfjsNarrowOutputGraph } from '../fixtures/tfjs-graph-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { call, newClient, type Client } from './grpc/client.js';
import { get, post, serve, type Served } from './http/serve.js';

type Narrow = keyof typeof NARROW_TF_TYPES;
const NARROW: readonly Narrow[] = ['uint8', 'int8', 'uint16', 'int16'];
const LIMITS: Record<Narrow, readonly [number, number]> = { uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767] };
const STORAGE = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array } as const;
const GRPC_FIELD: Record<Narrow, string> = { uint8: 'uint_contents', uint16: 'uint_contents', int8: 'int_contents', int16: 'int_contents' };

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;
let served: Served;
let url: string;
let grpcServer: GrpcServer;
let client: Client;

/** Three values of the type: its smallest, 1 and its largest. */
const valuesOf = (dtype: Narrow) => [LIMITS[dtype][0], 1, LIMITS[dtype][1]];

describe('tfjs outputs declared narrower than int32 come back as declared', () => {
  beforeAll(async () => {
    root = await tempDir();
    for (const dtype of NARROW) await writeVersion(root, `out-${dtype}`, 1, { 'model.json': tfjsNarrowOutputGraph(NARROW_TF_TYPES[dtype]) });
    await writeVersion(root, 'out-bool', 1, { 'model.json': tfjsNarrowOutputGraph('DT_BOOL') });
    await writeVersion(root, 'out-int32', 1, { 'model.json': tfjsNarrowOutputGraph('DT_INT32') });
    // wasm, where tfjs stores a cast bool unnormalized (as it runs here: tfjs-node is not installable).
    host = new ModelHost({ repository: root, defaults: { batching: { maxBatchSize: 8, maxDelayMs: 5 } }, models: { 'out-bool': { tfjs: { backend: 'wasm' } } } });
    await Promise.all([...NARROW.map((d) => host.load(`out-${d}`)), host.load('out-bool'), host.load('out-int32')]);
    served = await serve(host);
    url = served.url;
    grpcServer = await createGrpcServer(host, 0);
    client = newClient(grpcServer.port);
    return async () => {
      client.close();
      await grpcServer.close(100);
      await served.close();
      await host.close();
    };
  });

  it.each(NARROW)('%s: metadata names the declared type on every protocol; host.metadata() keeps what tfjs computes on', async (dtype) => {
    const name = `out-${dtype}`;
    expect(host.metadata(name).outputs).toEqual([{ name: 'y', aliases: ['Identity:0', 'Identity'], dtype: 'int32', declaredDtype: dtype, shape: [-1, 3] }]);
    const kserve = DTYPES[dtype].kserve;
    expect((await get(`${url}/v2/models/${name}`)).body.outputs).toEqual([{ name: 'y', datatype: kserve, shape: [-1, 3] }]);
    expect((await call(client, 'ModelMetadata', { name })).outputs).toEqual([{ name: 'y', datatype: kserve, shape: ['-1', '3'] }]);
    const tf = (await get(`${url}/v1/models/${name}/metadata`)).body.metadata.signature_def.signature_def.serving_default;
    expect(tf.outputs.y.dtype).toBe(`DT_${dtype.toUpperCase()}`);
  });

  it.each(NARROW)('%s: in-process, predict and predictBatch answer in the declared type with the exact values', async (dtype) => {
    const name = `out-${dtype}`;
    const values = valuesOf(dtype);
    const one = (await host.predict(name, Int32Array.from(values)))['y']!;
    expect(one.dtype).toBe(dtype);
    expect(one.data).toBeInstanceOf(STORAGE[dtype]);
    expect(Array.from(one.data as Uint8Array)).toEqual(values);
    expect(one.shape).toEqual([3]);
    // Three callers in one batch: each gets its own row, in the declared type.
    const rows = await Promise.all([0, 1, 2].map((shift) => host.predict(name, Int32Array.from(values.map((v) => (v === LIMITS[dtype][1] ? v - shift : v))))));
    rows.forEach((out, shift) => {
      expect(out['y']!.dtype).toBe(dtype);
      expect(Array.from(out['y']!.data as Uint8Array)).toEqual(values.map((v) => (v === LIMITS[dtype][1] ? v - shift : v)));
    });
    const batch = (await host.predictBatch(name, { x: { data: [...values, ...values], shape: [2, 3], dtype: 'int32' } }))['y']!;
    expect(batch).toMatchObject({ dtype, shape: [2, 3] });
    expect(Array.from(batch.data as Uint8Array)).toEqual([...values, ...values]);
  });

  it.each(NARROW)('%s: KServe v2 REST (JSON and binary) and gRPC answer in the declared datatype', async (dtype) => {
    const name = `out-${dtype}`;
    const values = valuesOf(dtype);
    const datatype = DTYPES[dtype].kserve;
    const json = await post(`${url}/v2/models/${name}/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: values }] });
    expect(json.status, JSON.stringify(json.body)).toBe(200);
    expect(json.body.outputs).toEqual([{ name: 'y', datatype, shape: [1, 3], data: values }]);

    const binary = await fetch(`${url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: values }], outputs: [{ name: 'y', parameters: { binary_data: true } }] }),
    });
    expect(binary.status).toBe(200);
    const headerLength = Number(binary.headers.get('inference-header-content-length'));
    const raw = Buffer.from(await binary.arrayBuffer());
    const header = JSON.parse(raw.subarray(0, headerLength).toString()) as { outputs: { datatype: string; parameters: { binary_data_size: number } }[] };
    expect(header.outputs[0]).toMatchObject({ datatype, parameters: { binary_data_size: 3 * DTYPES[dtype].bytes } });
    const tail = raw.subarray(headerLength);
    expect(Array.from(new STORAGE[dtype](tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.byteLength)))).toEqual(values);

    const grpc = await call(client, 'ModelInfer', { model_name: name, inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 3], contents: { int_contents: values } }] });
    expect(grpc.outputs[0]).toMatchObject({ name: 'y', datatype, shape: ['1', '3'] });
    expect(grpc.outputs[0].contents[GRPC_FIELD[dtype]]).toEqual(values);

    // TF Serving's JSON has no datatype field: the values, exact.
    const tf = await post(`${url}/v1/models/${name}:predict`, { instances: [values] });
    expect(tf).toMatchObject({ status: 200, body: { predictions: [values] } });
  });

  it.each(NARROW)('%s: a value the declared type cannot hold is refused as INFERENCE_FAILED (500) naming the output, the type and the value; batch-mates are served', async (dtype) => {
    const name = `out-${dtype}`;
    const over = LIMITS[dtype][1] + 1;
    const refused = await post(`${url}/v2/models/${name}/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [0, 1, over] }] });
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatch(new RegExp(`output 'y' is declared ${dtype} by the model, but holds a value that type cannot hold \\(the runtime computes it as int32\\): value ${over} at element 2 is out of range for dtype ${dtype}`));
    const [good, bad, alsoGood] = await Promise.all([[0, 1, 2], [0, 1, over], [3, 4, 5]].map((x) => host.predict(name, Int32Array.from(x)).then((out) => Array.from(out['y']!.data as Uint8Array), (error: ModelHostError) => error)));
    expect(good).toEqual([0, 1, 2]);
    expect(alsoGood).toEqual([3, 4, 5]);
    expect(bad).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringContaining(`value ${over} at element 2 is out of range for dtype ${dtype}`) });
    const under = LIMITS[dtype][0] - 1;
    await expect(host.predict(name, Int32Array.of(under, 0, 0))).rejects.toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringContaining(`value ${under} at element 0 is out of range for dtype ${dtype}`) });
  });

  it('a DT_BOOL output is tfjs\'s own bool: BOOL, exact; one holding a byte other than 0 or 1 is refused; a DT_INT32 output stays INT32', async () => {
    expect(host.metadata('out-bool').outputs[0]).toMatchObject({ dtype: 'bool' });
    expect(host.metadata('out-bool').outputs[0]).not.toHaveProperty('declaredDtype');
    const out = (await host.predict('out-bool', Int32Array.of(0, 1, 0)))['y']!;
    expect(out).toMatchObject({ dtype: 'bool', shape: [3] });
    expect(Array.from(out.data as Uint8Array)).toEqual([0, 1, 0]);
    const json = await post(`${url}/v2/models/out-bool/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [1, 0, 1] }] });
    expect(json.body.outputs).toEqual([{ name: 'y', datatype: 'BOOL', shape: [1, 3], data: [true, false, true] }]);
    // tfjs's wasm backend casts int32 to a bool stored as the low byte (7 stays 7, 256 becomes 0,
    // false): such an output is refused, not read as true.
    const refused = await post(`${url}/v2/models/out-bool/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [0, 7, 255] }] });
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatch(/output 'y' is bool, but element 1 holds 7; a bool is 0 or 1/);
    expect(host.metadata('out-int32').outputs[0]).toEqual({ name: 'y', aliases: ['Identity:0', 'Identity'], dtype: 'int32', shape: [-1, 3] });
    expect((await host.predict('out-int32', Int32Array.of(-5, 300, 70000)))['y']).toMatchObject({ dtype: 'int32', data: Int32Array.of(-5, 300, 70000) });
  });

  it('on a worker-thread instance too: the int32 values cross the thread and come back as uint8', async () => {
    const threads = new ModelHost({ repository: root, models: { 'out-uint8': { instances: { kind: 'thread', count: 1 } } } });
    try {
      await threads.load('out-uint8');
      const out = (await threads.predict('out-uint8', Int32Array.of(0, 128, 255)))['y']!;
      expect(out).toMatchObject({ dtype: 'uint8', data: Uint8Array.of(0, 128, 255) });
      await expect(threads.predict('out-uint8', Int32Array.of(0, 128, 256))).rejects.toMatchObject({ code: ErrorCode.INFERENCE_FAILED });
    } finally {
      await threads.close();
    }
  });
});
