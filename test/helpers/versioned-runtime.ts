import type { Runtime, Session } from '../../src/index.js';

export interface VersionedRuntimeOptions {
  /** Versions whose load fails. */
  failLoad?: Set<number>;
  /** Per version, the share of runs (deterministic: every k-th) that throw. */
  failShare?: Map<number, number>;
  /** Per version, a factor applied to outputs (default: the version number). */
  factor?: Map<number, number>;
  /** Per version, values of `x` it throws on (a run that holds one of them anywhere fails whole, like a runtime refusing an input). */
  failValues?: Map<number, ReadonlySet<number>>;
  /** Runs after the warmup (run 1) of these versions (all, without `versions`) wait for `until`: a drain as long as the test wants. */
  hold?: { readonly versions?: ReadonlySet<number>; readonly until: Promise<void> };
}

export interface VersionedRuntime extends Runtime {
  loads: number[];
  open: number;
  /** Runs per version so far, its warmup included. */
  runs: Record<number, number>;
}

/**
 * A runtime whose outputs tell the version apart: input `x` [-1, 2], output `y` = x × version
 * (or a chosen factor), so a test sees which version answered each request.
 */
export function versionedRuntime(options: VersionedRuntimeOptions = {}): VersionedRuntime {
  const runtime: VersionedRuntime = {
    name: 'versioned',
    loads: [],
    open: 0,
    runs: {},
    canLoad: (files) => files.includes('model.fake'),
    async load(_source, { version }): Promise<Session> {
      runtime.loads.push(version);
      if (options.failLoad?.has(version)) throw new Error(`v${version} is corrupt`);
      runtime.open++;
      runtime.runs[version] = 0;
      let runs = 0;
      let disposed = false;
      const factor = options.factor?.get(version) ?? version;
      const share = options.failShare?.get(version) ?? 0;
      return {
        signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 2] }] },
        async run(inputs) {
          runs++;
          runtime.runs[version]!++;
          if (options.hold !== undefined && runs > 1 && (options.hold.versions?.has(version) ?? true)) await options.hold.until;
          // Every k-th run fails (warmup, run 1, always passes).
          if (share > 0 && runs > 1 && runs % Math.round(1 / share) === 0) throw new Error(`v${version} failed run ${runs}`);
          const x = inputs['x']!;
          const refused = options.failValues?.get(version);
          if (refused !== undefined && (x.data as Float32Array).some((v) => refused.has(v))) throw new Error(`v${version} cannot run this input`);
          return { y: { data: (x.data as Float32Array).map((v) => v * factor), shape: [...x.shape], dtype: 'float32' } };
        },
        dispose() {
          if (!disposed) runtime.open--;
          disposed = true;
        },
      };
    },
  };
  return runtime;
}
