import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, type BatchCompletedEvent } from '../../src/index.js';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { tfjsDirHandler } from '../fixtures/tfjs-dir-handler.js';
import { maxAbsDiff, randomFloats, writeMlpVersions } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;
const batches: BatchCompletedEvent[] = [];

/** Concurrent single requests through real runtimes are batched, and each caller gets its own answer. */
describe('dynamic batching on real runtimes', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeMlpVersions(root);
    host = new ModelHost({ repository: root, defaults: { batching: { maxBatchSize: 16 } } });
    host.on('batchCompleted', (e) => batches.push(e));
    await host.load('mlp-tfjs');
    await host.load('mlp-onnx');
  });

  afterAll(async () => {
    await host?.close();
  });

  it.each(['mlp-onnx', 'mlp-tfjs'])('%s: 64 concurrent callers get exactly the outputs of one raw call each, in batches of up to 16', async (model) => {
    batches.length = 0;
    const inputs = Array.from({ length: 64 }, (_, i) => randomFloats(64, 1000 + i));
    const outputs = await Promise.all(inputs.map((x) => host.predict(model, x)));

    let raw: (x: Float32Array) => Promise<Float32Array>;
    if (model === 'mlp-onnx') {
      const session = await ort.InferenceSession.create(onnxMlp());
      raw = async (x) => (await session.run({ x: new ort.Tensor('float32', x, [1, 64]) }))['logits']!.data as Float32Array;
    } else {
      const m = await tf.loadLayersModel(tfjsDirHandler(`${root}/mlp-tfjs/1`));
      raw = async (x) => tf.tidy(() => (m.predict(tf.tensor(x, [1, 64])) as tf.Tensor).dataSync() as Float32Array);
    }
    for (let i = 0; i < inputs.length; i++) {
      expect(outputs[i]!['logits']!.shape).toEqual([10]);
      expect(maxAbsDiff(outputs[i]!['logits']!.data as Float32Array, await raw(inputs[i]!))).toBeLessThan(1e-5);
    }
    expect(batches.reduce((n, b) => n + b.batchSize, 0)).toBe(64);
    expect(Math.max(...batches.map((b) => b.batchSize))).toBe(16);
    expect(batches.length).toBeLessThan(64);
  });

  it('reports queue and compute time per request', async () => {
    const events: { queueMs: number; computeMs: number; totalMs: number; batchSize: number }[] = [];
    host.on('requestCompleted', (e) => events.push(e));
    await Promise.all(Array.from({ length: 8 }, (_, i) => host.predict('mlp-onnx', randomFloats(64, i))));
    host.removeAllListeners('requestCompleted');
    expect(events).toHaveLength(8);
    for (const e of events) {
      expect(e.totalMs).toBeGreaterThanOrEqual(e.queueMs);
      expect(e.batchSize).toBeGreaterThanOrEqual(1);
    }
  });
});
