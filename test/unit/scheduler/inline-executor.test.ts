import { describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../../src/scheduler/executor.js';
import type { Session } from '../../../src/runtime/index.js';
import type { Tensor } from '../../../src/tensor/index.js';

/** A session whose runs finish when the test says, counting how many are in flight. */
function gatedSession() {
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let most = 0;
  const started: number[] = [];
  const session = {
    signature: { inputs: [], outputs: [] },
    run: (inputs: Record<string, Tensor>) => {
      inFlight++;
      most = Math.max(most, inFlight);
      started.push((inputs['x']!.data as Float32Array)[0]!);
      return new Promise<Record<string, Tensor>>((resolve, reject) =>
        gates.push(() => {
          inFlight--;
          if ((inputs['x']!.data as Float32Array)[0] === 99) reject(new Error('boom'));
          else resolve(inputs);
        }),
      );
    },
    dispose: () => undefined,
  } as unknown as Session;
  return { session, gates, started, most: () => most };
}

const x = (v: number): Record<string, Tensor> => ({ x: { data: new Float32Array([v]), shape: [1, 1], dtype: 'float32' } });
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('InlineExecutor', () => {
  it('runs at most `concurrency` batches at once; the others start in order as slots free up, and onIdle waits for all', async () => {
    const { session, gates, started, most } = gatedSession();
    const executor = new InlineExecutor(session, 2);
    const runs = [1, 2, 3, 99, 5].map((v) => executor.run(x(v)));
    const settled = Promise.allSettled(runs); // handled from the start: run 99 rejects mid-test
    await flush();
    expect(started).toEqual([1, 2]);
    expect(executor.running).toBe(2);
    let idle = false;
    void executor.onIdle().then(() => (idle = true));
    while (gates.length > 0) {
      gates.shift()!();
      await flush();
    }
    expect(started).toEqual([1, 2, 3, 99, 5]);
    expect(most()).toBe(2);
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(executor.running).toBe(0);
    expect(idle).toBe(true);
  });

  it('a session that throws synchronously rejects that run and frees its slot', async () => {
    const session = { signature: { inputs: [], outputs: [] }, run: () => { throw new Error('sync'); }, dispose: () => undefined } as unknown as Session;
    const executor = new InlineExecutor(session, 1);
    await expect(executor.run(x(1))).rejects.toThrow('sync');
    await flush();
    expect(executor.running).toBe(0);
    await expect(executor.onIdle()).resolves.toBeUndefined();
  });

  it('a request run is watched only with watchRuns: otherwise the caller gets the runtime\'s own promise (nothing added per run); runWatched always is', async () => {
    const promises: Promise<Record<string, Tensor>>[] = [];
    const session = { signature: { inputs: [], outputs: [] }, run: (inputs: Record<string, Tensor>) => (promises.push(Promise.resolve(inputs)), promises.at(-1)!), dispose: () => undefined } as unknown as Session;
    const plain = new InlineExecutor(session, 1, { runTimeoutMs: 1000 });
    expect(plain.run(x(1))).toBe(promises.at(-1));
    const warmup = plain.runWatched(x(2));
    expect(warmup).not.toBe(promises.at(-1));
    expect(await warmup).toEqual(x(2));
    const watched = new InlineExecutor(session, 1, { runTimeoutMs: 1000, watchRuns: true });
    const run = watched.run(x(3));
    expect(run).not.toBe(promises.at(-1));
    expect(await run).toEqual(x(3));
    await Promise.all([plain.close(), watched.close()]);
  });
});
