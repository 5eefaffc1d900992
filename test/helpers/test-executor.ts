import type { Executor } from '../../src/scheduler/executor.js';
import type { Tensor } from '../../src/tensor/index.js';
import { deferred } from './fake-runtime.js';

interface Run {
  inputs: Record<string, Tensor>;
  rows: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * An executor whose runs finish when the test says so (`held`), or at once. Its "model"
 * echoes input `x` as output `y`, so every output row identifies its input row. `poison`
 * makes any batch that contains a row whose first value is in the set throw.
 */
export class TestExecutor implements Executor {
  running = 0;
  readonly runs: Run[] = [];
  readonly batches: number[] = [];
  poison = new Set<number>();
  hold = false;
  /** Scheduled like a runtime that computes on the calling thread (cuts wait for the event-loop turn). */
  blocking = true;
  /** Whether the scheduler may reuse a run's input buffers once it settled (as inline executors allow). */
  releasesInputs = false;
  /** Return input `x` itself as output `y` (a runtime whose output shares its input's memory), not a copy. */
  aliasOutputs = false;
  /** Called with the first value of every row of each run. */
  onRun: ((ids: number[]) => void) | undefined;

  constructor(readonly concurrency = 1) {}

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.running++;
    const x = inputs['x']!;
    const rows = x.shape[0]!;
    this.batches.push(rows);
    const width = x.data.length / rows;
    this.onRun?.(Array.from({ length: rows }, (_, r) => (x.data as Float32Array)[r * width]!));
    const done = deferred();
    this.runs.push({ inputs, rows, resolve: () => done.resolve(), reject: (e) => done.reject(e) });
    if (!this.hold) done.resolve();
    return done.promise.then(
      () => {
        this.running--;
        for (let r = 0; r < rows; r++) {
          if (this.poison.has((x.data as Float32Array)[r * width]!)) throw new Error(`poisoned row ${(x.data as Float32Array)[r * width]}`);
        }
        const data = this.aliasOutputs ? (x.data as Float32Array) : Float32Array.from(x.data as Float32Array);
        return { y: { data, shape: [...x.shape], dtype: 'float32' } as Tensor };
      },
      (error: unknown) => {
        this.running--;
        throw error;
      },
    );
  }

  /** Finishes the oldest held run. */
  release(): void {
    const run = this.runs.find((r) => !(r as { done?: boolean }).done);
    if (run === undefined) throw new Error('no held run');
    (run as { done?: boolean }).done = true;
    run.resolve();
  }

  async onIdle(): Promise<void> {}
  async close(): Promise<void> {}
}
