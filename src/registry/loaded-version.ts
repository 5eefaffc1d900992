import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { VersionBreaker } from '../breaker/version-breaker.js';
import type { BreakerState } from '../metrics/events.js';
import type { Dispatcher } from '../scheduler/dispatcher.js';
import type { Executor } from '../scheduler/executor.js';
import { Padding } from '../scheduler/padding.js';
import type { PaddingOptions } from '../scheduler/padding-options.js';
import { hasBatchDimension, InputValidator, type Signature, type TensorSpec } from '../tensor/index.js';
import { canTransition, IllegalTransitionError, type VersionState } from './version-state.js';
import type { ModelMetadata } from '../host/model-host.js';

export interface VersionStatus {
  readonly version: number;
  readonly state: VersionState;
  readonly runtime: string | undefined;
  /** Where batches run: `inline` on the main thread, or `count` worker-thread instances. */
  readonly instances: InstanceInfo | undefined;
  /** Requests accepted and not yet settled. */
  readonly pending: number;
  /** Rows waiting in the version's queue. */
  readonly queueDepth: number;
  /** The version's circuit breaker; undefined when disabled or not loaded. */
  readonly breaker: BreakerState | undefined;
  /** When the version became ready (ms since the epoch). */
  readonly readyAt: number | undefined;
  /** Why the version failed to load. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
  /**
   * Why a ready version cannot answer now (its runs stopped returning: `instances.runTimeoutMs`),
   * or undefined; meanwhile it is not ready and gets no requests.
   */
  readonly stalled?: string | undefined;
}

export interface InstanceInfo {
  readonly kind: 'thread' | 'inline';
  readonly count: number;
  /** Set when `instances.kind` was `auto`: the warm run on the calling thread that decided `kind`, ms. */
  readonly measuredRunMs?: number;
}

/**
 * One version of a model in the registry, from loading to unloaded. It owns the executor
 * (and through it the session or worker instances) and the dispatcher that feeds it; the
 * host reads `state` to route and report.
 */
export class LoadedVersion {
  private currentState: VersionState = 'loading';
  runtime: string | undefined;
  instances: InstanceInfo | undefined;
  executor: Executor | undefined;
  breaker: VersionBreaker | undefined;
  signature: Signature | undefined;
  validator: InputValidator | undefined;
  /** Variable-length batching, when the model's config has `padding`. */
  padding: Padding | undefined;
  dispatcher: Dispatcher | undefined;
  batched = false;
  /** Most rows per runtime call, once the scheduler is set up. */
  maxBatchSize = 1;
  /** Most rows the version's queue holds (`queue.maxSize`), once the scheduler is set up. */
  queueMaxSize = 1;
  error: ModelHostError | undefined;
  readyAt: number | undefined;
  /** The host's last `metadata()` answer for this version; the host checks it still holds before reuse. */
  metadata: ModelMetadata | undefined = undefined;

  constructor(
    readonly model: string,
    readonly version: number,
  ) {}

  get state(): VersionState {
    return this.currentState;
  }

  get isReady(): boolean {
    return this.currentState === 'ready';
  }

  /** Why this loaded version cannot answer now (see `VersionStatus.stalled`), or undefined. */
  get stalled(): string | undefined {
    return this.executor?.stalled;
  }

  /** Ready, and able to answer now: what routing and readiness ask. */
  get canAnswer(): boolean {
    return this.currentState === 'ready' && this.executor?.stalled === undefined;
  }

  /** Moves along the lifecycle; an illegal move is a bug and throws. */
  transition(to: VersionState): void {
    if (!canTransition(this.currentState, to)) throw new IllegalTransitionError(this.currentState, to, `model '${this.model}' v${this.version}`);
    this.currentState = to;
  }

  /** Records what was loaded and what follows from its signature; throws INVALID_CONFIG when `padding` does not fit it. */
  attach(runtime: string, loaded: Signature, instances: InstanceInfo, padding?: PaddingOptions): void {
    // The host's own frozen copy: `metadata()` hands its specs out, and a caller that changed
    // one must not change what the validator checks requests against.
    const signature = frozenSignature(loaded);
    const context = { model: this.model, version: this.version };
    const batched = hasBatchDimension(signature);
    if (padding !== undefined && !batched) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `model '${this.model}' v${this.version}: padding needs a model with a batch dimension (a leading -1 on every input and output)`, context);
    }
    this.padding = padding === undefined ? undefined : new Padding(padding, signature, context);
    this.runtime = runtime;
    this.instances = instances;
    this.signature = signature;
    this.batched = batched;
    this.validator = new InputValidator(signature, context, { hostFilled: this.padding?.maskInput });
  }

  fail(error: ModelHostError): void {
    this.error = error;
    this.transition('failed');
  }

  /** Stops accepting work, lets pending requests settle, then disposes the session(s). */
  async drainAndDispose(): Promise<void> {
    if (this.currentState === 'unloaded' || this.currentState === 'failed') return;
    if (this.currentState !== 'draining') this.transition('draining');
    this.dispatcher?.close();
    await this.dispatcher?.drain();
    const executor = this.executor;
    this.executor = undefined;
    await executor?.close();
    this.breaker?.shutdown();
    this.transition('unloaded');
  }

  notReady(): ModelHostError {
    const stalled = this.isReady ? this.stalled : undefined;
    const why = stalled === undefined ? `is ${this.currentState}, not ready` : `cannot answer: ${stalled}`;
    return new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${this.model}' v${this.version} ${why}`, {
      model: this.model,
      version: this.version,
    });
  }

  status(): VersionStatus {
    return {
      version: this.version,
      state: this.currentState,
      runtime: this.runtime,
      instances: this.instances,
      pending: this.dispatcher?.pending ?? 0,
      queueDepth: this.dispatcher?.queuedRows ?? 0,
      breaker: this.breaker?.state,
      readyAt: this.readyAt,
      error: this.error === undefined ? undefined : { code: this.error.code, message: this.error.message },
      ...(this.isReady && this.stalled !== undefined ? { stalled: this.stalled } : {}),
    };
  }
}

/** A deep-frozen copy of a runtime's signature (its specs, shapes and aliases). */
function frozenSignature(signature: Signature): Signature {
  const specs = (list: readonly TensorSpec[]) =>
    Object.freeze(list.map((spec) => Object.freeze({ ...spec, shape: Object.freeze([...spec.shape]), ...(spec.aliases === undefined ? {} : { aliases: Object.freeze([...spec.aliases]) }), ...(spec.range === undefined ? {} : { range: Object.freeze([spec.range[0], spec.range[1]] as const) }) })));
  return Object.freeze({ ...signature, inputs: specs(signature.inputs), outputs: specs(signature.outputs) });
}

