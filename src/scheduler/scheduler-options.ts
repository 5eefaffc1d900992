import { checkInteger, checkNumber, checkObject, checkOneOf, invalidOption, MAX_TIMER_MS } from '../errors/index.js';

/** How requests of one model version are batched (Triton's dynamic batcher, TF Serving's batch scheduler). */
export interface BatchingOptions {
  /** Most rows in one runtime call. Default: the model's own limit if it declares one, else 32. */
  maxBatchSize?: number;
  /**
   * How long a queued request may wait for a fuller batch while other batches run. An idle
   * executor never waits: it runs what is queued at the end of the current event-loop turn.
   * Default 2.
   */
  maxDelayMs?: number;
}

export interface QueueOptions {
  /** Most rows waiting per version; beyond it requests fail at once with QUEUE_FULL. Default 1024. */
  maxSize?: number;
  /**
   * Longest a request may be predicted to wait in the queue, ms: the rows ahead of it at the
   * rate the version drains them (measured from finished batches). Beyond it requests fail
   * at once with QUEUE_FULL and a `retryAfterMs` from the same prediction, so overload
   * answers fast instead of queueing for tens of seconds. Default 5000.
   */
  maxWaitMs?: number;
}

/** Where batches run: sessions on the main thread, or one session per worker thread. */
export interface InstanceOptions {
  /**
   * `thread`: off the event loop, one session per worker; `inline`: on the calling thread;
   * `auto` (default): measured at load, threads when a warm run of the warmup batch takes
   * at least 2 ms on the calling thread (docs/configuration.md).
   */
  kind?: 'auto' | 'thread' | 'inline';
  /** Thread instances (each a worker with its own session). Default 1. Inline ignores it (see `concurrency`). */
  count?: number;
  /**
   * A batch running longer is taken as hung and fails: on a thread instance the worker is
   * replaced; inline, the run is abandoned. Default 60000 for thread instances and for inline
   * warmup runs; inline request runs are watched only when it is set (docs/configuration.md).
   */
  runTimeoutMs?: number;
}

/** The scheduler's share of a model's options. */
export interface SchedulerOptions {
  /** Where batches run. */
  instances?: InstanceOptions;
  /** Batching settings, or `false` to run every request alone. */
  batching?: BatchingOptions | false;
  queue?: QueueOptions;
  /** Batches of one version in flight at once. Default 1. */
  concurrency?: number;
  /** Default deadline of every request, unless the call passes `timeoutMs`. Default: none. */
  timeoutMs?: number;
}

export interface ResolvedSchedulerOptions {
  /** Undefined: take it from the model's signature, else 32. */
  readonly maxBatchSize: number | undefined;
  readonly maxDelayMs: number;
  readonly batching: boolean;
  readonly queueMaxSize: number;
  readonly queueMaxWaitMs: number;
  readonly concurrency: number;
  readonly timeoutMs: number | undefined;
  /** Undefined: the default for the runtime (thread where it can run in a worker). */
  readonly instanceKind: 'auto' | 'thread' | 'inline' | undefined;
  readonly instanceCount: number;
  readonly runTimeoutMs: number;
  /**
   * Whether `instances.runTimeoutMs` was set: inline request runs are watched only then. A hung
   * tfjs or onnxruntime run blocks the thread it runs on, where no timer can fire, so by default
   * inline request runs pay nothing for a watch that could only help runtimes whose runs
   * return asynchronously.
   */
  readonly watchInlineRuns: boolean;
}

export const DEFAULT_SCHEDULER_OPTIONS: Readonly<ResolvedSchedulerOptions> = Object.freeze({
  maxBatchSize: undefined,
  maxDelayMs: 2,
  batching: true,
  queueMaxSize: 1024,
  queueMaxWaitMs: 5000,
  concurrency: 1,
  timeoutMs: undefined,
  instanceKind: undefined,
  instanceCount: 1,
  runTimeoutMs: 60_000,
  watchInlineRuns: false,
});

