import type { Runtime } from '../../src/index.js';

/**
 * An inline runtime over `x: float32 [-1, 1]` → `y = 2x` whose run hangs when its batch holds
 * `hangOn` (or on every run once `state.broken`): until the test releases it (`hung`), or for
 * `hangMs`. `state` counts open sessions, runs and hanging runs.
 */
export function hangingRuntime(options: { readonly name?: string; readonly hangOn?: number; readonly hangMs?: number } = {}) {
  const { name = 'hang', hangOn = 666, hangMs } = options;
  const hung: (() => void)[] = [];
  const state = { open: 0, runs: 0, hangingRuns: 0, broken: false };
  const runtime: Runtime = {
    name,
    canLoad: () => true,
    async load() {
      state.open++;
      return {
        signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 1] }] },
        async run(inputs) {
          state.runs++;
          const x = inputs['x']!.data as Float32Array;
          if (x.includes(hangOn) || state.broken) {
            state.hangingRuns++;
            await new Promise<void>((resolve) => {
              hung.push(resolve);
              if (hangMs !== undefined) setTimeout(resolve, hangMs);
            });
          }
          return { y: { data: x.map((v) => v * 2), shape: [...inputs['x']!.shape], dtype: 'float32' } };
        },
        dispose() {
          state.open--;
        },
      };
    },
  };
  return { runtime, hung, state };
}
