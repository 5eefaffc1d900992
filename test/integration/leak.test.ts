import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelHost, onnxRuntime, tfjsRuntime } from '../../src/index.js';
import { randomFloats, writeMlpVersions } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;

describe('no leaks: 1,000 predicts and 20 load/unload cycles per runtime', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeMlpVersions(root);
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

describe('no leaks on thread instances: 1,000 batches and 20 load/unload cycles', () => {
  it('keeps worker tensor counts at baseline, worker heap flat, and ends every worker', async () => {
    const host = new ModelHost({ repository: root, defaults: { instances: { kind: 'thread', count: 2 }, batching: { maxBatchSize: 8 } } });
    const threadsBefore = (await host.memory()).workerThreads;
    let batches = 0;
    host.on('batchCompleted', () => batches++);
    await host.load('mlp-tfjs');
    const baseline = (await host.memory({ collect: true })).versions[0]!.instances;
    while (batches < 1000) {
      await Promise.all(Array.from({ length: 16 }, (_, i) => host.predict('mlp-tfjs', randomFloats(64, batches + i))));
    }
    const after = (await host.memory({ collect: true })).versions[0]!.instances;
    for (let i = 0; i < baseline.length; i++) {
      expect(after[i]!.tensors).toBe(baseline[i]!.tensors);
      expect(after[i]!.sessions).toBe(1);
      // flat within 2 MB: a leak of one 64-float input per batch would be ~0.5 MB and grow per run
      expect(after[i]!.heapUsed - baseline[i]!.heapUsed).toBeLessThan(2 * 1024 * 1024);
    }
    await host.unload('mlp-tfjs');
    for (let cycle = 0; cycle < 20; cycle++) {
      await host.load('mlp-onnx');
      await host.predict('mlp-onnx', randomFloats(64, cycle));
      await host.unload('mlp-onnx');
      expect((await host.memory()).workerThreads).toBe(threadsBefore);
    }
    await host.close();
    await vi.waitFor(async () => expect((await host.memory()).workerThreads).toBe(threadsBefore));
  });
});