export const DEFAULT_MAX_BATCH_SIZE = 32;
export const SCHEDULER_OPTION_KEYS = ['batching', 'queue', 'concurrency', 'timeoutMs', 'instances'] as const;

/** Validates the scheduler keys of one layer of model options. */
export function validateSchedulerOptions(options: Record<string, unknown>, path: string): void {
  const batching = options['batching'];
  if (batching !== undefined && batching !== false) {
    if (batching === true) throw invalidOption(`${path}.batching`, 'an object or false', true);
    const b = checkObject(batching, `${path}.batching`, ['maxBatchSize', 'maxDelayMs']);
    if (b['maxBatchSize'] !== undefined) checkInteger(b['maxBatchSize'], `${path}.batching.maxBatchSize`, 1, 1_000_000);
    if (b['maxDelayMs'] !== undefined) checkNumber(b['maxDelayMs'], `${path}.batching.maxDelayMs`, 0, 60_000);
  }
  if (options['queue'] !== undefined) {
    const q = checkObject(options['queue'], `${path}.queue`, ['maxSize', 'maxWaitMs']);
    if (q['maxSize'] !== undefined) checkInteger(q['maxSize'], `${path}.queue.maxSize`, 1, 100_000_000);
    if (q['maxWaitMs'] !== undefined) checkNumber(q['maxWaitMs'], `${path}.queue.maxWaitMs`, 1, MAX_TIMER_MS);
  }
  if (options['concurrency'] !== undefined) checkInteger(options['concurrency'], `${path}.concurrency`, 1, 1024);
  if (options['timeoutMs'] !== undefined) checkNumber(options['timeoutMs'], `${path}.timeoutMs`, 0, MAX_TIMER_MS);
  if (options['instances'] !== undefined) {
    const i = checkObject(options['instances'], `${path}.instances`, ['kind', 'count', 'runTimeoutMs']);
    if (i['kind'] !== undefined) checkOneOf(i['kind'], `${path}.instances.kind`, ['auto', 'thread', 'inline']);
    if (i['count'] !== undefined) checkInteger(i['count'], `${path}.instances.count`, 1, 256);
    if (i['runTimeoutMs'] !== undefined) checkNumber(i['runTimeoutMs'], `${path}.instances.runTimeoutMs`, 1, MAX_TIMER_MS);
  }
}

/** The scheduler settings out of merged model options. */
export function resolveSchedulerOptions(merged: Record<string, unknown>): ResolvedSchedulerOptions {
  const batching = merged['batching'] as BatchingOptions | false | undefined;
  const queue = merged['queue'] as QueueOptions | undefined;
  const instances = merged['instances'] as InstanceOptions | undefined;
  return Object.freeze({
    maxBatchSize: batching === false ? 1 : batching?.maxBatchSize,
    maxDelayMs: (batching === false ? undefined : batching?.maxDelayMs) ?? DEFAULT_SCHEDULER_OPTIONS.maxDelayMs,
    batching: batching !== false,
    queueMaxSize: queue?.maxSize ?? DEFAULT_SCHEDULER_OPTIONS.queueMaxSize,
    queueMaxWaitMs: queue?.maxWaitMs ?? DEFAULT_SCHEDULER_OPTIONS.queueMaxWaitMs,
    concurrency: (merged['concurrency'] as number | undefined) ?? DEFAULT_SCHEDULER_OPTIONS.concurrency,
    timeoutMs: merged['timeoutMs'] as number | undefined,
    instanceKind: instances?.kind,
    instanceCount: instances?.count ?? DEFAULT_SCHEDULER_OPTIONS.instanceCount,
    runTimeoutMs: instances?.runTimeoutMs ?? DEFAULT_SCHEDULER_OPTIONS.runTimeoutMs,
    watchInlineRuns: instances?.runTimeoutMs !== undefined,
  });
}
