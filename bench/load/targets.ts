import type { ModelId } from './models.js';

/**
 * What a target compares: modelhost ÷ naive, modelhost ÷ raw batched, modelhost p50 − raw p50,
 * `predictBatch` ÷ the raw runtime on the same batch, or the host with its default stats
 * recorder ÷ the same host with `stats: false`.
 */
export type Metric = 'c/a' | 'c/b' | 'p50 diff' | 'predictBatch/raw' | 'stats on/off';

export interface Target {
  readonly model: ModelId;
  readonly concurrency: number;
  readonly metric: Metric;
  readonly goal: number;
  /** `min`: measured must be ≥ goal; `max`: ≤ goal. */
  readonly bound: 'min' | 'max';
  readonly label: string;
}

/**
 * DESIGN §9 ("What fast means here"), the parts a closed-loop run in one process can check.
 * The low-load latency target is checked on the MLPs only: it bounds modelhost's own cost per
 * request, which a ~100 ms MobileNetV2 call (jittering by several ms) cannot resolve.
 */
export const TARGETS: readonly Target[] = [
  { model: 'mlp-tfjs', concurrency: 64, metric: 'c/a', goal: 5, bound: 'min', label: 'MLP tfjs-wasm, 64 callers: batching gain c÷a' },
  { model: 'mlp-tfjs', concurrency: 64, metric: 'c/b', goal: 0.8, bound: 'min', label: 'MLP tfjs-wasm, 64 callers: batching efficiency c÷b' },
  { model: 'mlp-onnx', concurrency: 64, metric: 'c/a', goal: 4, bound: 'min', label: 'MLP onnx, 64 callers: batching gain c÷a' },
  { model: 'mlp-onnx', concurrency: 64, metric: 'c/b', goal: 0.6, bound: 'min', label: 'MLP onnx, 64 callers: batching efficiency c÷b' },
  { model: 'mobilenet', concurrency: 8, metric: 'c/b', goal: 0.95, bound: 'min', label: 'MobileNetV2, 8 callers: batching efficiency c÷b' },
  { model: 'mlp-tfjs', concurrency: 1, metric: 'p50 diff', goal: 0.05, bound: 'max', label: 'MLP tfjs-wasm, 1 caller: host p50 − raw p50 (ms)' },
  { model: 'mlp-onnx', concurrency: 1, metric: 'p50 diff', goal: 0.05, bound: 'max', label: 'MLP onnx, 1 caller: host p50 − raw p50 (ms)' },
  // Issue 17: modelhost's own per-request cost, where the model costs little.
  { model: 'mlp-onnx', concurrency: 1, metric: 'c/a', goal: 0.8, bound: 'min', label: 'MLP onnx, 1 caller: modelhost ÷ naive c÷a' },
  { model: 'mlp-onnx', concurrency: 64, metric: 'c/b', goal: 0.7, bound: 'min', label: 'MLP onnx, 64 callers: c÷b (issue 17 goal)' },
  { model: 'mlp-tfjs', concurrency: 64, metric: 'c/b', goal: 0.9, bound: 'min', label: 'MLP tfjs-wasm, 64 callers: c÷b (issue 17 goal)' },
  { model: 'tiny-tfjs', concurrency: 64, metric: 'c/b', goal: 0.8, bound: 'min', label: 'tiny MLP tfjs-wasm, 64 callers ÷ raw batches of 32' },
  { model: 'tiny-tfjs', concurrency: 1, metric: 'predictBatch/raw', goal: 0.95, bound: 'min', label: 'tiny MLP: predictBatch of 32 rows ÷ raw runtime, same rows' },
  { model: 'mlp-onnx', concurrency: 64, metric: 'stats on/off', goal: 0.95, bound: 'min', label: 'MLP onnx, 64 callers: default stats() on ÷ off' },
];

export interface TargetResult extends Target {
  readonly measured: number | undefined;
  readonly status: 'pass' | 'miss' | 'not run';
}

/** `measure(model, concurrency, metric)` returns undefined for cells that were not run. */
export function evaluateTargets(measure: (model: ModelId, concurrency: number, metric: Metric) => number | undefined): TargetResult[] {
  return TARGETS.map((target) => {
    const measured = measure(target.model, target.concurrency, target.metric);
    if (measured === undefined || Number.isNaN(measured)) return { ...target, measured: undefined, status: 'not run' };
    const pass = target.bound === 'min' ? measured >= target.goal : measured <= target.goal;
    return { ...target, measured, status: pass ? 'pass' : 'miss' };
  });
}
