import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, onnxRuntime, type DType, type Tensor } from '../../src/index.js';
import { mlpReference, mlpWeights } from '../fixtures/mlp-weights.js';
import { onnxAffine, onnxFixedShape, onnxIdentity, onnxMlp, onnxReluUnknownRank, onnxReshapeUnknownRank, onnxScalarSum, onnxTwoInputs } from '../fixtures/onnx-models.js';
import { get, serve } from '../adapters/http/serve.js';
import { maxAbsDiff, randomFloats, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;

const SAMPLES: Record<Exclude<DType, 'uint16' | 'uint32' | 'uint64' | 'int16'>, Tensor> = {
  float32: { data: new Float32Array([1.5, -2]), shape: [2], dtype: 'float32' },
  float64: { data: new Float64Array([1e-300, 2]), shape: [2], dtype: 'float64' },
  float16: { data: new Uint16Array([0x3c00, 0xc000]), shape: [2], dtype: 'float16' },
  int8: { data: new Int8Array([-128, 127]), shape: [2], dtype: 'int8' },
  uint8: { data: new Uint8Array([0, 255]), shape: [2], dtype: 'uint8' },
  int32: { data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]), shape: [2], dtype: 'int32' },
  int64: { data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2], dtype: 'int64' },
  bool: { data: new Uint8Array([1, 0]), shape: [2], dtype: 'bool' },
  string: { data: ['héllo', ''], shape: [2], dtype: 'string' },
};

