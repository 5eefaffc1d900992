import type { Runtime } from '../../src/index.js';

/**
 * An inline runtime over `x: float32 [-1, 1]` → `y = 2x` whose run hangs when its batch holds
 * `hangOn` (or on every run once `state.broken`): until the test releases it (`hung`,
 * `release()`), or for `hangMs`; a batch holding `throwOn` (one value or several) then throws (after calling
 * `state.beforeThrow`, when the test set one). `state` counts open
 * sessions, runs and hanging runs, and records each run's batch size and first value;
 * `started` resolves when the first run hangs.
 */
export function hangingRuntime(options: { readonly name?: string; readonly hangOn?: number; readonly hangMs?: number; readonly throwOn?: number | readonly number[] } = {}) {
  const { name = 'hang', hangOn = 666, hangMs } = options;
  const throwOn = options.throwOn === undefined ? [] : typeof options.throwOn === 'number' ? [options.throwOn] : options.throwOn;
  const hung: (() => void)[] = [];
  const state = { open: 0, runs: 0, hangingRuns: 0, broken: false, batches: [] as number[], firstValues: [] as number[], beforeThrow: undefined as (() => void) | undefined };
  let began!: () => void;
  const started = new Promise<void>((resolve) => (began = resolve));
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
          state.batches.push(inputs['x']!.shape[0]!);
          state.firstValues.push(x[0]!);
          if (x.includes(hangOn) || state.broken) {
            state.hangingRuns++;
            began();
            await new Promise<void>((resolve) => {
              hung.push(resolve);
              if (hangMs !== undefined) setTimeout(resolve, hangMs);
            });
          }
          const refused = throwOn.find((value) => x.includes(value));
          if (refused !== undefined) {
            state.beforeThrow?.();
            throw new Error(`no ${refused}`);
          }
          return { y: { data: x.map((v) => v * 2), shape: [...inputs['x']!.shape], dtype: 'float32' } };
        },
        dispose() {
          state.open--;
        },
      };
    },
  };
  const release = () => hung.splice(0).forEach((resolve) => resolve());
  return { runtime, hung, state, started, release };
}
