import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { Session } from '../runtime/index.js';
import type { Dispatcher } from '../scheduler/dispatcher.js';
import { hasBatchDimension, InputValidator, type Signature } from '../tensor/index.js';
import { canTransition, IllegalTransitionError, type VersionState } from './version-state.js';

export interface VersionStatus {
  readonly version: number;
  readonly state: VersionState;
  readonly runtime: string | undefined;
  /** Requests accepted and not yet settled. */
  readonly pending: number;
  /** When the version became ready (ms since the epoch). */
  readonly readyAt: number | undefined;
  /** Why the version failed to load. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/**
 * One version of a model in the registry, from loading to unloaded. It owns the session and
 * the dispatcher that feeds it; the host reads `state` to route and report.
 */
export class LoadedVersion {
  private currentState: VersionState = 'loading';
  runtime: string | undefined;
  session: Session | undefined;
  signature: Signature | undefined;
  validator: InputValidator | undefined;
  dispatcher: Dispatcher | undefined;
  batched = false;
  /** Most rows per runtime call, once the scheduler is set up. */
  maxBatchSize = 1;
  error: ModelHostError | undefined;
  readyAt: number | undefined;

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

  /** Moves along the lifecycle; an illegal move is a bug and throws. */
  transition(to: VersionState): void {
    if (!canTransition(this.currentState, to)) throw new IllegalTransitionError(this.currentState, to, `model '${this.model}' v${this.version}`);
    this.currentState = to;
  }

  /** Records the loaded session and what follows from its signature. */
  attach(runtime: string, session: Session): void {
    this.runtime = runtime;
    this.session = session;
    this.signature = session.signature;
    this.batched = hasBatchDimension(session.signature);
    this.validator = new InputValidator(session.signature, { model: this.model, version: this.version });
  }

  fail(error: ModelHostError): void {
    this.error = error;
    this.transition('failed');
  }

  /** Stops accepting work, lets pending requests settle, then disposes the session. */
  async drainAndDispose(): Promise<void> {
    if (this.currentState === 'unloaded' || this.currentState === 'failed') return;
    if (this.currentState !== 'draining') this.transition('draining');
    this.dispatcher?.close();
    await this.dispatcher?.drain();
    await this.disposeSession();
    this.transition('unloaded');
  }

  async disposeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.dispose();
  }

  notReady(): ModelHostError {
    return new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${this.model}' v${this.version} is ${this.currentState}, not ready`, {
      model: this.model,
      version: this.version,
    });
  }

  status(): VersionStatus {
    return {
      version: this.version,
      state: this.currentState,
      runtime: this.runtime,
      pending: this.dispatcher?.pending ?? 0,
      readyAt: this.readyAt,
      error: this.error === undefined ? undefined : { code: this.error.code, message: this.error.message },
    };
  }
}