describe('onnx runtime (onnxruntime-node, real ONNX graphs)', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine() });
    await writeVersion(root, 'mlp', 1, { 'model.onnx': onnxMlp() });
    await writeVersion(root, 'two', 1, { 'model.onnx': onnxTwoInputs() });
    await writeVersion(root, 'fixed', 1, { 'model.onnx': onnxFixedShape() });
    for (const dtype of Object.keys(SAMPLES)) await writeVersion(root, `id-${dtype}`, 1, { 'model.onnx': onnxIdentity(dtype as DType) });
    host = new ModelHost({ repository: root });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('reads the signature from the session metadata, symbolic dimensions as -1', async () => {
    await host.load('affine');
    expect(host.metadata('affine')).toMatchObject({
      runtime: 'onnx',
      batched: true,
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
    });
    expect((await host.predict('affine', [1, 2, 3, 4]))['y']!.data).toEqual(new Float32Array([3, 5, 7, 9]));
  });

  it('matches the JS reference and a raw onnxruntime session on an MLP', async () => {
    await host.load('mlp');
    const x = randomFloats(64 * 5, 11);
    const out = await host.predictBatch('mlp', { x: { data: x, shape: [5, 64] } });
    expect(maxAbsDiff(out['logits']!.data as Float32Array, mlpReference(mlpWeights(), x))).toBeLessThan(1e-4);
    const raw = await ort.InferenceSession.create(onnxMlp());
    const expected = (await raw.run({ x: new ort.Tensor('float32', x, [5, 64]) }))['logits']!.data;
    await raw.release();
    expect(out['logits']!.data).toEqual(expected);
  });

  it('feeds multi-input models by name, and serves fixed-shape models whole', async () => {
    await host.load('two');
    expect((await host.predict('two', { a: [1, 2, 3], b: [1, 1, 1] }))['sum']!.data).toEqual(new Float32Array([2, 3, 4]));
    await host.load('fixed');
    expect(host.metadata('fixed').batched).toBe(false);
    const out = await host.predict('fixed', [[1, 2, 3], [4, 5, 6]]);
    expect(out['y']).toEqual({ data: new Float32Array([2, 4, 6, 8, 10, 12]), shape: [2, 3], dtype: 'float32' });
  });

  it.each(Object.entries(SAMPLES))('round-trips %s tensors exactly', async (dtype, sample) => {
    const name = `id-${dtype}`;
    await host.load(name);
    expect(host.metadata(name).inputs[0]).toEqual({ name: 'x', dtype, shape: [-1] });
    const out = await host.predictBatch(name, { x: sample });
    expect(out['y']).toEqual(sample);
  });

  it('takes plain numbers for int64 and booleans for bool', async () => {
    await host.load('id-int64');
    expect((await host.predictBatch('id-int64', { x: [1, 2, 3] }))['y']!.data).toEqual(BigInt64Array.from([1n, 2n, 3n]));
    await host.load('id-bool');
    expect((await host.predictBatch('id-bool', { x: [true, false] }))['y']!.data).toEqual(new Uint8Array([1, 0]));
  });

  it('an output the file declares no shape for (rank unknown) takes any shape; a declared scalar stays a scalar', async () => {
    // onnxruntime reports both as shape []: taken for a scalar, every request of the first failed
    // with "output 'y' has shape [2, 3], expected []".
    await writeVersion(root, 'reshape', 1, { 'model.onnx': onnxReshapeUnknownRank() });
    await writeVersion(root, 'sum', 1, { 'model.onnx': onnxScalarSum() });
    await host.load('reshape');
    await host.load('sum');
    const meta = host.metadata('reshape');
    expect(meta.outputs).toEqual([{ name: 'y', dtype: 'float32', shape: [], rankUnknown: true }]);
    expect(meta.batched).toBe(false); // nothing says y's first dimension is the batch
    const x = { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [1, 6] };
    for (const shape of [[2, 3], [3, 1, 2], [6]]) {
      const out = await host.predict('reshape', { x, shape: { data: BigInt64Array.from(shape, BigInt), shape: [shape.length] } });
      expect(out['y']).toEqual({ data: Float32Array.of(1, 2, 3, 4, 5, 6), shape, dtype: 'float32' });
    }
    expect(host.metadata('sum').outputs).toEqual([{ name: 'total', dtype: 'float32', shape: [] }]);
    expect(await host.predict('sum', { x: Float32Array.of(1, 2, 3.5) })).toEqual({ total: { data: Float32Array.of(6.5), shape: [], dtype: 'float32' } });

    const served = await serve(host);
    try {
      const outputs = (name: string) => get(`${served.url}/v1/models/${name}/metadata`).then((r) => r.body.metadata.signature_def.signature_def.serving_default.outputs);
      expect((await outputs('reshape')).y.tensor_shape).toEqual({ dim: [], unknown_rank: true });
      expect((await outputs('sum')).total.tensor_shape).toEqual({ dim: [], unknown_rank: false });
    } finally {
      await served.close();
    }
  });

  it('an input the file declares no shape for takes any shape (given with the data); a bare array is refused as ambiguous', async () => {
    // Taken for a scalar, it refused everything else: "expected shape [] (rank 0), got shape [2, 2]".
    await writeVersion(root, 'relu', 1, { 'model.onnx': onnxReluUnknownRank() });
    await host.load('relu'); // the synthetic warmup guesses a scalar: a refusal there would only warn
    expect(host.metadata('relu').inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [], rankUnknown: true }]);
    for (const shape of [[2, 2], [4], [1, 1, 4], []]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: size }, (_, i) => (i % 2 === 0 ? -1 - i : i));
      const out = await host.predict('relu', { x: { data, shape } });
      expect(out['y']).toEqual({ data: data.map((v) => Math.max(0, v)), shape, dtype: 'float32' });
    }
    expect((await host.predict('relu', [[-1, 2], [3, -4]]))['y']!.shape).toEqual([2, 2]); // nested: the shape is the nesting's
    await expect(host.predict('relu', Float32Array.of(1, 2))).rejects.toMatchObject({ code: 'INVALID_INPUT', message: "model 'relu' v1, input 'x': has no declared shape, so a bare typed array is ambiguous; pass { data, shape }" });
  });

  it('releases its sessions on unload', async () => {
    const before = onnxRuntime.memory!().sessions;
    await host.unload('affine');
    expect(onnxRuntime.memory!().sessions).toBe(before - 1);
  });
});
