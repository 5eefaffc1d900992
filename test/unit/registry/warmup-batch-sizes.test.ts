import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type Tensor } from '../../../src/index.js';
import { withRows } from '../../../src/registry/warmup.js';
import { affine, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('warmup.batchSizes: memory reaches its steady state before ready', () => {
  it("runs each batch size in order, 'max' at the version's maxBatchSize, before the version is ready", async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('affine', { source: FAKE_SOURCE, config: { instances: { kind: 'inline' }, batching: { maxBatchSize: 8 }, warmup: { runs: 2, batchSizes: [1, 'max', 3] } } });
    expect(runtime.batches).toEqual([1, 1, 8, 8, 3, 3]);
    await host.close();
  });

  it('caps a size above maxBatchSize at maxBatchSize (the scheduler never runs more)', async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('affine', { source: FAKE_SOURCE, config: { instances: { kind: 'inline' }, batching: { maxBatchSize: 4 }, warmup: { batchSizes: [100] } } });
    expect(runtime.batches).toEqual([4]);
    await host.close();
  });

  it('still runs the batch sizes when `auto` warmed the version up to measure it', async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('affine', { source: FAKE_SOURCE, config: { batching: { maxBatchSize: 16 }, warmup: { batchSizes: ['max'] } } });
    // The measurement's runs (one row), then the configured size.
    expect(runtime.batches.at(-1)).toBe(16);
    expect(runtime.batches.slice(0, -1).every((rows) => rows === 1)).toBe(true);
    await host.close();
  });

  it('repeats the rows of configured inputs to each batch size, in order', async () => {
    const seen: Tensor[] = [];
    const runtime = fakeRuntime({ compute: (inputs) => (seen.push(inputs['x']!), affine(inputs)) });
    const host = new ModelHost({ runtimes: { fake: runtime } });
    const x = { data: [1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 4] };
    await host.load('affine', { source: FAKE_SOURCE, config: { instances: { kind: 'inline' }, warmup: { inputs: { x }, batchSizes: [3, 1] } } });
    expect(seen.map((t) => t.shape)).toEqual([[3, 4], [1, 4]]);
    expect(Array.from(seen[0]!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4]);
    expect(Array.from(seen[1]!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    await host.close();
  });

  it('builds one set at a time and reuses it while the size repeats (a config cannot hold many max-size sets at once)', async () => {
    const seen: Tensor[] = [];
    const runtime = fakeRuntime({ compute: (inputs) => (seen.push(inputs['x']!), affine(inputs)) });
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('affine', { source: FAKE_SOURCE, config: { instances: { kind: 'inline' }, batching: { maxBatchSize: 8 }, warmup: { batchSizes: ['max', 8, 100, 2] } } });
    expect(seen.map((t) => t.shape[0])).toEqual([8, 8, 8, 2]);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).toBe(seen[0]);
    await host.close();
  });

  it('without batchSizes warms up with one row, as before', async () => {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('affine', { source: FAKE_SOURCE, config: { instances: { kind: 'inline' } } });
    expect(runtime.batches).toEqual([1]);
    await host.close();
  });

  it.each([
    [[], /config\.warmup\.batchSizes` must be a non-empty array of at most 16 batch sizes \(integers ≥ 1 or 'max'\), got \[\]/],
    [Array.from({ length: 17 }, () => 'max'), /config\.warmup\.batchSizes` must be a non-empty array of at most 16 batch sizes/],
    [[0], /config\.warmup\.batchSizes\[0\]` must be an integer from 1 to 1000000 or 'max', got 0/],
    [[2, 'min'], /config\.warmup\.batchSizes\[1\]` must be an integer from 1 to 1000000 or 'max', got "min"/],
    ['max', /config\.warmup\.batchSizes` must be a non-empty array/],
  ])('refuses batchSizes %j as INVALID_CONFIG naming the entry', async (batchSizes, message) => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await expect(host.load('affine', { source: FAKE_SOURCE, config: { warmup: { batchSizes } } as never })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) });
    await host.close();
  });
});

describe('withRows', () => {
  it('repeats or truncates rows of typed and string tensors, keeping the storage type', () => {
    const typed = withRows({ data: new Int32Array([1, 2, 3, 4]), shape: [2, 2], dtype: 'int32' }, 3);
    expect(typed).toEqual({ data: new Int32Array([1, 2, 3, 4, 1, 2]), shape: [3, 2], dtype: 'int32' });
    const text = withRows({ data: ['a', 'b', 'c'], shape: [3], dtype: 'string' }, 2);
    expect(text).toEqual({ data: ['a', 'b'], shape: [2], dtype: 'string' });
  });
});
