/**
 * Metadata names each tensor's datatype as the model declares it, on every protocol (KServe
 * v2 REST and gRPC, TF Serving), for the integer types narrower than int32 on both runtimes:
 * onnxruntime runs them as declared; tfjs feeds them as int32 (the declared type bounds the
 * values). A client that sends the datatype the metadata named is served, in every encoding.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createGrpcServer, type GrpcServer } from '../../src/adapters/grpc/index.js';
import { DTYPES, ModelHost, type DType } from '../../src/index.js';
import { onnxIdentity } from '../fixtures/onnx-models.js';
import { NARROW_TF_TYPES, tfjsCastGraph } from '../fixtures/tfjs-graph-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { call, newClient, type Client } from './grpc/client.js';
import { get, post, serve, type Served } from './http/serve.js';

type Narrow = keyof typeof NARROW_TF_TYPES;
const NARROW: readonly Narrow[] = ['uint8', 'int8', 'uint16', 'int16'];
const LIMITS: Record<Narrow, readonly [number, number]> = { uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767] };
const GRPC_FIELD: Record<Narrow, string> = { uint8: 'uint_contents', uint16: 'uint_contents', int8: 'int_contents', int16: 'int_contents' };

const tempDir = useTempDirs('all');
let host: ModelHost;
let served: Served;
let url: string;
let grpcServer: GrpcServer;
let client: Client;

const models = NARROW.flatMap((dtype) => [
  { name: `onnx-${dtype}`, dtype, runtime: 'onnx' as const },
  { name: `tfjs-${dtype}`, dtype, runtime: 'tfjs' as const },
]);

/** Three values of the type: its smallest, 1 and its largest. */
const valuesOf = (dtype: Narrow) => [LIMITS[dtype][0], 1, LIMITS[dtype][1]];

