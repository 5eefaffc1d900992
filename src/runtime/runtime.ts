import type { Signature, Tensor } from '../tensor/index.js';

/**
 * Where a model's files come from. A directory's `path` and `root` are real paths; every
 * file read from it (through `ModelFiles`) is resolved and must stay inside `root`.
 */
export type ModelSource =
  | {
      readonly kind: 'directory';
      readonly path: string;
      /** The folder no file may lead out of: the repository root, or `path` itself (the default). Messages name files relative to it. */
      readonly root?: string;
      /**
       * SHA-256 (hex) of every file of the version, from its verified `SHA256SUMS`, keyed by
       * `/`-separated name: reads are checked against it, so a file rewritten after the
       * verification is refused too.
       */
      readonly checksums?: ReadonlyMap<string, string>;
    }
  | { readonly kind: 'url'; readonly url: string }
  /** Files held in memory, keyed by file name (`model.onnx`, or `model.json` and its shards). */
  | { readonly kind: 'memory'; readonly files: Readonly<Record<string, Uint8Array | string>> };

export interface RuntimeLoadOptions {
  readonly model: string;
  readonly version: number;
  /** The model config's section named after the runtime (`tfjs: {...}`, `onnx: {...}`), or `{}`. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
}

/** A loaded model, ready to run. One session serves one version. */
export interface Session {
  readonly signature: Signature;
  /**
   * Runs one batch. Inputs follow the signature (a leading batch dimension where the model has
   * one); outputs are keyed by output name. Must not keep references to `inputs` after settling.
   */
  run(inputs: Record<string, Tensor>, signal?: AbortSignal): Promise<Record<string, Tensor>>;
  dispose(): Promise<void> | void;
}

export interface RuntimeMemory {
  /** Live tensors held by the runtime (tfjs), where it counts them. */
  readonly tensors?: number;
  /** Sessions created and not yet disposed. */
  readonly sessions: number;
}

/**
 * The runtime SPI: the built-in `tfjs` and `onnx` runtimes use it, and so can yours:
 * `new ModelHost({ runtimes: { mine: myRuntime } })`.
 */
export interface Runtime {
  readonly name: string;
  load(source: ModelSource, options: RuntimeLoadOptions): Promise<Session>;
  /** Whether this runtime recognizes the source's files; used when the config names no runtime. */
  canLoad?(files: readonly string[]): boolean;
  /** Live resources, for leak checks and metrics. */
  memory?(): RuntimeMemory;
  /**
   * Where a worker thread can import this runtime from, so its sessions can run off the
   * event loop (`instances: { kind: 'thread' }`). Without it the runtime runs inline only.
   */
  readonly worker?: WorkerEntry;
}

/** A module a worker thread imports to get a runtime: `import(module)[export ?? 'default']`. */
export interface WorkerEntry {
  /** An absolute path, a `file:` URL, or a package specifier resolvable from the worker. */
  readonly module: string;
  /** The export holding the Runtime; default `'default'`. */
  readonly export?: string;
}
