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

  constructor(
    private readonly session: Session,
    readonly concurrency: number,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  get running(): number {
    return this.queue.pending;
  }

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.queue.add(() => this.session.run(inputs));
  }

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  async close(): Promise<void> {
    await this.queue.onIdle();
    await this.session.dispose();
  }
}