describe('declared datatypes (uint8, int8, uint16, int16) on onnxruntime and tfjs', () => {
  beforeAll(async () => {
    const root = await tempDir();
    for (const m of models) {
      await writeVersion(root, m.name, 1, m.runtime === 'onnx' ? { 'model.onnx': onnxIdentity(m.dtype, ['N', 3]) } : { 'model.json': tfjsCastGraph(NARROW_TF_TYPES[m.dtype]) });
    }
    host = new ModelHost({ repository: root });
    await Promise.all(models.map((m) => host.load(m.name)));
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

  it.each(models)('$name: host.metadata() keeps what the runtime computes on and what the model declares', ({ name, dtype, runtime }) => {
    const [input] = host.metadata(name).inputs;
    if (runtime === 'onnx') expect(input).toEqual({ name: 'x', dtype, shape: [-1, 3] });
    else expect(input).toEqual({ name: 'x', aliases: ['x:0'], dtype: 'int32', declaredDtype: dtype, range: LIMITS[dtype], shape: [-1, 3] });
  });

  it.each(models)('$name: KServe v2 REST, KServe v2 gRPC and TF Serving metadata name the declared datatype', async ({ name, dtype }) => {
    const kserve = DTYPES[dtype].kserve;
    expect((await get(`${url}/v2/models/${name}`)).body.inputs).toEqual([{ name: 'x', datatype: kserve, shape: [-1, 3] }]);
    expect((await call(client, 'ModelMetadata', { name })).inputs).toEqual([{ name: 'x', datatype: kserve, shape: ['-1', '3'] }]);
    const tf = (await get(`${url}/v1/models/${name}/metadata`)).body.metadata.signature_def.signature_def.serving_default;
    expect(tf.inputs.x.dtype).toBe(`DT_${dtype.toUpperCase()}`);
  });

  it.each(models)('$name: a request in the declared datatype is served in every encoding, with the values sent', async ({ name, dtype, runtime }) => {
    const values = valuesOf(dtype);
    // onnxruntime's identity answers in the input's type; the tfjs graph casts to float32.
    const answered: DType = runtime === 'onnx' ? dtype : 'float32';
    const datatype = DTYPES[dtype].kserve;
    const json = await post(`${url}/v2/models/${name}/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype, data: values }] });
    expect(json.status, JSON.stringify(json.body)).toBe(200);
    expect(json.body.outputs[0]).toMatchObject({ name: 'y', datatype: DTYPES[answered].kserve, shape: [1, 3], data: values });

    const Storage = DTYPES[dtype].array!;
    const bytes = new Uint8Array(new Storage(values as never).buffer);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype, parameters: { binary_data_size: bytes.byteLength } }] }));
    const binary = await fetch(`${url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
      body: Buffer.concat([header, bytes]),
    });
    expect(binary.status).toBe(200);
    expect(((await binary.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual(values);

    const grpc = await call(client, 'ModelInfer', { model_name: name, inputs: [{ name: 'x', datatype, shape: [1, 3], contents: { [GRPC_FIELD[dtype]]: values } }] });
    const out = grpc.outputs[0];
    expect(out.datatype).toBe(DTYPES[answered].kserve);
    expect(out.contents[runtime === 'onnx' ? GRPC_FIELD[dtype] : 'fp32_contents']).toEqual(values);

    const direct = await host.predict(name, { x: new Storage(values as never) });
    expect(Array.from(direct['y']!.data as Float32Array)).toEqual(values);
    const tensor = await host.predictBatch(name, { x: { data: values, shape: [1, 3], dtype } });
    expect(Array.from(tensor['y']!.data as Float32Array)).toEqual(values);
  });

  it.each(models)('$name: a value the declared datatype cannot hold is refused naming the input, in-process and over HTTP', async ({ name, dtype }) => {
    const over = LIMITS[dtype][1] + 1;
    const refused = await post(`${url}/v2/models/${name}/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: DTYPES[dtype].kserve, data: [0, 1, over] }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(new RegExp(`input 'x'.*${over}`));
    await expect(host.predictBatch(name, { x: { data: [0, 1, over], shape: [1, 3], dtype } })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(new RegExp(`input 'x'.*${over}`)) });
    const viaTfServing = await post(`${url}/v1/models/${name}:predict`, { instances: [[0, 1, over]] });
    expect(viaTfServing.status).toBe(400);
    expect(viaTfServing.body.error).toMatch(new RegExp(`input 'x'.*${over}`));
  });

  it('on a worker-thread instance too: the declared type in the signature, a Uint8Array widened before it crosses', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.json': tfjsCastGraph('DT_UINT8') });
    const threads = new ModelHost({ repository: root, models: { m: { instances: { kind: 'thread', count: 1 } } } });
    try {
      await threads.load('m');
      expect(threads.metadata('m').inputs[0]).toMatchObject({ dtype: 'int32', declaredDtype: 'uint8', range: [0, 255] });
      expect(Array.from((await threads.predict('m', { x: Uint8Array.of(0, 128, 255) }))['y']!.data as Float32Array)).toEqual([0, 128, 255]);
    } finally {
      await threads.close();
    }
  });

  it('TF Serving: {"b64": ...} sent for a tfjs input declared uint8 names the declared type', async () => {
    const res = await post(`${url}/v1/models/tfjs-uint8:predict`, { instances: [{ b64: 'AAEC' }] });
    expect(res).toMatchObject({ status: 400, body: { error: expect.stringContaining('input "x" is uint8 (UINT8) and expects numbers') } });
  });

  it('a tfjs input declared uint8 still takes int32 (what tfjs computes on), and names both types when refusing another', async () => {
    expect(Array.from((await host.predict('tfjs-uint8', { x: Int32Array.of(0, 7, 255) }))['y']!.data as Float32Array)).toEqual([0, 7, 255]);
    await expect(host.predict('tfjs-uint8', { x: Float32Array.of(0, 7, 255) })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: "model 'tfjs-uint8' v1, input 'x': expected dtype int32 (Int32Array) or uint8 (Uint8Array, as the model declares it), got float32 (Float32Array)",
    });
    await expect(host.predictBatch('tfjs-uint8', { x: { data: Int8Array.of(0, 7, 1), shape: [1, 3], dtype: 'int8' } })).rejects.toMatchObject({
      message: "model 'tfjs-uint8' v1, input 'x': expected dtype int32 or uint8 (as the model declares it), got int8",
    });
    // The declared dtype with another storage is refused, not reinterpreted.
    await expect(host.predictBatch('tfjs-uint8', { x: { data: Int32Array.of(0, 7, 1), shape: [1, 3], dtype: 'uint8' } })).rejects.toMatchObject({
      message: "model 'tfjs-uint8' v1, input 'x': expected dtype int32 (Int32Array) or uint8 (Uint8Array, as the model declares it), got uint8 (Int32Array)",
    });
  });
});
