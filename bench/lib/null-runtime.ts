import type { Runtime, Tensor } from './modelhost.js';

/**
 * A runtime that does no work: a model of input `x` [-1, 64] → output `y` [-1, 10] whose
 * outputs are `score` in every element. What is left of a request's time is modelhost's own.
 */
export function nullRuntime(score = 0): Runtime {
  const signature = { inputs: [{ name: 'x', dtype: 'float32' as const, shape: [-1, 64] }], outputs: [{ name: 'y', dtype: 'float32' as const, shape: [-1, 10] }] };
  return {
    name: 'null',
    canLoad: () => true,
    load: async () => ({
      signature,
      run: async (inputs: Record<string, Tensor>) => {
        const rows = inputs['x']!.shape[0]!;
        const data = new Float32Array(rows * 10);
        if (score !== 0) data.fill(score);
        return { y: { data, shape: [rows, 10], dtype: 'float32' } };
      },
      dispose: () => undefined,
    }),
  };
}
