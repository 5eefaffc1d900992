import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { Session } from '../runtime/index.js';
import type { PreparedInputs, Tensor } from '../tensor/index.js';
import type { Dispatcher, DispatchOptions } from './dispatcher.js';

/** Runs each request as its own runtime call, as it arrives. */
export class DirectDispatcher implements Dispatcher {
  private inFlight = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly session: Session,
    private readonly context: { model: string; version: number },
  ) {}

  get pending(): number {
    return this.inFlight;
  }

  async dispatch(prepared: PreparedInputs, options: DispatchOptions): Promise<Record<string, Tensor>> {
    if (options.signal?.aborted) throw new ModelHostError(ErrorCode.CANCELLED, 'the request was cancelled', this.context);
    this.inFlight++;
    try {
      return await this.session.run(prepared.tensors, options.signal);
    } catch (error) {
      if (error instanceof ModelHostError) throw error;
      throw new ModelHostError(ErrorCode.INFERENCE_FAILED, `model '${this.context.model}' v${this.context.version} failed: ${(error as Error)?.message ?? String(error)}`, {
        ...this.context,
        cause: error,
      });
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  abort(): void {
    // Nothing waits here: every accepted request is already running.
  }
}
