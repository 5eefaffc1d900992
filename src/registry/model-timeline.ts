import { ErrorCode, ModelHostError } from '../errors/index.js';

/** The control operations on a model, in the order a caller can issue them. */
export type OperationKind = 'load' | 'unload' | 'deploy' | 'promote' | 'traffic' | 'rollback' | 'poll';

export interface Operation {
  readonly kind: OperationKind;
  /** The version the operation is about, when it names one. */
  readonly version: number | undefined;
  /** An automatic rollback (the rollout guard's) cancels nothing. */
  readonly automatic: boolean;
}

interface Entry extends Operation {
  readonly controller: AbortController;
  started: boolean;
}

interface Lane {
  tail: Promise<unknown>;
  readonly entries: Set<Entry>;
}

/**
 * Whether `later`, arriving while `earlier` is queued or running on the same model, makes
 * `earlier` moot (docs/versions.md has the whole table):
 * - `unload(m)` cancels everything before it; `unload(m, v)` cancels a load or deploy of `v`;
 * - a manual `rollback(m)` cancels deploys: undoing a rollout that has not finished is
 *   not finishing it.
 */
export function cancels(later: Operation, earlier: Operation): boolean {
  if (earlier.kind === 'unload') return false;
  if (later.kind === 'unload') {
    if (later.version === undefined) return true;
    return (earlier.kind === 'load' || earlier.kind === 'deploy') && earlier.version === later.version;
  }
  if (later.kind === 'rollback' && !later.automatic) return earlier.kind === 'deploy';
  return false;
}

/**
 * One timeline per model: its control operations run one after another, each seeing what
 * the previous left; different models run concurrently. An operation that makes an earlier
 * one moot cancels it: a queued one never runs, a running one sees its `signal` abort and
 * undoes what it started (it rejects with CANCELLED).
 */
export class ModelTimeline {
  private readonly lanes = new Map<string, Lane>();

  /** Operations queued or running on `model`. */
  pending(model: string): readonly Operation[] {
    return [...(this.lanes.get(model)?.entries ?? [])];
  }

  /**
   * Runs `work` once every earlier operation on `model` settled. `cancelled` receives the
   * operations this one made moot (already aborted), so it can report what it undid.
   */
  run<T>(model: string, operation: Operation, work: (signal: AbortSignal, cancelled: readonly Operation[]) => Promise<T>): Promise<T> {
    let lane = this.lanes.get(model);
    if (lane === undefined) {
      lane = { tail: Promise.resolve(), entries: new Set() };
      this.lanes.set(model, lane);
    }
    const cancelled: Operation[] = [];
    for (const earlier of lane.entries) {
      if (earlier.controller.signal.aborted || !cancels(operation, earlier)) continue;
      earlier.controller.abort(cancelledBy(model, earlier, operation));
      cancelled.push(earlier);
    }
    const entry: Entry = { ...operation, controller: new AbortController(), started: false };
    lane.entries.add(entry);
    const { signal } = entry.controller;
    const current = lane;
    const finish = () => {
      // Before the caller resumes: what it issues next must not see this operation as pending.
      current.entries.delete(entry);
      if (current.entries.size === 0 && this.lanes.get(model) === current) this.lanes.delete(model);
    };
    const turn = lane.tail.then(async () => {
      entry.started = true;
      try {
        signal.throwIfAborted();
        return await work(signal, cancelled);
      } finally {
        finish();
      }
    });
    lane.tail = turn.catch(() => undefined);
    // A queued operation that is cancelled answers at once; its turn is then skipped.
    const result = new Promise<T>((resolve, reject) => {
      turn.then(resolve, reject);
      signal.addEventListener(
        'abort',
        () => {
          if (entry.started) return;
          finish();
          reject(signal.reason);
        },
        { once: true },
      );
    });
    return result;
  }

  /** Cancels every operation of every model with `reason` (host close), and waits until all have settled. */
  async cancelAll(reason: ModelHostError): Promise<void> {
    const tails: Promise<unknown>[] = [];
    for (const lane of this.lanes.values()) {
      for (const entry of lane.entries) entry.controller.abort(reason);
      tails.push(lane.tail);
    }
    await Promise.all(tails);
  }
}

function describe(operation: Operation): string {
  return operation.version === undefined ? operation.kind : `${operation.kind} of v${operation.version}`;
}

function cancelledBy(model: string, earlier: Operation, later: Operation): ModelHostError {
  return new ModelHostError(ErrorCode.CANCELLED, `model '${model}': the ${describe(earlier)} was cancelled by a later ${describe(later)}`, { model, version: earlier.version });
}

/** Throws the cancellation reason when the operation's signal aborted (a checkpoint between awaits). */
export function checkpoint(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}
