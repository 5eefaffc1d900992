import type { Runtime, Session, Tensor } from '../../src/index.js';
import { mulberry32 } from '../fixtures/prng.js';
import { AFFINE_SIGNATURE, affine } from './fake-runtime.js';

/** The first value of a row the flaky runtime always throws on, whatever else runs with it. */
export const POISON = 666;

export interface FlakyRuntime extends Runtime {
  /** Runs that threw at random (not on a poison row). */
  randomFailures: number;
  /** Every run, warmup and re-runs included. */
  runs: number;
}

/**
 * An inline runtime over `x: float32 [-1, 4]` → `y = 2x + 1` that throws on `rate` of its runs
 * whatever the inputs (one seeded draw per run, always with the same message: a flaky native
 * library), and on every run holding a row whose first value is `POISON` (always with the
 * same message too: an input the runtime refuses).
 */
export function flakyRuntime(rate: number, seed = 1): FlakyRuntime {
  const random = mulberry32(seed);
  const runtime: FlakyRuntime = {
    name: 'flaky',
    randomFailures: 0,
    runs: 0,
    canLoad: () => true,
    async load(): Promise<Session> {
      return {
        signature: AFFINE_SIGNATURE,
        async run(inputs: Record<string, Tensor>) {
          runtime.runs++;
          const x = inputs['x']!.data as Float32Array;
          for (let r = 0; r < x.length; r += 4) if (x[r] === POISON) throw new Error('Got invalid value in input x');
          if (random() < rate) {
            runtime.randomFailures++;
            throw new Error('device lost');
          }
          return affine(inputs);
        },
        dispose() {},
      };
    },
  };
  return runtime;
}
