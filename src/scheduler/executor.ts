import PQueue from 'p-queue';
import type { Session } from '../runtime/index.js';
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
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Resolves once no batch is running. */
  onIdle(): Promise<void>;
  close(): Promise<void>;
}

/** Runs batches on the calling thread, at most `concurrency` at once (p-queue). */
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
  }
}
