import PQueue from 'p-queue';
import type { WorkerMemory } from '../runtime/worker/messages.js';
import type { WorkerInstance } from '../runtime/worker/worker-instance.js';
import type { Tensor } from '../tensor/index.js';
import type { Executor } from './executor.js';

export interface ThreadExecutorOptions {
  /** Starts (loads and warms up) a replacement for a lost instance. */
  readonly replace: () => Promise<WorkerInstance>;
  /** A replacement failed; the executor tries again after a back-off. */
  readonly onReplaceFailed: (error: unknown, attempt: number) => void;
}

/**
 * Runs batches on worker-thread instances, each owning its own session: a batch goes to an
 * idle instance (p-queue bounds batches in flight to the instances alive). A lost instance
 * (crash, exit, hang) is replaced in the background; until then the executor has one slot
 * less, and the scheduler keeps requests queued (their deadlines still apply).
 */
export class ThreadExecutor implements Executor {
  private readonly queue: PQueue;
  private readonly idle: WorkerInstance[];
  private readonly all: Set<WorkerInstance>;
  private closed = false;
  /** Runs waiting for an instance (only while a lost one is being replaced). */
  private readonly waiting: { resolve(instance: WorkerInstance): void; reject(error: Error): void }[] = [];
  onAvailable: (() => void) | undefined;

  constructor(
    instances: readonly WorkerInstance[],
    private readonly options: ThreadExecutorOptions,
  ) {
    this.all = new Set(instances);
    this.idle = [...instances];
    this.queue = new PQueue({ concurrency: instances.length });
  }

  /** Workers compute off this thread: requests keep arriving while a batch runs. */
  readonly blocking = false;

  /** Owned inputs are moved to the worker (transferred), so their buffers cannot be reused. */
  readonly releasesInputs = false;

  /** Instances alive now: the batches that may run at once. */
  get concurrency(): number {
    return this.all.size;
  }

  get running(): number {
    return this.queue.pending;
  }

  get instances(): number {
    return this.all.size;
  }

  run(inputs: Record<string, Tensor>, owned = false): Promise<Record<string, Tensor>> {
    return this.queue.add(async () => {
      const instance = await this.acquire();
      try {
        return await instance.run(inputs, owned);
      } finally {
        this.release(instance);
      }
    });
  }

  /**
   * An idle instance. The scheduler only cuts a batch when one is free, but the retries that
   * isolate a crashing request may have to wait for the crashed instance's replacement.
   */
  private acquire(): Promise<WorkerInstance> {
    const instance = this.idle.pop();
    if (instance !== undefined) return Promise.resolve(instance);
    if (this.closed) return Promise.reject(new Error('the executor is closed'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(instance: WorkerInstance): void {
    if (!instance.alive || !this.all.has(instance)) return;
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter.resolve(instance);
    else this.idle.push(instance);
  }

  /** An instance is gone: stop using it and start a replacement. */
  lost(instance: WorkerInstance): void {
    if (!this.all.delete(instance)) return;
    const at = this.idle.indexOf(instance);
    if (at >= 0) this.idle.splice(at, 1);
    this.queue.concurrency = Math.max(1, this.all.size);
    if (!this.closed) void this.replaceOne(1);
  }

  memory(collect = false): Promise<WorkerMemory[]> {
    return Promise.all([...this.all].map((i) => i.memory(collect)));
  }

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('the executor is closed'));
    await this.queue.onIdle();
    await Promise.all([...this.all].map((i) => i.dispose()));
    this.all.clear();
    this.idle.length = 0;
  }

  private async replaceOne(attempt: number): Promise<void> {
    try {
      const instance = await this.options.replace();
      if (this.closed) {
        await instance.dispose();
        return;
      }
      this.all.add(instance);
      this.queue.concurrency = Math.max(1, this.all.size);
      this.release(instance);
      this.onAvailable?.();
    } catch (error) {
      this.options.onReplaceFailed(error, attempt);
      // Runs waiting for this replacement fail now rather than wait for the next attempt.
      if (this.all.size === 0) for (const waiter of this.waiting.splice(0)) waiter.reject(error as Error);
      if (this.closed) return;
      // Back off 1 s, 2 s, 4 s … up to 30 s: a model that cannot load should not spin.
      const delay = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      setTimeout(() => void this.replaceOne(attempt + 1), delay).unref();
    }
  }
}
