/** Both protocols in front of real tfjs layers models (wasm backend), from a temporary repository. */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { mlpReference, mlpWeights } from '../../fixtures/mlp-weights.js';
import { tfjsLayersFilesOf } from '../../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine, buildTfjsMlp, buildTfjsTwoInputs } from '../../fixtures/tfjs-models.js';
import { maxAbsDiff, randomFloats, writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { get, post, serve, type Served } from './serve.js';

const tempDir = useTempDirs('all');


describe('tfjs models over KServe v2 and TF Serving REST', () => {
  let host: ModelHost;
  let served: Served;
  let url: string;

  beforeAll(async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, await tfjsLayersFilesOf(() => buildTfjsAffine(tf)));
    await writeVersion(root, 'mlp', 1, await tfjsLayersFilesOf(() => buildTfjsMlp(tf)));
    await writeVersion(root, 'two', 1, await tfjsLayersFilesOf(() => buildTfjsTwoInputs(tf)));
    host = new ModelHost({ repository: root });
    for (const name of ['affine', 'mlp', 'two']) await host.load(name);
    served = await serve(host);
    url = served.url;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  it('describes a layers model (platform tensorflowjs, batch dimension -1)', async () => {
    expect((await get(`${url}/v2/models/affine`)).body).toEqual({
      name: 'affine',
      versions: ['1'],
      platform: 'tensorflowjs',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4] }],
    });
  });

  it('answers a KServe batch of MLP rows like the reference', async () => {
    const x = randomFloats(64 * 3, 5);
    const { status, body } = await post(`${url}/v2/models/mlp/infer`, { inputs: [{ name: 'x', shape: [3, 64], datatype: 'FP32', data: Array.from(x) }] });
    expect(status).toBe(200);
    expect(body.outputs[0]).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [3, 10] });
    expect(maxAbsDiff(body.outputs[0].data, mlpReference(mlpWeights(), x))).toBeLessThan(1e-4);
  });

  it('answers TF Serving rows and columns, one input or named inputs', async () => {
    expect((await post(`${url}/v1/models/affine:predict`, { instances: [[1, 2, 3, 4], [0, 0, 0, 0]] })).body).toEqual({ predictions: [[3, 5, 7, 9], [1, 1, 1, 1]] });
    expect((await post(`${url}/v1/models/two:predict`, { instances: [{ a: [1, 2, 3], b: [10, 20, 30] }] })).body).toEqual({ predictions: [[11, 22, 33]] });
    expect((await post(`${url}/v1/models/two:predict`, { inputs: { a: [[1, 2, 3]], b: [[10, 20, 30]] } })).body).toEqual({ outputs: [[11, 22, 33]] });
  });
});
