import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, onnxRuntime, tfjsRuntime } from '../../src/index.js';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { tfjsLayersFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../fixtures/tfjs-models.js';
import { randomFloats, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;

describe('no leaks: 1,000 predicts and 20 load/unload cycles per runtime', () => {
  beforeAll(async () => {
    root = await tempDir();
    const mlp = buildTfjsMlp(tf);
    await writeVersion(root, 'mlp-tfjs', 1, await tfjsLayersFiles(mlp));
    mlp.dispose();
    await writeVersion(root, 'mlp-onnx', 1, { 'model.onnx': onnxMlp() });
  });

  it('returns the tfjs tensor count to its baseline and leaves no onnx session open', async () => {
    const host = new ModelHost({ repository: root });
    // The first tfjs load initializes the backend; count from there.
    await host.load('mlp-tfjs');
    await host.unload('mlp-tfjs');
    const tensors = tfjsRuntime.memory!().tensors;
    const sessions = onnxRuntime.memory!().sessions + tfjsRuntime.memory!().sessions;

    for (let cycle = 0; cycle < 20; cycle++) {
      await host.load('mlp-tfjs');
      await host.load('mlp-onnx');
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        const x = randomFloats(64, cycle * 100 + i);
        calls.push(host.predict('mlp-tfjs', x), host.predict('mlp-onnx', x));
      }
      const batch = randomFloats(64 * 4, cycle);
      calls.push(host.predictBatch('mlp-tfjs', { x: { data: batch, shape: [4, 64] } }));
      calls.push(host.predict('mlp-tfjs', new Int32Array(64)).catch(() => undefined)); // a rejected request must not leak either
      await Promise.all(calls);
      await host.unload('mlp-tfjs');
      await host.unload('mlp-onnx');
      expect(tfjsRuntime.memory!().tensors).toBe(tensors);
    }
    expect(onnxRuntime.memory!().sessions).toBe(0);
    expect(onnxRuntime.memory!().sessions + tfjsRuntime.memory!().sessions).toBe(sessions);
    expect(tf.memory().numTensors).toBe(tensors);
    await host.close();
  });
});
