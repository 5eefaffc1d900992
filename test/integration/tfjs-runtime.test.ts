import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, tfjsRuntime } from '../../src/index.js';
import { tfjsBackendInUse } from '../../src/runtime/index.js';
import { mlpReference, mlpWeights } from '../fixtures/mlp-weights.js';
import { tfjsDirHandler } from '../fixtures/tfjs-dir-handler.js';
import { tfjsLayersFilesOf } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine, buildTfjsMlp, buildTfjsTwoInputs } from '../fixtures/tfjs-models.js';
import { materializeNsfwjsModel } from '../fixtures/third-party.js';
import { maxAbsDiff, randomFloats, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;


describe('tfjs runtime (real models on the wasm backend)', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeVersion(root, 'affine', 1, await tfjsLayersFilesOf(() => buildTfjsAffine(tf)));
    await writeVersion(root, 'mlp', 1, await tfjsLayersFilesOf(() => buildTfjsMlp(tf)));
    await writeVersion(root, 'two', 1, await tfjsLayersFilesOf(() => buildTfjsTwoInputs(tf)));
    await materializeNsfwjsModel('mobilenet_v2_mid', `${root}/graph/1`);
    host = new ModelHost({ repository: root });
  });

  afterAll(async () => {
    await host?.close();
  });

  it("fails a load that asks for tfjs.backend 'node' without @tensorflow/tfjs-node, naming the package", async () => {
    await expect(host.load('affine', { config: { tfjs: { backend: 'node' } } })).rejects.toMatchObject({
      code: 'UNSUPPORTED_MODEL',
      message: expect.stringContaining("needs the package '@tensorflow/tfjs-node', which is not installed. Install it: npm install @tensorflow/tfjs-node"),
    });
    expect(host.status('affine').versions[0]).toMatchObject({ state: 'failed' });
  });

  it("picks wasm where tfjs-node is absent, and reads the layers model's signature", async () => {
    await host.load('affine');
    expect(tfjsBackendInUse()).toBe('wasm');
    expect(host.metadata('affine')).toMatchObject({
      runtime: 'tfjs',
      batched: true,
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
    });
    const out = await host.predict('affine', [1, 2, 3, 4]);
    expect(out['y']).toEqual({ data: new Float32Array([3, 5, 7, 9]), shape: [4], dtype: 'float32' });
  });

  it('matches the JS reference and the raw tfjs model on an MLP', async () => {
    await host.load('mlp');
    const x = randomFloats(64 * 8, 7);
    const out = await host.predictBatch('mlp', { x: { data: x, shape: [8, 64] } });
    expect(out['logits']!.shape).toEqual([8, 10]);
    expect(maxAbsDiff(out['logits']!.data as Float32Array, mlpReference(mlpWeights(), x))).toBeLessThan(1e-4);

    const raw = await tf.loadLayersModel(tfjsDirHandler(`${root}/mlp/1`));
    const expected = tf.tidy(() => (raw.predict(tf.tensor(x, [8, 64])) as tf.Tensor).dataSync());
    raw.dispose();
    expect(out['logits']!.data).toEqual(expected);
  });

  it('feeds multi-input models by name', async () => {
    await host.load('two');
    const out = await host.predict('two', { a: [1, 2, 3], b: [10, 20, 30] });
    expect(out['sum']!.data).toEqual(new Float32Array([11, 22, 33]));
  });

  it('serves a graph model (nsfwjs MobileNetV2 mid) with outputs identical to raw tfjs', async () => {
    await host.load('graph');
    const meta = host.metadata('graph');
    expect(meta.batched).toBe(true);
    const input = meta.inputs[0]!;
    expect(input.shape).toEqual([-1, 224, 224, 3]);
    const pixels = randomFloats(224 * 224 * 3, 3).map((v) => (v + 1) / 2);
    const out = await host.predict('graph', { [input.name]: pixels });
    const output = meta.outputs[0]!;
    expect(out[output.name]!.shape).toEqual([5]);

    const raw = await tf.loadGraphModel(tfjsDirHandler(`${root}/graph/1`));
    const expected = tf.tidy(() => (raw.execute({ [input.name]: tf.tensor(pixels, [1, 224, 224, 3]) }, output.name) as tf.Tensor).dataSync());
    raw.dispose();
    expect(maxAbsDiff(out[output.name]!.data as Float32Array, expected)).toBe(0);
  });

  it('a graph whose outputs are declared [1, …] under a [-1, …] input stays unbatched when they do not follow the batch (a sum over it)', async () => {
    // x [-1, 2] → Sum over axis 0, keep_dims → [1, 2]: the leading 1 is not one instance's row.
    const modelJson = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } } } },
          { name: 'axis', op: 'Const', attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '1' }] } } } } },
          { name: 'sum', op: 'Sum', input: ['x', 'axis'], attr: { keep_dims: { b: true }, T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' } } },
          { name: 'Identity', op: 'Identity', input: ['sum'], attr: { T: { type: 'DT_FLOAT' } } },
        ],
        versions: { producer: 1 },
      },
      signature: {
        inputs: { x: { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '2' }] } } },
        outputs: { y: { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '1' }, { size: '2' }] } } },
      },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'axis', shape: [1], dtype: 'int32' }] }],
    };
    await writeVersion(root, 'batch-sum', 1, { 'model.json': JSON.stringify(modelJson), 'w.bin': new Uint8Array(new Int32Array([0]).buffer) });
    await host.load('batch-sum');
    expect(host.metadata('batch-sum')).toMatchObject({ batched: false, outputs: [{ name: 'y', shape: [1, 2] }] });
    const out = await host.predict('batch-sum', { x: { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [3, 2] } });
    expect(out['y']).toMatchObject({ shape: [1, 2], data: new Float32Array([9, 12]) });
  });

  it('returns the live tensor count to its baseline after predicts and unloads', async () => {
    await host.load('mlp');
    const before = tfjsRuntime.memory!().tensors;
    for (let i = 0; i < 50; i++) await host.predict('mlp', randomFloats(64, i));
    expect(tfjsRuntime.memory!().tensors).toBe(before);
    await host.unload('mlp');
    await host.load('mlp');
    expect(tfjsRuntime.memory!().tensors).toBe(before);
  });
});
