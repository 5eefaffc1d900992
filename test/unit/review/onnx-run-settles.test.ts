import { describe, expect, it } from 'vitest';
import { onnxRuntime, type Tensor } from '../../../src/index.js';
import { onnxAffine } from '../../fixtures/onnx-models.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

/** Calls `run` and says how it failed: a synchronous throw, or a rejected promise. */
function attempt(run: () => Promise<unknown>): Promise<string> {
  let running: Promise<unknown>;
  try {
    running = run();
  } catch (error) {
    return Promise.resolve(`threw: ${(error as Error).message}`);
  }
  return running.then(
    () => 'resolved',
    (error: unknown) => `rejected: ${(error as Error).constructor.name}`,
  );
}

describe('review: the onnx session run (not async) never throws synchronously', () => {
  it('a missing input, a wrong typed array, a wrong shape and a released session each reject', async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine() });
    const session = await onnxRuntime.load({ kind: 'directory', path: `${root}/affine/1` }, { model: 'affine', version: 1, settings: {} });
    const good: Tensor = { data: new Float32Array(4), shape: [1, 4], dtype: 'float32' };
    expect(await attempt(() => session.run({ x: good }))).toBe('resolved');
    expect(await attempt(() => session.run({}))).toMatch(/^rejected/);
    expect(await attempt(() => session.run({ x: { data: new Int32Array(4), shape: [1, 4], dtype: 'float32' } as unknown as Tensor }))).toMatch(/^rejected/);
    expect(await attempt(() => session.run({ x: { data: new Float32Array(3), shape: [1, 4], dtype: 'float32' } }))).toMatch(/^rejected/);
    await session.dispose();
    expect(await attempt(() => session.run({ x: good }))).toMatch(/^rejected: ModelHostError/);
  });
});
