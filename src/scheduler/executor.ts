import PQueue from 'p-queue';
import type { Session } from '../runtime/index.js';
import type { WorkerMemory } from '../runtime/worker/messages.js';
import type { Tensor } from '../tensor/index.js';

/**
 * Runs batches. The scheduler above only asks whether a slot is free and hands over a
 * batch; whether it runs inline or on worker threads is the executor's business.
 */
export interface Executor {
  /** Batches that may run at once. */
  readonly concurrency: number;
  /**
   * Whether a run computes on the calling thread before it returns (tfjs inline): then
   * nothing can arrive while it runs, and the scheduler gathers a batch over a whole
   * event-loop turn instead of the current tick.
   */
  readonly blocking: boolean;
  /** Batches running now. */
  readonly running: number;
  /**
   * Runs one batch. `owned`: the input buffers were made for this batch (concatenated rows),
   * so the executor may move them to another thread instead of copying.
   */
  run(inputs: Record<string, Tensor>, owned?: boolean): Promise<Record<string, Tensor>>;
  /** Resolves once no batch is running. */
  onIdle(): Promise<void>;
  /** Waits for running batches, then disposes the session(s). */
  close(): Promise<void>;
  /** Memory of each worker-thread instance (thread executors only). */
  memory?(collect?: boolean): Promise<WorkerMemory[]>;
  /** Set by the scheduler: called when a slot that was lost (a crashed instance) is back. */
  onAvailable?: (() => void) | undefined;
}

/** Runs batches on the calling thread, at most `concurrency` at once (p-queue); owns the session. */
export class InlineExecutor implements Executor {
  private readonly queue: PQueue;
  /** Share of a run spent before `session.run` returned (an average over recent runs). */
  private syncShare = 1;

  constructor(
    private readonly session: Session,
    readonly concurrency: number,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  get running(): number {
    return this.queue.pending;
  }

  get blocking(): boolean {
    return this.syncShare > 0.5;
  }

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.queue.add(() => {
      // Learn whether this runtime computes synchronously (tfjs) or defers (onnxruntime-node).
      const started = performance.now();
      const pending = this.session.run(inputs);
      const returned = performance.now();
      void pending.then(
        () => this.learn(started, returned),
        () => undefined,
      );
      return pending;
    });
  }

  private learn(started: number, returned: number): void {
    const total = performance.now() - started;
    if (total <= 0) return;
    this.syncShare = this.syncShare * 0.7 + ((returned - started) / total) * 0.3;
  }

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  async close(): Promise<void> {
    await this.queue.onIdle();
    await this.session.dispose();
  }
}
