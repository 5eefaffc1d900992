import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, onnxRuntime, tfjsRuntime } from '../../src/index.js';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { tfjsLayersFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine } from '../fixtures/tfjs-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

describe('versions under load (real tfjs models)', () => {
  beforeAll(async () => {
    root = await tempDir();
    // v1: y = 2x + 1, v2: y = 3x + 1, so every answer tells which version gave it.
    for (const [version, scale] of [[1, 2], [2, 3]] as const) {
      const model = buildTfjsAffine(tf, { scale, bias: 1 });
      await writeVersion(root, 'affine', version, await tfjsLayersFiles(model));
      model.dispose();
      await writeVersion(root, 'affine-onnx', version, { 'model.onnx': onnxAffine({ scale, bias: 1 }) });
    }
  });

  it('deploy, canary 0.5, promote, rollback under 32 closed-loop callers: no request fails, every answer is exactly v1 or v2', async () => {
    const host = new ModelHost({ repository: root, defaults: { instances: { kind: 'inline' } } });
    await host.load('affine', { version: 1 });
    const answers = new Map<number, number>();
    const latencies: { at: number; ms: number }[] = [];
    const failures: unknown[] = [];
    let stop = false;
    let phase = 'steady';
    const byPhase: Record<string, number[]> = {};
    const callers = Array.from({ length: 32 }, async (_, c) => {
      let i = 0;
      while (!stop) {
        const x = (c * 1000 + i++) % 97;
        const started = performance.now();
        try {
          const out = await host.predict('affine', [x, x, x, x]);
          const y = (out['y']!.data as Float32Array)[0]!;
          const version = y === 2 * x + 1 ? 1 : y === 3 * x + 1 ? 2 : -1;
          answers.set(version, (answers.get(version) ?? 0) + 1);
          const ms = performance.now() - started;
          latencies.push({ at: started, ms });
          (byPhase[phase] ??= []).push(ms);
        } catch (error) {
          failures.push(error);
        }
        if (i % 8 === 0) await new Promise((r) => setImmediate(r));
      }
    });
    const pause = () => new Promise((r) => setTimeout(r, 150));
    await pause();
    phase = 'swap';
    await host.deploy('affine', 2, { canary: 0.5 });
    await pause();
    await host.promote('affine');
    await pause();
    await host.rollback('affine');
    phase = 'after';
    const afterRollback = answers.get(2) ?? 0;
    await pause();
    stop = true;
    await Promise.all(callers);

    expect(failures).toEqual([]);
    expect(answers.get(-1)).toBeUndefined();
    expect(answers.get(1)).toBeGreaterThan(0);
    expect(answers.get(2)).toBeGreaterThan(0);
    // After the rollback only v1 answers (a few v2 answers may still have been in flight).
    expect((answers.get(2) ?? 0) - afterRollback).toBeLessThanOrEqual(32);
    const total = [...answers.values()].reduce((a, b) => a + b, 0);
    console.info(
      `[swap-under-load] ${total} requests, ${failures.length} failed; p99 steady ${quantile(byPhase['steady'] ?? [], 0.99).toFixed(2)} ms, during swaps ${quantile(byPhase['swap'] ?? [], 0.99).toFixed(2)} ms, after ${quantile(byPhase['after'] ?? [], 0.99).toFixed(2)} ms`,
    );
    void latencies;
    await host.close();
  });

  it('100 deploy / rollback / unload cycles leave tensors and sessions at baseline', async () => {
    const host = new ModelHost({ repository: root, defaults: { instances: { kind: 'inline' }, retainVersions: 1 } });
    await host.load('affine', { version: 1 });
    await host.load('affine-onnx', { version: 1 });
    const tensors = tfjsRuntime.memory!().tensors;
    const sessions = tfjsRuntime.memory!().sessions + onnxRuntime.memory!().sessions;
    for (let cycle = 0; cycle < 100; cycle++) {
      const model = cycle % 2 === 0 ? 'affine' : 'affine-onnx';
      await host.deploy(model, 2, cycle % 3 === 0 ? { canary: 0.5 } : {});
      await host.predict(model, [1, 2, 3, 4]);
      await host.rollback(model);
      await host.unload(model, 2);
    }
    expect(tfjsRuntime.memory!().tensors).toBe(tensors);
    expect(tfjsRuntime.memory!().sessions + onnxRuntime.memory!().sessions).toBe(sessions);
    await host.close();
    expect(onnxRuntime.memory!().sessions).toBe(0);
  });
});
