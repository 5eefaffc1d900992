/**
 * Runs large synchronous jobs (JSON.parse of a big body) one per event-loop turn, in
 * arrival order, so between two of them the loop reads sockets, answers health probes and
 * runs batches. A burst of eight 20 MB bodies then delays a probe by one parse, not eight.
 */
export class ParseTurns {
  private readonly waiting: (() => void)[] = [];
  private busy = false;

  /** Runs `job` when its turn comes; resolves or rejects with its result. */
  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(() => {
        try {
          resolve(job());
        } catch (error) {
          reject(error);
        }
      });
      if (!this.busy) this.next();
    });
  }

  private next(): void {
    const job = this.waiting.shift();
    if (job === undefined) {
      this.busy = false;
      return;
    }
    this.busy = true;
    setImmediate(() => {
      job();
      this.next();
    });
  }
}
