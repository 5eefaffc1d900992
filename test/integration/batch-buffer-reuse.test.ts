import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, type DType, type Tensor } from '../../src/index.js';
import { onnxIdentity } from '../fixtures/onnx-models.js';
import { useTfjsBackend } from '../fixtures/tfjs-backend.js';
import { tfjsLayersFilesOf } from '../fixtures/tfjs-model-writer.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Review of the batch buffers reused run after run (session 6): a later batch written into
 * the buffer of an earlier one must never change a result already given, whatever the
 * runtime returns (a copy, or its input itself) and whatever the dtype.
 */
const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;

const WIDTH = 3;
/** Distinct values per request `i`, exact in every dtype. */
const VALUES: Record<string, (i: number) => Tensor['data']> = {
  float32: (i) => Float32Array.from({ length: WIDTH }, (_, c) => i + c / 4),
  float64: (i) => Float64Array.from({ length: WIDTH }, (_, c) => i + c / 8 + 1e-9),
  float16: (i) => Uint16Array.from({ length: WIDTH }, (_, c) => (i * WIDTH + c) & 0x7bff),
  int8: (i) => Int8Array.from({ length: WIDTH }, (_, c) => ((i * WIDTH + c) % 256) - 128),
  uint8: (i) => Uint8Array.from({ length: WIDTH }, (_, c) => (i * WIDTH + c) % 256),
  int32: (i) => Int32Array.from({ length: WIDTH }, (_, c) => -(2 ** 31) + i * WIDTH + c),
  int64: (i) => BigInt64Array.from({ length: WIDTH }, (_, c) => 2n ** 62n + BigInt(i * WIDTH + c)),
  bool: (i) => Uint8Array.from({ length: WIDTH }, (_, c) => (i + c) % 2),
  string: (i) => Array.from({ length: WIDTH }, (_, c) => `r${i}-c${c}`),
};

function instance(dtype: string, i: number): Tensor {
  return { data: VALUES[dtype]!(i), shape: [WIDTH], dtype: dtype as DType };
}

describe('batch buffers reused run after run: results already given stay exact', () => {
  beforeAll(async () => {
    root = await tempDir();
    for (const dtype of Object.keys(VALUES)) await writeVersion(root, `id-${dtype}`, 1, { 'model.onnx': onnxIdentity(dtype as DType, ['N', WIDTH]) });
    await useTfjsBackend('cpu');
    // On tfjs's cpu backend a linear activation returns its input tensor: the output is the batch's input memory.
    const linear = () => tf.sequential({ layers: [tf.layers.activation({ activation: 'linear', inputShape: [WIDTH] })] });
    await writeVersion(root, 'tf-linear', 1, await tfjsLayersFilesOf(linear));
    await writeVersion(root, 'tf-cached', 1, await tfjsLayersFilesOf(linear));
    host = new ModelHost({ repository: root, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 } } });
  });

  afterAll(async () => {
    await host?.close();
  });

  it.each(Object.keys(VALUES))('ONNX identity, %s: 40 rounds of 1–4 concurrent requests (batches of several share a reused buffer), every result kept and checked at the end', async (dtype) => {
    const name = `id-${dtype}`;
    await host.load(name);
    const sizes: number[] = [];
    const onBatch = (e: { model: string; requests: number }) => void (e.model === name && sizes.push(e.requests));
    host.on('batchCompleted', onBatch);
    const given: { i: number; out: Tensor }[] = [];
    let next = 0;
    for (let round = 0; round < 40; round++) {
      const size = 1 + (round % 4);
      const ids = Array.from({ length: size }, () => next++);
      const outs = await Promise.all(ids.map((i) => host.predict(name, { x: instance(dtype, i) })));
      ids.forEach((i, k) => given.push({ i, out: outs[k]!['y']! }));
    }
    host.off('batchCompleted', onBatch);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    for (const { i, out } of given) expect(out).toEqual(instance(dtype, i));
  });

  it('tfjs (cpu backend) model whose output is its input tensor: results of earlier batches are not overwritten', async () => {
    await host.load('tf-linear', { config: { tfjs: { backend: 'cpu' } } });
    const given: { i: number; out: Tensor }[] = [];
    let next = 0;
    for (let round = 0; round < 30; round++) {
      const ids = [next++, next++, next++];
      const outs = await Promise.all(ids.map((i) => host.predict('tf-linear', instance('float32', i).data)));
      ids.forEach((i, k) => given.push({ i, out: Object.values(outs[k]!)[0]! }));
      // predictBatch rows join the same batches
      const batch = await Promise.all([0, 1].map(() => host.predictBatch('tf-linear', { data: Float32Array.of(next, next, next, next + 1, next + 1, next + 1), shape: [2, WIDTH] })));
      for (const b of batch) expect(Array.from(Object.values(b)[0]!.data as Float32Array)).toEqual([next, next, next, next + 1, next + 1, next + 1]);
      next += 2;
    }
    for (const { i, out } of given) expect(out.data).toEqual(instance('float32', i).data);
  });

  it('tfjs (cpu backend) model returning its input, with sampling and the response cache on: samples and cached answers stay exact over many batches', async () => {
    await host.load('tf-cached', { config: { tfjs: { backend: 'cpu' }, sampling: { rate: 1 }, cache: { enabled: true } } });
    const samples: { input: number[]; output: number[] }[] = [];
    const onSample = (e: { model: string; inputs?: Readonly<Record<string, Tensor>>; outputs?: Readonly<Record<string, Tensor>> }) => {
      if (e.model !== 'tf-cached') return;
      // kept as given: a later batch must not change them
      samples.push({ input: Object.values(e.inputs!)[0]!.data as unknown as number[], output: Object.values(e.outputs!)[0]!.data as unknown as number[] });
    };
    host.on('requestSampled', onSample);
    const given: { i: number; out: Tensor }[] = [];
    let cached = 0;
    const onCompleted = (e: { model: string; cached: boolean }) => void (e.model === 'tf-cached' && e.cached && cached++);
    host.on('requestCompleted', onCompleted);
    for (let round = 0; round < 30; round++) {
      // every value is asked in three rounds running: the third answer comes from the cache
      const ids = [round, round - 1, round - 2].filter((i) => i >= 0);
      const outs = await Promise.all(ids.map((i) => host.predict('tf-cached', instance('float32', i).data)));
      ids.forEach((i, k) => given.push({ i, out: Object.values(outs[k]!)[0]! }));
    }
    host.off('requestSampled', onSample);
    host.off('requestCompleted', onCompleted);
    expect(cached).toBeGreaterThan(0);
    for (const { i, out } of given) expect(out.data).toEqual(instance('float32', i).data);
    expect(samples.length).toBeGreaterThan(0);
    for (const { input, output } of samples) expect(Array.from(output as unknown as Float32Array)).toEqual(Array.from(input as unknown as Float32Array));
  });
});
