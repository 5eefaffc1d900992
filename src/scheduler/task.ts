import type { ModelHostError } from '../errors/index.js';
import type { Tensor } from '../tensor/index.js';
import type { AbortWatch, SignalGroup } from './abort-watch.js';
import type { MirroredRequest } from './dispatcher.js';
import type { SplitRequest } from './split-request.js';

const NO_INPUTS: Record<string, Tensor> = Object.freeze({}) as Record<string, Tensor>;

export const TaskState = { Queued: 0, Running: 1, Settled: 2 } as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/**
 * One request's rows on their way through the scheduler. It settles exactly once: the first
 * of resolve/reject wins, later ones (a result arriving after the deadline fired) are ignored.
 */
export class Task {
  state: TaskState = TaskState.Queued;
  /** When it was admitted, on the scheduler's clock (-1: not read, nothing needed it). */
  enqueuedAt: number;
  /** When its batch started running, on the scheduler's clock. */
  startedAt = 0;
  /** Rows of the batch it ran in. */
  batchRows = 0;
  /** The caller's request id, carried into events (tracing), when given. */
  id: string | undefined = undefined;
  /** The tasks sharing the caller's signal, when one was passed: left on settle (`AbortWatch`). */
  signalGroup: SignalGroup | undefined = undefined;
  /** The scheduler's watch that cancels it when that signal aborts. */
  abortWatch: AbortWatch | undefined = undefined;
  /**
   * A chunk of a `predictBatch` larger than `maxBatchSize`: its success does not answer the
   * request (a sibling chunk may still fail it, or its deadline pass), so its rows never become
   * a probe's known-good inputs.
   */
  chunk = false;
  /** The caller named the version: a failure of it is never run on the version's baseline. */
  pinned = false;
  /** A baseline check of another version's failed request (`DispatchOptions.check`): its failure never counts here. */
  check = false;
  /** A shadow's mirror of a request another version is answering (`DispatchOptions.mirrorOf`). */
  mirrorOf: MirroredRequest | undefined = undefined;
  /**
   * Called once when it settles, whoever settles it (its caller's signal, its deadline, the
   * host's shutdown): a baseline check made for it is cancelled then, since nobody waits for
   * its verdict any more.
   */
  onSettle: (() => void) | undefined = undefined;
  /** For a chunk: its request, which reports itself once (a chunk emits no request event of its own). */
  split: SplitRequest | undefined = undefined;
  /** For a chunk: the whole request's inputs and where its rows start, so a refusal names what the caller sent. */
  chunkOf: { readonly inputs: Readonly<Record<string, Tensor>>; readonly firstRow: number; readonly maxBatchSize: number } | undefined = undefined;

  /** The request's input tensors; dropped on settle, so a task kept only by the deadline heap holds no buffers. */
  inputs: Record<string, Tensor>;

  constructor(
    inputs: Record<string, Tensor>,
    readonly rows: number,
    readonly shapeKey: string,
    /** Give the outputs back without the batch dimension (one instance from `predict`). */
    readonly single: boolean,
    readonly priority: number,
    /** Absolute deadline on the scheduler's clock; Infinity for none. */
    readonly deadline: number,
    now: number,
    private readonly onResolve: (outputs: Record<string, Tensor>) => void,
    private readonly onReject: (error: ModelHostError) => void,
  ) {
    this.inputs = inputs;
    this.enqueuedAt = now;
  }

  get settled(): boolean {
    return this.state === TaskState.Settled;
  }

  resolve(outputs: Record<string, Tensor>): boolean {
    if (!this.settle()) return false;
    this.onResolve(outputs);
    return true;
  }

  reject(error: ModelHostError): boolean {
    if (!this.settle()) return false;
    this.onReject(error);
    return true;
  }

  /** Marks it settled and lets go of what it held (false: it already was), before its caller hears. */
  private settle(): boolean {
    if (this.state === TaskState.Settled) return false;
    this.state = TaskState.Settled;
    this.inputs = NO_INPUTS;
    this.chunkOf = undefined;
    this.split = undefined;
    this.signalGroup?.leave(this);
    const hook = this.onSettle;
    if (hook !== undefined) {
      this.onSettle = undefined;
      hook();
    }
    return true;
  }
}
