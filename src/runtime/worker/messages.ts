import type { ModelSource, RuntimeMemory } from '../runtime.js';
import type { Signature, Tensor } from '../../tensor/index.js';

/** Which runtime a worker loads: a built-in by name, or a module that exports one. */
export type RuntimeRef = { readonly builtin: string } | { readonly module: string; readonly export?: string };

export interface WorkerSetup {
  readonly runtime: RuntimeRef;
  readonly source: ModelSource;
  readonly model: string;
  readonly version: number;
  readonly settings: Readonly<Record<string, unknown>>;
}

/** Main thread → worker. */
export type ToWorker =
  | { readonly type: 'run'; readonly id: number; readonly inputs: Record<string, Tensor> }
  /** `collect`: run a full garbage collection first, so heap numbers compare across time. */
  | { readonly type: 'memory'; readonly id: number; readonly collect: boolean }
  | { readonly type: 'dispose'; readonly id: number };

export interface WorkerMemory extends RuntimeMemory {
  /** V8 heap used by the worker, bytes. */
  readonly heapUsed: number;
}

export interface SerializedError {
  readonly message: string;
  readonly code?: string;
  readonly name?: string;
  /** The messages of the error's `cause` chain: for the host's log, never a response. */
  readonly detail?: readonly string[];
}

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'loaded'; readonly signature: Signature }
  | { readonly type: 'loadFailed'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly outputs: Record<string, Tensor> }
  | { readonly type: 'failed'; readonly id: number; readonly error: SerializedError }
  | { readonly type: 'memory'; readonly id: number; readonly memory: WorkerMemory }
  | { readonly type: 'disposed'; readonly id: number };
