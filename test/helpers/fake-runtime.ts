import type { Runtime, Session, Signature, Tensor } from '../../src/index.js';

export interface FakeRuntimeOptions {
  name?: string;
  signature?: Signature;
  /** Computes outputs from inputs; default: `y = 2x + 1` on input `x`. */
  compute?: (inputs: Record<string, Tensor>) => Record<string, Tensor>;
  /** Throw from `run` when this returns an error. */
  failRun?: (inputs: Record<string, Tensor>) => Error | undefined;
  /** Throw from `load`. */
  failLoad?: () => Error | undefined;
  /** Awaited inside `load`, so a test can hold a version in `loading`. */
  loadGate?: () => Promise<void>;
  /** Awaited inside `run`, so a test can hold a batch in flight. */
  runGate?: () => Promise<void>;
}

export const AFFINE_SIGNATURE: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }],
};

export function affine(inputs: Record<string, Tensor>): Record<string, Tensor> {
  const x = inputs['x']!;
  const y = new Float32Array(x.data.length);
  for (let i = 0; i < y.length; i++) y[i] = 2 * (x.data as Float32Array)[i]! + 1;
  return { y: { data: y, shape: [...x.shape], dtype: 'float32' } };
}

export interface FakeRuntime extends Runtime {
  /** Calls of `run` across all sessions (warmup included). */
  runs: number;
  /** Rows seen by `run`, per call. */
  batches: number[];
  loads: number;
  openSessions: number;
}

/** A runtime behind the public SPI, for host tests that need control over loads and runs. */
export function fakeRuntime(options: FakeRuntimeOptions = {}): FakeRuntime {
  const signature = options.signature ?? AFFINE_SIGNATURE;
  const compute = options.compute ?? affine;
  const runtime: FakeRuntime = {
    name: options.name ?? 'fake',
    runs: 0,
    batches: [],
    loads: 0,
    openSessions: 0,
    canLoad: (files) => files.includes('model.fake'),
    async load(): Promise<Session> {
      runtime.loads++;
      await options.loadGate?.();
      const loadError = options.failLoad?.();
      if (loadError) throw loadError;
      runtime.openSessions++;
      let disposed = false;
      return {
        signature,
        async run(inputs) {
          if (disposed) throw new Error('run after dispose');
          runtime.runs++;
          runtime.batches.push(inputs[signature.inputs[0]!.name]!.shape[0] ?? 1);
          await options.runGate?.();
          const error = options.failRun?.(inputs);
          if (error) throw error;
          return compute(inputs);
        },
        dispose() {
          if (!disposed) runtime.openSessions--;
          disposed = true;
        },
      };
    },
    memory: () => ({ sessions: runtime.openSessions }),
  };
  return runtime;
}

/** An in-memory source the fake runtime recognizes. */
export const FAKE_SOURCE = { files: { 'model.fake': 'fake' } } as const;

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
