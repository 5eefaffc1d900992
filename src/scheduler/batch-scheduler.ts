import { markAnsweredBy } from './answered-by.js';
import { ErrorCode, isVersionFault, ModelHostError, refusalError } from '../errors/index.js';
import { hostWorded, isHostWorded } from '../errors/error-detail.js';
import { isRunTimeout } from '../errors/run-timeout.js';
import type { BatchCompletedEvent, BatchFailedEvent, QueueSaturatedEvent, RequestCompletedEvent, RequestFailedEvent } from '../metrics/events.js';
import type { RequestsCompletedEvent } from '../metrics/internal-events.js';
import { asDeclared, concatRows, ConversionError, DTYPES, invalidBool, narrowerDeclared, shapeSize, type PreparedInputs, type Tensor, type TensorSpec } from '../tensor/index.js';
import { isStorageOf } from '../tensor/dtype.js';
import { AbortWatch } from './abort-watch.js';
import { ArrivalClock } from './arrival-clock.js';
import type { Clock } from './clock.js';
import { DeadlineTimer } from './deadline-timer.js';
import type { Dispatcher, DispatchOptions, MirroredRequest } from './dispatcher.js';
import { BatchBuffers } from './batch-buffers.js';
import { BatchCost } from './batch-cost.js';
import { CompletedRuns } from './completed-runs.js';
import { DrainRate } from './drain-rate.js';
import type { Executor } from './executor.js';
import type { Padding } from './padding.js';
import { captureSettlers, settlers } from './settlers.js';
import { REPRODUCTIONS, sameFailure } from './reproduction.js';
import { JUDGING_SHARE, JudgingBudget } from './judging-budget.js';
import { SplitRequest, type SplitOutcome } from './split-request.js';
import { Task, TaskState } from './task.js';
import { TaskQueue } from './task-queue.js';

export interface SchedulerEventMap {
  requestCompleted: RequestCompletedEvent;
  requestFailed: RequestFailedEvent;
  /** Internal: one per batch, the requests that succeeded in it (the stats recorder's feed). */
  requestsCompleted: RequestsCompletedEvent;
  batchCompleted: BatchCompletedEvent;
  batchFailed: BatchFailedEvent;
  queueSaturated: QueueSaturatedEvent;
}

/** The circuit breaker the scheduler runs batches through (one per version). */
export interface BatchBreaker {
  /** Open: requests fail fast, queued ones never run. */
  readonly rejecting: boolean;
  /** Whether a batch may start now: undefined, or the error its requests fail with (open; half-open with its probe running). */
  admit(): ModelHostError | undefined;
  /**
   * A started runtime call within the breaker's time bound; its outcome counts only through
   * `record`. A failure may come out as the runtime threw it: `translate` words it.
   */
  bound<T>(running: Promise<T>): Promise<T>;
  /** The time bound `bound` applies, ms (`breaker.timeoutMs`); undefined: none. */
  readonly timeoutMs?: number | undefined;
  /** A failure of a bounded run in modelhost's terms (a ModelHostError with the original as `cause`); default: as is. */
  translate?(error: unknown): unknown;
  /**
   * A batch's verdict once its failures are classified: a success, a failure of the model
   * (counts), or `request` (its failures were the requests' own: nothing counts).
   */
  record(verdict: 'success' | 'request' | { readonly failure: unknown }): void;
  openError(): ModelHostError;
}

/** Who a failed request is blamed on (docs/observability.md, "Who is blamed"). */
export type Blame = 'request' | 'model';

/**
 * The version a rollout judges this one against (a canary's or shadow's default, a guarded
 * new default's predecessor), while it is loaded: a request that fails here is the request's
 * only if the baseline fails on it too, and judged by nobody if the baseline cannot run it
 * (not ready, its breaker open, its queue full: `run` refuses it).
 */
export interface Baseline {
  readonly version: number;
  /**
   * Runs a request's inputs (as this version's validator prepared them) on the baseline, pinned
   * to it, through its own queue, breaker and deadline; resolves with its outputs in the
   * request's batch form (a leading batch dimension when this version has one).
   */
  run(inputs: Record<string, Tensor>, options: DispatchOptions): Promise<Record<string, Tensor>>;
  /** Whether the caller gets the baseline's answer when it answered the request (`breaker.fallback: 'previous-version'`). */
  readonly answers: boolean;
}

/** Where the scheduler reports; `wants` lets it skip building payloads nobody listens to. */
export interface SchedulerEvents {
  wants(event: keyof SchedulerEventMap): boolean;
  /**
   * Must not throw: it is called while a batch settles its requests (the host catches its listeners and logger).
   * `check`: the request was a baseline check of another version's failed request (`DispatchOptions.check`),
   * not this version's traffic: a rollout guard must not count it as this version's request.
   */
  emit<E extends keyof SchedulerEventMap>(event: E, payload: SchedulerEventMap[E], check?: boolean): void;
}

export interface BatchSchedulerConfig {
  readonly model: string;
  readonly version: number;
  /** Whether requests may share a runtime call (the model has a batch dimension and batching is on). */
  readonly batched: boolean;
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
  readonly queueMaxSize: number;
  /** Longest predicted queue wait a request is admitted with, ms; default: unbounded. */
  readonly queueMaxWaitMs?: number;
  /** Deadline for requests that do not pass `timeoutMs`. */
  readonly timeoutMs: number | undefined;
  readonly clock: Clock;
  readonly events: SchedulerEvents;
  /** Wraps every runtime call; while open, requests fail with CIRCUIT_OPEN without queueing. */
  readonly breaker?: BatchBreaker | undefined;
  /** The signature's outputs: every run's outputs are checked against them once per batch; default: no check. */
  readonly outputs?: readonly TensorSpec[] | undefined;
  /** Variable-length batching (`padding` option): pads batches, slices outputs back. */
  readonly padding?: Padding | undefined;
  /** Runs a callback once the current burst of arrivals is in; default: see `schedule`. */
  readonly defer?: (callback: () => void) => void;
  /**
   * Inputs the version is known to answer (its warmup set), to probe it before any request
   * succeeded. `synthetic`: whether made-up inputs (zeros) will do — they show the runtime still
   * answers (after a run that hung), not that a request's input is what it refused (after a
   * run that threw: a version broken on every real input answers zeros).
   */
  readonly probeInputs?: (synthetic: boolean) => Record<string, Tensor> | undefined;
  /** The version's baseline now, if a rollout has one (asked only when a failure is about to be pinned on a request). */
  readonly baseline?: () => Baseline | undefined;
}

/**
 * The dynamic batcher of one loaded version: a bounded priority queue with deadlines that
 * cuts batches for an executor.
 *
 * A batch is cut when an execution slot is free and either nothing is running (an idle
 * executor takes what arrived in the current burst: low load never waits for a timer), or
 * the queue holds `maxBatchSize` rows, or its oldest request has waited `maxDelayMs`. A
 * burst is the current tick (every request made before the microtask queue drains) when
 * runs are asynchronous, so requests arriving meanwhile queue behind the run; it is the
 * whole event-loop turn when runs block the thread (tfjs inline), so requests read from
 * sockets in one poll phase still share a batch. Only requests with the same non-batch dimensions share a batch
 * (with `padding`: the same but for their padded length, see padding.ts).
 * A failing batch is bisected so a poisoned request fails alone (one that got no answer
 * within its time bound is not: its requests fail with the timeout; nor is one past the
 * version's judging budget, judging-budget.ts: its requests fail not judged); a failure is then blamed on
 * the request when other inputs succeed on the version (its batch-mates, or a probe with
 * known-good inputs), and only failures blamed on the model count toward the breaker.
 */
export class BatchScheduler implements Dispatcher {
  private readonly queue = new TaskQueue();
  private readonly deadlines: DeadlineTimer;
  private readonly rate = new DrainRate();
  private readonly cost = new BatchCost();
  /** Admission's clock: one read per burst of arrivals. */
  private readonly arrivals: ArrivalClock;
  /** `rowsWithinWait`'s answer until the next batch is measured. */
  private waitBound: { rows: number; slots: number; maxWaitMs: number } | undefined;
  /** When a batch last ended with rows still queued (their wait for a turn counts in the drain rate). */
  private backlogSince: number | undefined = undefined;
  private readonly defer: (callback: () => void) => void;
  private readonly context: { model: string; version: number };
  /**
   * Batches that have not finished running, for `abort`: at most a few (one per execution
   * slot, plus bisection runs), so an array; a Set hashed each batch's array on add, which
   * cost ~4% of a one-caller request.
   */
  private readonly inFlight: Task[][] = [];
  /** The succeeded requests of the batch being completed, reused batch after batch. */
  private readonly summary = new CompletedRuns();
  /** Where batches of several requests are concatenated, reused run after run (executors that release their inputs). */
  private readonly buffers: BatchBuffers | undefined;
  /** The last row shape given out per output (`rowShapeOf`). */
  private readonly rowShapes = new Map<string, readonly number[]>();
  /** Tasks in batches that have not finished running. */
  private runningTasks = 0;
  private cutScheduled = false;
  private delayTimer: unknown = undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly cut = () => this.cutBatches();
  /** One abort listener per signal, shared by the requests that carry it. */
  private readonly abortWatch = new AbortWatch((tasks, signal) => {
    const error = this.error(ErrorCode.CANCELLED, 'the request was cancelled', signal.reason);
    for (const task of tasks) this.fail(task, error);
  });
  /** Inputs of a request that last succeeded: what a probe runs. */
  private knownGood: Record<string, Tensor> | undefined;
  /** Runs the breaker's time bound gave up on, until they return (each still holds an execution slot). */
  private readonly outlivedRuns = new Set<Promise<void>>();
  /** The probe in flight, shared by every failure waiting for a verdict. */
  /** The blame of an error that failed a chunk, for its sibling chunks (`dispatchSplit`). */
  private readonly blames = new WeakMap<ModelHostError, Blame>();
  /** Chunks whose failed run is being classified: a sibling's failure leaves them to their verdict (`dispatchSplit`). */
  private readonly judging = new Set<Task>();
  /** The probe in flight, shared by concurrent failures: after a throw, and after a hang (which synthetic inputs may probe). */
  private readonly probing: { threw?: Promise<boolean>; hung?: Promise<boolean> } = {};
  /** The run time judging failures (bisection, reproduction) may take: a flood of inputs the runtime refuses must not buy everyone's slots. */
  private readonly judgingBudget: JudgingBudget;
  /** Outputs the runtime computes wider than the model declares them (a tfjs graph's uint8 as int32): given back as declared. */
  private readonly narrowed: readonly TensorSpec[];

  constructor(
    private readonly executor: Executor,
    private readonly config: BatchSchedulerConfig,
  ) {
    this.context = { model: config.model, version: config.version };
    this.narrowed = (config.outputs ?? []).filter((spec) => narrowerDeclared(spec) !== undefined);
    this.arrivals = new ArrivalClock(config.clock);
    this.deadlines = new DeadlineTimer(config.clock, (task) => this.expire(task));
    this.judgingBudget = new JudgingBudget(config.clock, executor.concurrency);
    this.defer = config.defer ?? ((callback) => (this.executor.blocking ? setImmediate(callback) : process.nextTick(callback)));
    executor.onAvailable = () => this.schedule();
    this.buffers = executor.releasesInputs && config.padding === undefined ? new BatchBuffers(config.maxBatchSize, executor.concurrency) : undefined;
  }

  /** Requests accepted and not yet settled: queued plus running. */
  get pending(): number {
    return this.queue.size + this.runningTasks;
  }

  /** Rows waiting in the queue. */
  get queuedRows(): number {
    return this.queue.rows;
  }

  dispatch(prepared: PreparedInputs, options: DispatchOptions): Promise<Record<string, Tensor>> {
    const { config } = this;
    const rows = prepared.rows;
    const id = options.id;
    const check = options.check === true;
    if (config.padding !== undefined) {
      try {
        prepared = config.padding.admit(prepared);
      } catch (error) {
        return this.refuse(error as ModelHostError, rows, id, check);
      }
    }
    if (this.closed) return this.refuse(this.error(ErrorCode.SHUTTING_DOWN, 'the model version is shutting down'), rows, id, check);
    const signal = options.signal;
    if (signal?.aborted) return this.refuse(this.error(ErrorCode.CANCELLED, 'the request was cancelled before it was queued'), rows, id, check);
    if (config.breaker?.rejecting) return this.refuse(config.breaker.openError(), rows, id, check);
    const timeoutMs = options.timeoutMs ?? config.timeoutMs;
    // On some machines reading the clock costs more than the rest of admission: only when needed.
    // A deadline counts from this call: the clock is read for it (a burst's shared reading may be
    // older by any synchronous work done since, which would expire the request early); a
    // request timed only for stats takes its burst's reading.
    const now = timeoutMs !== undefined ? config.clock.now() : this.timed ? this.arrivals.now() : UNTIMED;
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : now + timeoutMs;
    const priority = options.priority ?? 0;

    if (rows > config.queueMaxSize) {
      return this.refuse(this.refusal(ErrorCode.INVALID_INPUT, `a batch of ${rows} rows exceeds queue.maxSize (${config.queueMaxSize} rows) and can never be admitted`), rows, id, check);
    }
    if (this.queue.rows + rows > config.queueMaxSize) return this.refuse(this.queueFull(rows, 0), rows, id, check);
    // The predicted wait is needed only against a bound: a deadline, or queue.maxWaitMs when
    // more rows are queued than that bound is known to allow (the common case: none is needed).
    const maxWaitMs = config.queueMaxWaitMs;
    let wait = 0;
    if (this.queue.size > 0 && (deadline !== Number.POSITIVE_INFINITY || (maxWaitMs !== undefined && this.queue.rows > this.rowsWithinWait(maxWaitMs)))) {
      wait = this.predictWaitMs(this.queue.rowsAhead(priority));
    }
    if (wait > (maxWaitMs ?? Number.POSITIVE_INFINITY)) return this.refuse(this.queueFull(rows, wait), rows, id, check);
    if (deadline !== Number.POSITIVE_INFINITY) {
      if (timeoutMs! <= 0) return this.refuse(this.refusal(ErrorCode.DEADLINE_EXCEEDED, `timeoutMs ${timeoutMs} left no time to run`), rows, id, check);
      // Its own run counts too: admitted only if it can end before its deadline.
      const end = wait + this.cost.predictMs(Math.min(rows, config.maxBatchSize));
      if (end > timeoutMs! && this.cost.trusted) {
        this.cost.noteRefusal();
        return this.refuse(this.refusal(ErrorCode.DEADLINE_EXCEEDED, `rejected at admission: the queue ahead and its own run need about ${Math.ceil(end)} ms, more than timeoutMs ${timeoutMs}`), rows, id, check);
      }
    }

    if (config.batched && rows > config.maxBatchSize) return this.dispatchSplit(prepared, priority, deadline, now, signal, id, options.version !== undefined, check, options.mirrorOf);
    const promise = new Promise<Record<string, Tensor>>(captureSettlers);
    const task = new Task(prepared.tensors, rows, prepared.shapeKey, prepared.single, priority, deadline, now, settlers.resolve!, settlers.reject!);
    if (id !== undefined) task.id = id;
    if (options.version !== undefined) task.pinned = true;
    if (check) task.check = true;
    if (options.mirrorOf !== undefined) task.mirrorOf = options.mirrorOf;
    this.queue.push(task);
    if (deadline !== Number.POSITIVE_INFINITY) this.deadlines.watch(task);
    if (signal !== undefined) this.abortWatch.watch(signal, task);
    this.schedule();
    return promise;
  }

  /** A `predictBatch` larger than `maxBatchSize`: queued as chunks, answered as one. */
  private dispatchSplit(prepared: PreparedInputs, priority: number, deadline: number, now: number, signal: AbortSignal | undefined, id: string | undefined, pinned: boolean, check: boolean, mirrorOf: MirroredRequest | undefined): Promise<Record<string, Tensor>> {
    return new Promise<Record<string, Tensor>>((resolve, reject) => {
      const split = new SplitRequest(
        prepared,
        this.config.maxBatchSize,
        resolve,
        reject,
        (siblings, error) => {
          split.failedAt = this.config.clock.now();
          // Failed with the chunk that failed the request, and blamed alike: else a failure
          // pinned on the request would count against the version once per sibling. A chunk
          // whose own failure is being judged is left to its verdict, which the report waits for.
          const blame = this.blames.get(error);
          let judging = 0;
          for (const task of siblings) {
            if (task.state === TaskState.Settled) continue;
            if (this.judging.has(task)) judging++;
            else this.fail(task, error, true, blame);
          }
          return judging;
        },
        (message) => this.outputError(message),
        (settled, outcome) => this.reportSplit(settled, outcome, id, check),
      );
      const tasks = split.chunks(priority, deadline, now);
      for (const task of tasks) {
        if (id !== undefined) task.id = id;
        task.pinned = pinned;
        task.check = check;
        task.mirrorOf = mirrorOf;
        this.queue.push(task);
        if (deadline !== Number.POSITIVE_INFINITY) this.deadlines.watch(task);
        if (signal !== undefined) this.abortWatch.watch(signal, task);
      }
      this.schedule();
    });
  }

  /**
   * A split request's one event, once it settled: its rows, its latency from arrival to the
   * last chunk settling, its queue time (arrival to its first chunk's start), for a failure
   * the code and blame its first failing chunk gave it. Its chunks report nothing themselves.
   * A request whose failed chunk the baseline answered (`breaker.fallback: 'previous-version'`)
   * resolves, yet is reported as that failure (with `answeredBy`), as an unsplit one is: else
   * the rollout guard would never see it.
   *
   * One event per request, whatever its chunks: the guard compares error rates per request, and
   * the baseline reports each of its requests once. Its verdict is the worst of its chunks': a
   * request that failed on a chunk the version is not blamed for (the caller's input, which the
   * baseline refuses too) after another chunk failed through the version's own fault (the
   * baseline answered that one) is reported as the version's failure, so the guard hears of it;
   * the caller still gets the error it can act on. A check the baseline never ran reports nothing.
   */
  private reportSplit(split: SplitRequest, outcome: SplitOutcome, id: string | undefined, check: boolean): void {
    const { events, model, version } = this.config;
    const answered = split.answeredFailure;
    let failure: { readonly error: ModelHostError } | undefined = outcome.ok ? answered : outcome;
    if (!outcome.ok && !isVersionFault(outcome.error.code, this.blames.get(outcome.error))) {
      const late = split.lateFailures.find((error) => isVersionFault(error.code, this.blames.get(error)));
      if (answered !== undefined) failure = answered;
      else if (late !== undefined) failure = { error: late };
    }
    if (failure === undefined) {
      const { enqueuedAt, startedAt, endedAt, computeMs, rows } = split;
      if (events.wants('requestsCompleted')) {
        events.emit('requestsCompleted', { model, version, requests: 1, rows, computeMs, startedAt, endedAt, runs: 1, enqueuedAt: [enqueuedAt], counts: [1], batchRows: undefined }, check);
      }
      if (events.wants('requestCompleted')) {
        events.emit('requestCompleted', { model, version, timestamp: Date.now(), id, rows, batchSize: split.batchRows, queueMs: startedAt - enqueuedAt, computeMs, totalMs: endedAt - enqueuedAt, cached: false }, check);
      }
      return;
    }
    if (!events.wants('requestFailed') || (check && split.startedAt < 0)) return;
    const { error } = failure;
    const now = split.failedAt ?? this.config.clock.now();
    const payload = this.failedEvent(error, id, split.rows, split.startedOr(now) - split.enqueuedAt, now - split.enqueuedAt);
    const blame = this.blames.get(error);
    if (blame !== undefined) payload.blame = blame;
    if (outcome.ok) payload.answeredBy = split.answeredFailure!.answeredBy;
    events.emit('requestFailed', payload, check);
  }

  /** A failed request's event, before its blame and `answeredBy` (refused, failed, or a split request's one report). */
  private failedEvent(error: ModelHostError, id: string | undefined, rows: number, queueMs: number, totalMs: number): Building<RequestFailedEvent> {
    const { model, version } = this.config;
    return { model, version, timestamp: Date.now(), id, code: error.code, message: error.message, rows, queueMs, totalMs };
  }

  /**
   * A request refused at admission: reported like any failure, never queued. A baseline check
   * refused is reported by the request it was made for (`againstBaseline`): it is no request of
   * this version's, and this version did no work for it.
   */
  private refuse(error: ModelHostError, rows: number, id?: string, check = false): Promise<never> {
    const { events } = this.config;
    if (!check && events.wants('requestFailed')) {
      // A deadline its queue and size could not meet is about the request and the load, never the
      // version's fault; an open breaker's refusal is the version's and keeps counting.
      const payload = this.failedEvent(error, id, rows, 0, 0);
      if (error.code === ErrorCode.DEADLINE_EXCEEDED) payload.blame = 'request';
      events.emit('requestFailed', payload, check);
    }
    return Promise.reject(error);
  }

  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects everything queued or running with `error`; results of running batches are discarded. */
  abort(error: Error): void {
    this.closed = true;
    const reason = error instanceof ModelHostError ? error : this.error(ErrorCode.SHUTTING_DOWN, error.message);
    for (const task of this.queue.drainAll()) this.fail(task, reason, false);
    for (const batch of this.inFlight.slice()) for (const task of batch) this.fail(task, reason, false);
    this.deadlines.clear();
    this.clearDelay();
    this.abortWatch.close();
    this.notifyIdle();
  }

  /** Stops accepting; queued and running requests still finish (`drain`). */
  close(): void {
    this.closed = true;
    this.abortWatch.close();
  }

  /** Whether requests need their arrival time: for batching delays, or for request events. Refreshed per batch. */
  private timed = true;

  private refreshTimed(): void {
    const { events } = this.config;
    // The stats recorder's feed first: with the default stats on, it answers at once.
    this.timed = events.wants('requestsCompleted') || this.executor.concurrency > 1 || events.wants('requestCompleted') || events.wants('requestFailed');
  }

  // ---- cutting batches ----

  private schedule(): void {
    if (this.cutScheduled || this.queue.size === 0) return;
    const { executor } = this;
    if (executor.running >= executor.concurrency) return; // a finishing batch calls schedule() again
    if (executor.running === 0 || this.queue.rows >= this.config.maxBatchSize) {
      this.cutScheduled = true;
      this.clearDelay();
      this.defer(this.cut);
      return;
    }
    this.armDelay();
  }

  private cutBatches(): void {
    this.cutScheduled = false;
    this.refreshTimed();
    const { executor, config, queue } = this;
    const now = config.clock.now();
    this.abortWatch.sweep(now); // signals whose requests all settled before, and carry none now
    if (this.deadlines.size > 0) this.deadlines.expire(now); // expired requests never cost a runtime call
    if (config.breaker?.rejecting) {
      // Opened while these waited: they fail fast instead of reaching a failing runtime.
      const error = config.breaker.openError();
      for (const task of queue.drainAll()) this.fail(task, error, false);
      return;
    }
    while (queue.size > 0 && executor.running < executor.concurrency) {
      if (executor.running > 0 && queue.rows < config.maxBatchSize && now - queue.peek()!.enqueuedAt < config.maxDelayMs) {
        this.armDelay();
        return;
      }
      const tasks: Task[] = [];
      const head = queue.peek()!;
      // Unbatched, a run is one request whatever its rows (a predictBatch with batching off): a
      // bound of 1 row took no request of 2, and this loop spun forever.
      let rows = queue.take(config.batched ? config.maxBatchSize : head.rows, head.shapeKey, tasks, config.padding?.batchFilter());
      if (this.deadlines.size > 0 && this.cost.samples > 0) rows = this.fitDeadlines(tasks, rows, now);
      if (rows > 0) this.run(tasks, rows, now);
    }
  }

  /**
   * Milliseconds until `rows` queued rows have run: the batches they make (full ones of
   * `maxBatchSize`, then the rest) at their fitted cost plus the measured wait for a turn
   * between batches, spread over the execution slots. The cost line knows that a full batch
   * costs less per row than a small one, which a rows-per-ms average learned from small
   * batches does not; before the first batch, the average (or 0: admit).
   */
  private predictWaitMs(rows: number): number {
    const slots = this.executor.concurrency;
    if (this.cost.samples === 0 || !this.config.batched) return this.rate.predictWaitMs(rows, slots);
    const size = this.config.maxBatchSize;
    const full = Math.floor(rows / size);
    const rest = rows - full * size;
    const gap = this.rate.gapMs;
    return (full * (this.cost.predictMs(size) + gap) + (rest > 0 ? this.cost.predictMs(rest) + gap : 0)) / slots;
  }

  /**
   * The most rows ahead a request may have and still be predicted to wait at most
   * `maxWaitMs`: `predictWaitMs` does not decrease with rows (a cost line with no negative
   * term), so a binary search finds it, once per batch instead of one prediction per request.
   */
  private rowsWithinWait(maxWaitMs: number): number {
    const slots = this.executor.concurrency;
    if (this.waitBound !== undefined && this.waitBound.slots === slots && this.waitBound.maxWaitMs === maxWaitMs) return this.waitBound.rows;
    let low = 0;
    let high = this.config.queueMaxSize;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.predictWaitMs(middle) <= maxWaitMs) low = middle;
      else high = middle - 1;
    }
    this.waitBound = { rows: low, slots, maxWaitMs };
    return low;
  }

  /**
   * Shortens a batch until its predicted end (`BatchCost`) comes before the tightest deadline
   * in it: the longest prefix in queue order that fits runs, the rest go back to the head of
   * the queue. A first task that cannot finish even alone fails now (DEADLINE_EXCEEDED), so no
   * run starts whose every request would expire before it ends. Returns the rows kept.
   */
  private fitDeadlines(tasks: Task[], rows: number, now: number): number {
    let tightest = Number.POSITIVE_INFINITY;
    for (const task of tasks) if (task.deadline < tightest) tightest = task.deadline;
    if (now + this.cost.safeMs(rows) <= tightest) return rows; // the common case: it fits
    let kept = 0;
    let keptRows = 0;
    tightest = Number.POSITIVE_INFINITY;
    for (const task of tasks) {
      const deadline = Math.min(tightest, task.deadline);
      if (now + this.cost.safeMs(keptRows + task.rows) > deadline) break;
      tightest = deadline;
      keptRows += task.rows;
      kept++;
    }
    if (kept === 0 && !this.cost.trusted) {
      // The estimate has refused too often without a run to check it: run the first task to measure again.
      kept = 1;
      keptRows = tasks[0]!.rows;
    } else if (kept === 0) {
      this.cost.noteRefusal();
      const doomed = tasks.shift()!;
      const needs = Math.ceil(this.cost.safeMs(doomed.rows));
      // Never ran: a deadline missed before execution is not the version's failure (DESIGN §8).
      this.fail(doomed, this.error(ErrorCode.DEADLINE_EXCEEDED, `the deadline would pass before a run of its ${doomed.rows} row(s) could end (about ${needs} ms; ${Math.max(0, Math.floor(doomed.deadline - now))} ms left)`), false, 'request');
    }
    if (kept < tasks.length) this.queue.putBack(tasks.splice(kept));
    return keptRows;
  }

  private armDelay(): void {
    if (this.delayTimer !== undefined) return;
    const oldest = this.queue.peek();
    if (oldest === undefined) return;
    const { clock, maxDelayMs } = this.config;
    this.delayTimer = clock.setTimeout(() => {
      this.delayTimer = undefined;
      this.cutBatches();
    }, Math.max(0, oldest.enqueuedAt + maxDelayMs - clock.now()));
  }

  private clearDelay(): void {
    if (this.delayTimer === undefined) return;
    this.config.clock.clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
  }

  // ---- running batches ----

  /**
   * Starts a batch; it settles through one reaction on the run's promise (`ran` or
   * `runFailed`), then `ended`. Not an async function: its frame and its `await` were ~0.4 KB
   * of garbage and a promise per batch, per request at one caller.
   */
  private run(tasks: Task[], rows: number, now: number): void {
    for (const task of tasks) {
      task.state = TaskState.Running;
      task.startedAt = now;
      task.batchRows = rows;
      // Admitted when nobody needed its arrival time (a listener came later): report no queue time.
      if (task.enqueuedAt === UNTIMED) task.enqueuedAt = now;
    }
    this.runningTasks += tasks.length;
    this.inFlight.push(tasks);
    // The cut read the clock a moment ago: its reading is the batch's start.
    const started = now;
    const since = this.backlogSince !== undefined && this.backlogSince < started ? this.backlogSince : started;
    this.backlogSince = undefined;
    const owned = tasks.length > 1;
    // A batch of several requests is written into a reused buffer; a lone request runs its own inputs.
    const pooled = owned ? this.buffers : undefined;
    let inputs: Record<string, Tensor> = NO_INPUTS;
    let running: Promise<Record<string, Tensor>>;
    const breaker = this.config.breaker;
    // Asked before the run starts, not through a callback: no closure per batch; and before
    // its inputs are built, so a refused batch takes no buffer.
    const refused = breaker?.admit();
    try {
      if (refused !== undefined) throw refused;
      inputs = pooled === undefined ? this.batchInputs(tasks) : pooledInputs(tasks, pooled);
      running = this.executor.run(inputs, owned);
      if (breaker !== undefined) running = this.outlived(running, breaker.bound(running));
    } catch (thrown) {
      running = Promise.reject(thrown);
    }
    const ran = inputs;
    running.then(
      (outputs) => this.ran(tasks, rows, started, since, ran, pooled, outputs),
      // This breaker's own refusal is told by identity: a run may fail with a CIRCUIT_OPEN of its own (a downstream breaker).
      (thrown: unknown) => this.runFailed(tasks, rows, started, thrown, refused !== undefined && thrown === refused),
    );
  }

  /** A batch's run returned: its outputs are checked and split, or, if they break the contract, it failed. */
  private ran(tasks: Task[], rows: number, started: number, since: number, inputs: Record<string, Tensor>, pooled: BatchBuffers | undefined, returned: Record<string, Tensor>): void {
    try {
      const outputs = this.checkOutputs(returned, rows);
      const ended = this.config.clock.now();
      const computeMs = ended - started;
      this.rate.record(rows, computeMs, ended - since);
      this.cost.record(rows, computeMs);
      this.waitBound = undefined;
      // Known-good inputs for probes: a one-request run's (not moved to a worker); else, without
      // padding, the first request's own (settling drops them; it may have expired meanwhile).
      // Never a request that expired or was cancelled meanwhile, nor a chunk of a split
      // predictBatch (its request may still fail): their rows must not run again.
      const owned = tasks.length > 1;
      const first = tasks[0]!;
      if (first.state !== TaskState.Settled && !first.chunk) this.knownGood = owned && this.config.padding === undefined ? first.inputs : owned ? this.knownGood : inputs;
      const timestamp = this.complete(tasks, outputs, computeMs, ended, rows);
      // Only after a success: a failed run the breaker's time bound gave up on may still read its inputs.
      pooled?.release(inputs, outputs);
      this.reportBatch(tasks.length, rows, computeMs, undefined, timestamp);
      this.config.breaker?.record('success');
    } catch (thrown) {
      this.runFailed(tasks, rows, started, thrown);
      return;
    }
    this.ended(tasks);
  }

  /**
   * A batch's run failed (or its outputs broke the contract): its requests fail at once
   * (`refused`: this breaker did not let it start) or after `classify`, which records the
   * breaker's verdict. A run that failed with a CIRCUIT_OPEN of its own is classified like any
   * failure: a half-open probe that ended so must still get its verdict.
   */
  private runFailed(tasks: Task[], rows: number, started: number, thrown: unknown, refused = false): void {
    let classified: Promise<void>;
    try {
      const error = refused ? thrown : (this.config.breaker?.translate?.(thrown) ?? thrown);
      const computeMs = this.config.clock.now() - started;
      this.reportBatch(tasks.length, rows, computeMs, error);
      if (refused) {
        for (const task of tasks) this.fail(task, error as ModelHostError);
        this.ended(tasks);
        return;
      }
      // Until the batch ends (`ended`), a chunk here is being judged: its request waits for the verdict.
      for (const task of tasks) if (task.chunk) this.judging.add(task);
      classified = this.classify(tasks, error);
    } catch (unexpected) {
      classified = Promise.reject(unexpected);
    }
    // Whatever classifying met (a thrown value whose properties throw when read), every request settles and the batch ends.
    void classified.catch(() => this.failUnexplained(tasks)).finally(() => this.ended(tasks));
  }

  /**
   * A failed batch that could not be classified (what the runtime threw could not even be
   * read): its requests that are still waiting fail, and the failure counts as the model's.
   * Nothing of the thrown value is read again.
   */
  private failUnexplained(tasks: readonly Task[]): void {
    const cause = new Error('the runtime failed with a value that cannot be read');
    this.config.breaker?.record({ failure: cause });
    const error = this.error(ErrorCode.INFERENCE_FAILED, 'inference failed: the runtime failed on this batch', cause);
    for (const task of tasks) this.fail(task, error, true, 'model');
  }

  /** A batch is done (its requests settled or given up on): its slot and accounting go, the next batch may be cut. */
  private ended(tasks: Task[]): void {
    if (this.judging.size > 0) for (const task of tasks) this.judging.delete(task);
    // Removed by moving the last one into its place (order does not matter; splice costs a runtime call).
    const i = this.inFlight.indexOf(tasks);
    if (i >= 0) {
      const last = this.inFlight.pop()!;
      if (i < this.inFlight.length) this.inFlight[i] = last;
    }
    this.runningTasks -= tasks.length;
    if (this.queue.size > 0) this.backlogSince = this.config.clock.now();
    this.schedule();
    if (this.pending === 0) this.notifyIdle();
  }

  /**
   * The runtime's outputs, if every one holds as many values as its shape says and (batched)
   * one row per input row, each in the dtype the model declares (`asDeclared`: a value that
   * type cannot hold is refused, never wrapped or reported wider); otherwise an error, so no
   * request gets another's rows, a truncated view or a type the model did not declare. A model
   * fault: it counts toward the breaker.
   */
  private checkOutputs(outputs: Record<string, Tensor>, rows: number): Record<string, Tensor> {
    const specs = this.config.outputs;
    if (specs !== undefined) for (const spec of specs) this.checkOutput(spec, outputs[spec.name]);
    for (const name in outputs) {
      const { data, shape } = outputs[name]!;
      if (data.length !== shapeSize(shape)) throw this.outputError(`output '${name}' holds ${data.length} values, but its shape [${shape.join(', ')}] says ${shapeSize(shape)}`);
      // A data-dependent leading size (a box count) is not rows: refuse rather than mis-split.
      if (this.config.batched && shape[0] !== rows) throw this.outputError(`output '${name}' has ${shape[0]} rows for a batch of ${rows}, so it cannot be split per request`);
    }
    return this.narrowed.length === 0 ? outputs : this.asDeclared(outputs);
  }

  /** `outputs` with each output the model declares narrower in its declared dtype (a new record: the runtime's is not changed). */
  private asDeclared(outputs: Record<string, Tensor>): Record<string, Tensor> {
    const exact = { ...outputs };
    for (const spec of this.narrowed) {
      try {
        exact[spec.name] = asDeclared(spec, outputs[spec.name]!);
      } catch (error) {
        if (!(error instanceof ConversionError)) throw error;
        throw this.outputError(`output '${spec.name}' is declared ${spec.declaredDtype} by the model, but holds a value that type cannot hold (the runtime computes it as ${spec.dtype}): ${error.message}`);
      }
    }
    return exact;
  }

  /** One declared output against its spec: present, its dtype (or the narrower one the model declares) and storage, its rank and fixed dimensions (-1 is free). */
  private checkOutput(spec: TensorSpec, output: Tensor | undefined): void {
    const name = spec.name;
    if (output === undefined || output === null || typeof output !== 'object') throw this.outputError(`the runtime returned no output '${name}' (expected ${spec.dtype} [${spec.shape.join(', ')}])`);
    const { data, shape, dtype } = output;
    if (dtype !== spec.dtype && (dtype !== spec.declaredDtype || narrowerDeclared(spec) === undefined)) throw this.outputError(`output '${name}' has dtype ${describe(dtype)}, expected ${spec.dtype}`);
    if (!isStorageOf(data, dtype)) throw this.outputError(`output '${name}' holds ${storageName(data)}, expected ${DTYPES[dtype].array?.name ?? 'an array of strings or bytes'} for dtype ${dtype}`);
    // A bool the storage holds but a bool cannot mean is refused, not read as true (or as false: 256 stored as a byte is 0).
    if (dtype === 'bool') {
      const bad = invalidBool(data as Uint8Array);
      if (bad >= 0) throw this.outputError(`output '${name}' is bool, but element ${bad} holds ${(data as Uint8Array)[bad]}; a bool is 0 or 1`);
    }
    if (!isDimensions(shape)) throw this.outputError(`output '${name}' has shape ${describe(shape)}, expected non-negative integer dimensions`);
    if (spec.rankUnknown !== true && !fitsSpec(shape, spec.shape)) throw this.outputError(`output '${name}' has shape [${shape.join(', ')}], expected [${spec.shape.join(', ')}] (-1: any size)`);
  }

  /** A run whose outputs break the contract: the model's fault, in modelhost's words (its message may reach clients). */
  private outputError(message: string): ModelHostError {
    return hostWorded(this.error(ErrorCode.INFERENCE_FAILED, message));
  }

  /**
   * Hands each task its own rows of the batch's outputs: views of the batch's buffers, no
   * copies. `at`: when the run ended, on the scheduler's clock; `batchRows`: the rows of a
   * batch cut from the queue (undefined for a part of a failed batch run again). Returns the
   * wall-clock timestamp it gave events (0 when it built none), for the batch's own event.
   */
  private complete(tasks: readonly Task[], outputs: Record<string, Tensor>, computeMs: number, at: number, batchRows?: number): number {
    const { events } = this.config;
    const report = events.wants('requestCompleted');
    const summary = events.wants('requestsCompleted') ? this.summary.reset() : undefined;
    // The wall clock only for public events: the stats recorder's summary goes by the scheduler's clock (`endedAt`).
    const timestamp = report ? Date.now() : 0;
    // Checked for a lone request too: a model that cannot be served batched should not seem to work at low load.
    const unsliceable = this.config.padding?.unsliceable(tasks, outputs);
    if (unsliceable !== undefined) throw this.outputError(unsliceable);
    if (tasks.length === 1 && !tasks[0]!.single) {
      this.succeed(tasks[0]!, outputs, computeMs, report, at, timestamp, summary);
      this.reportCompleted(summary, tasks[0]!.startedAt, at, computeMs, batchRows);
      return timestamp;
    }
    const parts: Record<string, Tensor>[] = new Array(tasks.length);
    for (let i = 0; i < tasks.length; i++) parts[i] = {};
    const rows = tasks.length === 1 ? tasks[0]!.rows : tasks.reduce((n, t) => n + t.rows, 0);
    for (const name in outputs) {
      const batch = outputs[name]!;
      // A data-dependent leading size (a box count) is not rows: refuse rather than mis-split.
      if (batch.shape[0] !== rows) throw this.outputError(`output '${name}' has ${batch.shape[0]} rows for a batch of ${rows}, so it cannot be split per request`);
      const { data, dtype } = batch;
      const rowSize = data.length / batch.shape[0]!;
      const strings = Array.isArray(data);
      // Views made with the constructor: about twice as fast as subarray().
      const View = (strings ? undefined : data.constructor) as (new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Float32Array) | undefined;
      const whole = tasks.length === 1;
      const buffer = strings || whole ? undefined : (data as Float32Array).buffer;
      const base = strings || whole ? 0 : (data as Float32Array).byteOffset;
      const bytes = strings ? 0 : (data as Float32Array).BYTES_PER_ELEMENT;
      // Every single-instance task shares one frozen row shape, kept across batches (freezing a new array per batch cost ~3% of a one-caller request).
      let rowShape: readonly number[] | undefined;
      let offset = 0;
      for (let i = 0; i < tasks.length; i++) {
        const task = tasks[i]!;
        const length = task.rows * rowSize;
        // A task that owns every row keeps the runtime's array (reading `.buffer` of a small
        // on-heap typed array makes V8 move it off the heap).
        const slice =
          length === data.length
            ? data
            : strings
              ? (data as (string | Uint8Array)[]).slice(offset, offset + length)
              : // A constant constructor for the common dtype: V8 builds the view inline (~12 against ~20 ns).
                View === Float32Array
                ? new Float32Array(buffer!, base + offset * bytes, length)
                : new View!(buffer!, base + offset * bytes, length);
        let shape: readonly number[];
        if (task.single) shape = rowShape ??= this.rowShapeOf(name, batch.shape);
        else {
          const s = batch.shape.slice();
          s[0] = task.rows;
          shape = s;
        }
        parts[i]![name] = { data: slice, shape, dtype };
        offset += length;
      }
    }
    const { padding } = this.config;
    for (let i = 0; i < tasks.length; i++) this.succeed(tasks[i]!, padding === undefined ? parts[i]! : padding.trim(tasks[i]!, parts[i]!), computeMs, report, at, timestamp, summary);
    this.reportCompleted(summary, tasks[0]!.startedAt, at, computeMs, batchRows);
    return timestamp;
  }

  /** One instance's shape of output `name` (the batch's shape without its first dimension), frozen and shared. */
  private rowShapeOf(name: string, batchShape: readonly number[]): readonly number[] {
    const kept = this.rowShapes.get(name);
    if (kept !== undefined && sameDims(kept, batchShape, 1)) return kept;
    const shape = Object.freeze(batchShape.slice(1));
    this.rowShapes.set(name, shape);
    return shape;
  }

  /**
   * The run's succeeded requests, and the batch itself when it was one, in one internal event
   * (nothing when neither): the stats recorder needs no `batchCompleted` payload of its own.
   */
  private reportCompleted(summary: CompletedRuns | undefined, startedAt: number, endedAt: number, computeMs: number, batchRows: number | undefined): void {
    if (summary === undefined || (summary.requests === 0 && batchRows === undefined)) return;
    const { model, version } = this.config;
    this.config.events.emit('requestsCompleted', {
      model,
      version,
      requests: summary.requests,
      rows: summary.rows,
      computeMs,
      startedAt,
      endedAt,
      runs: summary.runs,
      enqueuedAt: summary.enqueuedAt,
      counts: summary.counts,
      batchRows,
    });
  }

  private batchInputs(tasks: readonly Task[]): Record<string, Tensor> {
    return this.config.padding === undefined ? batchInputs(tasks) : this.config.padding.pad(tasks);
  }

  /**
   * A batch threw: bisect it so each failing request is found (`isolate`), then blame. A
   * failure is the request's when other inputs succeed on the version (its batch-mates in the
   * bisection, else a probe with known-good inputs: the last request that succeeded, or the
   * warmup set) and, for one that failed alone, it reproduces (`reproduces`: it fails alone
   * again, the same way, while known-good inputs succeed, several times over). Otherwise it is
   * the model's (a failure that did not come back on a re-run is a transient fault of the
   * model), and only then counts toward the breaker.
   *
   * A run that got no answer within its time bound (`isRunTimeout`: `instances.runTimeoutMs`,
   * `breaker.timeoutMs`) is not run again, whole or in halves: each re-run that still holds the
   * hanging input costs another whole timeout and another abandoned run (enough of those and the
   * version reports itself stalled), so one client could take the version out of service. Its
   * requests fail with the timeout and the probe alone decides whether it counts (TorchServe and
   * Triton fail a timed-out batch's requests; neither re-runs them).
   *
   * Judging runs (bisection, reproduction) come out of the version's judging budget
   * (judging-budget.ts): a failed batch is judged, in full, only while it is positive. Past it a
   * batch is not split: its requests fail together, and unless the probe fails too (the
   * model's, counted as ever) they are judged by nobody, pinned on no request and not counted.
   */
  private async classify(tasks: Task[], cause: unknown): Promise<void> {
    const failed: Failed[] = [];
    const outcome = { succeeded: false, departed: false };
    // One decision per failed batch, before its bisection: what the bisection spends does not
    // leave the culprits it found unreproduced (a slow model's lone bad input is judged whole).
    const judgeable = this.judgingBudget.available();
    if (isRunTimeout(cause)) this.giveUp(tasks, cause, failed, outcome);
    else await this.isolate(tasks, cause, judgeable ? isolationBudget(tasks.length) : { runs: 0 }, failed, outcome);
    const breaker = this.config.breaker;
    if (failed.length === 0) {
      if (!outcome.departed) {
        breaker?.record({ failure: cause }); // every request succeeded when run again: the model's transient fault
        return;
      }
      // Requests that left (cancelled, expired) before they could be run again may hold the
      // cause, and nobody is left to pin it on: it counts only if known-good inputs fail too
      // (else one client could count its poisoned requests against the model by cancelling them).
      breaker?.record(outcome.succeeded || (await this.probe(isRunTimeout(cause))) ? 'request' : { failure: cause });
      return;
    }
    // A baseline check's blame is fixed (a check never counts here, and the version it checks
    // for needs only to know that this one failed too): no probe, no reproduction for it.
    const others = failed.every((f) => f.task.check) || outcome.succeeded || (await this.probe(failed.every((f) => f.hung)));
    // A failure alone must also come back, the same way, round after round (reproduction.ts):
    // else a runtime that fails at random would have some of its failures pinned on clients.
    // A run that got no answer is not run again; an unsplit group has no one to run alone.
    // Past its budget (judging-budget.ts) a failure is judged by nobody: not pinned on the
    // request without the evidence, not counted against the version (the flood is a client's).
    const blames = new Map<Failed, Blame>();
    const unreproduced = new Set<Failed>();
    const unsplit = new Set<Failed>();
    await Promise.all(
      failed.map(async (f) => {
        let blame: Blame;
        if (f.task.check) blame = 'request';
        else if (!others) blame = 'model';
        else if (f.hung) blame = 'request';
        else if (!f.alone) {
          if (!judgeable) unsplit.add(f);
          blame = 'request';
        } else if (!judgeable) {
          unreproduced.add(f);
          blame = 'request';
        } else blame = (await this.reproduces(f.task, f.cause)) ? 'request' : 'model';
        blames.set(f, blame);
      }),
    );
    // Other inputs succeed here; under a rollout that is not enough: a version broken for a share
    // of real inputs answers the last good one. The baseline must refuse the input too. A failure
    // not reproduced is checked too: the baseline's answer shows it is the version's all the same.
    const pinned = failed.filter((f) => blames.get(f) === 'request');
    const judged = pinned.length > 0 ? await this.againstBaseline(pinned) : undefined;
    // A baseline check of another version's request never counts here: this version was not asked to serve it.
    const counts = failed.some((f) => !f.task.check && (blames.get(f) === 'model' || judged?.model.has(f.group) === true));
    breaker?.record(counts ? { failure: cause } : outcome.succeeded ? 'success' : 'request');
    for (const f of failed) {
      const { task, cause: own, alone, hung, group } = f;
      const blame = blames.get(f)!;
      const byBaseline = blame === 'request' && judged?.model.has(group) === true;
      const unjudged = blame === 'request' ? judged?.unjudged.get(group) : undefined;
      // A check bounded by the request's deadline ended with it: the request's own timer fires at
      // the same moment, whichever goes first, so the answer is the one that timer gives.
      if (unjudged === CHECK_EXPIRED && task.deadline <= this.config.clock.now()) {
        this.expire(task);
        continue;
      }
      const ownBlame: Blame = !task.check && (blame === 'model' || byBaseline) ? 'model' : 'request';
      // The runtime's own text (graph node names, paths) stays in `cause`: clients get modelhost's words.
      const what =
        isHostWorded(own)
          ? (own as Error).message.slice(this.prefix.length)
          : blame === 'model' || unsplit.has(f)
            ? 'the runtime failed on this batch'
            : 'the runtime failed on this request';
      const why = byBaseline
        ? ` (${baselineReason(judged!.version, group.length > 1)})`
        : ownBlame === 'model'
          ? ''
          : unreproduced.has(f)
            ? ` (${UNREPRODUCED_REASON})`
            : unsplit.has(f)
              ? ` (${UNSPLIT_REASON})`
              : task.check
                ? ' (not counted: a check of another version\'s failed request on its baseline)'
                : unjudged !== undefined
                  ? ` (${unjudgedReason(alone, hung, judged!.version, unjudged)})`
                  : ` (${blameReason(alone, hung)})`;
      // Pinned on its input: the runtime itself refused it alone while other inputs run, so it is
      // the client's to change, a 4xx (a 500 would invite a retry of the same input). A contract
      // check of modelhost's own (an output that breaks the signature) or a run that got no
      // answer stays INFERENCE_FAILED: neither shows the input is wrong; nor does a failure its
      // rollout's baseline could not run (it may be the version's: a retry may well succeed).
      const rejected = ownBlame === 'request' && alone && !hung && !isHostWorded(own) && unjudged === undefined && !unreproduced.has(f);
      const answer = judged?.answers.get(task);
      this.fail(
        task,
        rejected
          ? this.error(ErrorCode.INVALID_INPUT, `the runtime rejected this request's inputs (${describeTaskInputs(task)})${why}`, own)
          : this.error(ErrorCode.INFERENCE_FAILED, `inference failed: ${what}${why}`, own),
        true,
        ownBlame,
        answer === undefined ? undefined : { version: judged!.version, outputs: answer },
      );
    }
  }

  /**
   * Runs each failure about to be pinned on its request once on the version's baseline, if a
   * rollout gives it one (undefined: none). A group of failures (a request alone, or the
   * requests that failed together) is the version's when the baseline answers every request in
   * it; a request pinned to this version, or one the baseline ran and failed on too, keeps its
   * group on the requests. A request the baseline could not run (no time left, its queue full,
   * its breaker open) leaves its group unjudged: nothing counts, and the caller is not told its
   * input is wrong. Bounded: one run per failure, admitted by the baseline's own queue and
   * deadline, and cancelled as soon as its request settles (its caller left, its deadline
   * passed): nobody waits for that verdict any more. (A chunk's request failed by another chunk
   * waits for it: `SplitRequest`.) A shadow's
   * mirror is judged by the answer the baseline gave its caller (`mirrorOf`): no run at all.
   */
  private async againstBaseline(failed: readonly Failed[]): Promise<BaselineVerdict | undefined> {
    let baseline: Baseline | undefined;
    try {
      baseline = this.config.baseline?.();
    } catch {
      baseline = undefined;
    }
    if (baseline === undefined) return undefined;
    const judge = baseline;
    const now = this.config.clock.now();
    const answered = new Map<Task, Record<string, Tensor>>();
    const refused = new Set<readonly Task[]>();
    const unjudged = new Map<readonly Task[], string>();
    /** Files what the baseline made of a request: answered it, failed on it too, or did not run it (why). */
    const judged = (task: Task, group: readonly Task[], outcome: { readonly outputs: Record<string, Tensor> } | { readonly error: unknown }) => {
      if ('outputs' in outcome) {
        // A mirror's answer is nobody's: only the comparison waits for it, and it must see the shadow's failure.
        if (judge.answers && task.mirrorOf === undefined) answered.set(task, task.single ? withoutBatchDimension(outcome.outputs) : outcome.outputs);
        return;
      }
      const why = notRunBecause(outcome.error);
      if (why === undefined) refused.add(group);
      else if (!unjudged.has(group)) unjudged.set(group, why);
    };
    await Promise.all(
      failed.map(async ({ task, group }) => {
        if (task.pinned || task.state === TaskState.Settled) {
          refused.add(group);
          return;
        }
        const mirror = task.mirrorOf;
        if (mirror !== undefined && mirror.version === judge.version) {
          try {
            judged(task, group, { outputs: (await mirror.outcome) as Record<string, Tensor> });
          } catch (error) {
            judged(task, group, { error });
          }
          return;
        }
        if (task.deadline <= now) {
          if (!unjudged.has(group)) unjudged.set(group, "no time was left before the request's deadline");
          return;
        }
        const timeoutMs = task.deadline === Number.POSITIVE_INFINITY ? undefined : task.deadline - now;
        const stop = new AbortController();
        task.onSettle = () => stop.abort();
        const options: DispatchOptions = { priority: task.priority, timeoutMs, id: task.id, version: judge.version, check: true, signal: stop.signal };
        try {
          judged(task, group, { outputs: await judge.run(task.inputs, options) });
        } catch (error) {
          judged(task, group, { error });
        } finally {
          if (task.onSettle !== undefined) task.onSettle = undefined;
        }
      }),
    );
    const model = new Set<readonly Task[]>();
    for (const { group } of failed) if (!refused.has(group) && !unjudged.has(group)) model.add(group);
    for (const group of refused) unjudged.delete(group);
    return { version: judge.version, model, answers: answered, unjudged };
  }

  /** The requests of a run that got no answer, still waiting, fail as they are: not run again. */
  private giveUp(tasks: readonly Task[], cause: unknown, failed: Failed[], outcome: { departed: boolean }): void {
    for (const task of tasks) {
      if (task.state === TaskState.Settled) outcome.departed = true;
      else failed.push({ task, cause, alone: tasks.length === 1, hung: true, group: tasks });
    }
  }

  /**
   * A run of a failed batch's part, of a lone request again, or of the probe: within the
   * breaker's time bound like any run (`breaker.timeoutMs`), else one that hangs would hold its
   * batch's requests unsettled for good. While every execution slot is held by runs the bound
   * gave up on, it first waits for one of them to return (at most `breaker.timeoutMs` more), so
   * its own bound times its run, not a wait behind a hung one.
   */
  private async rerun(inputs: Record<string, Tensor>, owned: boolean): Promise<Record<string, Tensor>> {
    const breaker = this.config.breaker;
    if (breaker === undefined) return this.executor.run(inputs, owned);
    if (breaker.timeoutMs !== undefined) await this.slotFreed(breaker.timeoutMs);
    const running = this.executor.run(inputs, owned);
    return this.outlived(running, breaker.bound(running));
  }

  /** Resolves once a slot is not held by an outlived run, or after `limitMs`. */
  private async slotFreed(limitMs: number): Promise<void> {
    const { executor } = this;
    const { clock } = this.config;
    const until = clock.now() + limitMs;
    while (executor.running >= executor.concurrency && this.outlivedRuns.size > 0) {
      const left = until - clock.now();
      if (left <= 0) return;
      let timer: unknown;
      const waited = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, left)));
      await Promise.race([waited, ...this.outlivedRuns]);
      clock.clearTimeout(timer);
    }
  }

  /**
   * `bounded`, the run within the breaker's time bound. A run the bound gave up on still holds
   * its execution slot until it returns, and no batch of this scheduler ends then: the next
   * cut is asked for when it does, or queued requests would wait for a batch that never comes.
   */
  private outlived<T>(running: Promise<T>, bounded: Promise<T>): Promise<T> {
    if (bounded === running) return running;
    return bounded.catch((error: unknown) => {
      if (isRunTimeout(error)) {
        const returned: Promise<void> = running.then(noop, noop).then(() => {
          this.outlivedRuns.delete(returned);
          this.schedule();
        });
        this.outlivedRuns.add(returned);
      }
      throw error;
    });
  }


  /**
   * Whether a request that failed alone (with `cause`) fails alone again, with the same error,
   * on each of `REPRODUCTIONS` more runs, with known-good inputs succeeding after each failure
   * (reproduction.ts). Stops at the first run that says otherwise: a success of the request
   * (its result is not used), another error, a run that got no answer, or a probe that fails.
   * A request that settled meanwhile (cancelled, expired) is not run again: nobody is left to
   * answer, and its failure stays where the first round put it.
   */
  private async reproduces(task: Task, cause: unknown): Promise<boolean> {
    const first = this.translated(cause);
    const { clock } = this.config;
    for (let round = 0; round < REPRODUCTIONS; round++) {
      if (task.state === TaskState.Settled) return true;
      const started = clock.now();
      try {
        try {
          this.checkOutputs(await this.rerun(this.batchInputs([task]), false), task.rows);
          return false;
        } catch (error) {
          if (isRunTimeout(error) || !sameFailure(this.translated(error), first)) return false;
        }
        if (!(await this.probe(false))) return false;
      } finally {
        this.judgingBudget.spend(clock.now() - started);
      }
    }
    return true;
  }

  /** A failure as the breaker words it (a runtime's error and its translation compare the same). */
  private translated(error: unknown): unknown {
    try {
      return this.config.breaker?.translate?.(error) ?? error;
    } catch {
      return error;
    }
  }

  /**
   * Whether the version answers known-good inputs now; one probe at a time of each kind,
   * shared. `hung`: the failures to place all got no answer, so the question is whether the
   * runtime answers at all, and the synthetic warmup set may tell.
   */
  private probe(hung: boolean): Promise<boolean> {
    const kind = hung ? 'hung' : 'threw';
    const shared = this.probing[kind];
    if (shared !== undefined) return shared;
    let inputs = this.knownGood;
    try {
      inputs ??= this.config.probeInputs?.(hung);
    } catch {
      inputs = undefined;
    }
    if (inputs === undefined) return Promise.resolve(false);
    const known = inputs;
    const probing = Promise.resolve().then(() => this.rerun(known, false)).then(
      () => true,
      () => false,
    );
    this.probing[kind] = probing;
    void probing.then(() => {
      if (this.probing[kind] === probing) this.probing[kind] = undefined;
    });
    return probing;
  }

  /**
   * Runs the halves of a failed batch again, recursively, until each failing request failed
   * alone (or the budget, which bounds the extra runs a broken runtime can cost, ran out):
   * those go to `failed`; `outcome.succeeded` tells whether any part succeeded, and
   * `outcome.departed` whether a request left (settled) before it could be run again. A half
   * that got no answer within its time bound is not split further (`giveUp`).
   */
  private async isolate(tasks: Task[], cause: unknown, budget: { runs: number }, failed: Failed[], outcome: { succeeded: boolean; departed: boolean }): Promise<void> {
    const live = tasks.filter((t) => t.state !== TaskState.Settled);
    if (live.length < tasks.length) outcome.departed = true;
    if (live.length === 0) return;
    if (live.length === 1 || budget.runs <= 0) {
      for (const task of live) failed.push({ task, cause, alone: live.length === 1, hung: false, group: live });
      return;
    }
    const middle = live.length >> 1;
    await Promise.all(
      [live.slice(0, middle), live.slice(middle)].map(async (half) => {
        budget.runs--;
        const rows = half.reduce((n, t) => n + t.rows, 0);
        for (const task of half) task.batchRows = rows;
        const started = this.config.clock.now();
        let charged = false;
        try {
          const inputs = this.batchInputs(half);
          const outputs = this.checkOutputs(await this.rerun(inputs, half.length > 1), rows);
          // Known-good inputs for the probes that follow (as `ran` keeps them): a one-request run's
          // (not moved to a worker), else, without padding, its first request's own; never a
          // request that left meanwhile, nor a chunk's (its request may still fail).
          const first = half[0]!;
          if (first.state !== TaskState.Settled && !first.chunk) this.knownGood = half.length === 1 ? inputs : this.config.padding === undefined ? first.inputs : this.knownGood;
          const ended = this.config.clock.now();
          this.judgingBudget.spend(ended - started);
          charged = true;
          this.complete(half, outputs, ended - started, ended);
          outcome.succeeded = true;
        } catch (error) {
          if (!charged) this.judgingBudget.spend(this.config.clock.now() - started);
          if (isRunTimeout(error)) this.giveUp(half, error, failed, outcome);
          else await this.isolate(half, error, budget, failed, outcome);
        }
      }),
    );
  }

  // ---- settling ----

  /** `at` and `timestamp` are read once per batch, not per request (clocks cost on some machines). */
  private succeed(task: Task, outputs: Record<string, Tensor>, computeMs: number, report: boolean, at = 0, timestamp = 0, summary?: CompletedRuns): void {
    const split = task.split;
    if (split !== undefined) {
      // A chunk is not a request: its request reports itself once, when its last chunk settles.
      split.ran(task, computeMs, at);
      task.resolve(outputs);
      return;
    }
    if (!task.resolve(outputs)) return; // expired or cancelled while running: result discarded
    summary?.add(task.enqueuedAt, task.rows);
    if (!report) return;
    this.config.events.emit('requestCompleted', {
      model: this.config.model,
      version: this.config.version,
      timestamp,
      id: task.id,
      rows: task.rows,
      batchSize: task.batchRows,
      queueMs: task.startedAt - task.enqueuedAt,
      computeMs,
      totalMs: at - task.enqueuedAt,
      cached: false,
    }, task.check);
  }

  /**
   * Rejects a task unless it has settled; `dequeue` false when the queue already let go of it.
   * `answered`: the failure is reported as this version's, but the caller gets another
   * version's answer (the baseline's, `breaker.fallback: 'previous-version'`).
   */
  private fail(task: Task, error: ModelHostError, dequeue = true, blame?: Blame, answered?: { readonly version: number; readonly outputs: Record<string, Tensor> }): void {
    if (task.state === TaskState.Settled) return;
    const wasQueued = task.state === TaskState.Queued;
    if (wasQueued && dequeue) this.queue.forget(task);
    if (blame !== undefined && task.chunk) this.blames.set(error, blame);
    // Before the chunk resolves: its answer may settle the request, which then reports this failure.
    if (answered !== undefined) task.split?.answeredDespite(error, answered.version);
    if (answered === undefined) task.reject(error);
    else {
      // Another version's answer: marked, so it is not cached, remembered or sampled as this version's.
      markAnsweredBy(answered.outputs, answered.version);
      task.resolve(answered.outputs);
    }
    const { events } = this.config;
    // A chunk's failure is its request's, reported once by it (`reportSplit`); a baseline check
    // that never ran (cancelled, expired in the queue) is no request of this version's (`refuse`).
    if (!task.chunk && !(task.check && wasQueued) && events.wants('requestFailed')) {
      const now = this.config.clock.now();
      const payload = this.failedEvent(error, task.id, task.rows, (wasQueued ? now : task.startedAt) - task.enqueuedAt, now - task.enqueuedAt);
      if (blame !== undefined) payload.blame = blame;
      if (answered !== undefined) payload.answeredBy = answered.version;
      events.emit('requestFailed', payload, task.check);
    }
    if (this.pending === 0) this.notifyIdle();
  }

  private expire(task: Task): void {
    const running = task.state === TaskState.Running;
    // Expired in the queue: it never ran, so it says nothing about the version; a run that outlived it does.
    this.fail(task, this.error(ErrorCode.DEADLINE_EXCEEDED, `the deadline passed ${running ? 'while its batch ran' : 'while queued'}`), true, running ? undefined : 'request');
  }

  /**
   * QUEUE_FULL for a request of `rows`: the queue holds too many rows (`wait` 0), or the wait
   * predicted for it passes `queue.maxWaitMs`. `retryAfterMs` is the earliest the queue would
   * take it if nothing else arrived: the time to drain what is over the bound, at least one batch.
   */
  private queueFull(rows: number, wait: number): ModelHostError {
    const { config } = this;
    const maxWaitMs = config.queueMaxWaitMs ?? Number.POSITIVE_INFINITY;
    const overMs = wait > 0 ? wait - maxWaitMs : this.predictWaitMs(this.queue.rows + rows - config.queueMaxSize);
    const retryAfterMs = Math.max(1, Math.ceil(Math.max(overMs, this.rate.batchMs) || 100));
    if (config.events.wants('queueSaturated')) {
      config.events.emit('queueSaturated', { model: config.model, version: config.version, timestamp: Date.now(), queueDepth: this.queue.rows, maxSize: config.queueMaxSize });
    }
    return refusalError(
      ErrorCode.QUEUE_FULL,
      wait > 0
        ? `model '${config.model}' v${config.version}: the queue is full (the rows ahead need about ${Math.ceil(wait)} ms, more than queue.maxWaitMs ${maxWaitMs}); retry in about ${retryAfterMs} ms`
        : `model '${config.model}' v${config.version}: the queue is full (${this.queue.rows} of ${config.queueMaxSize} rows); retry in about ${retryAfterMs} ms`,
      { ...this.context, retryAfterMs },
    );
  }

  /** `timestamp`: the wall clock already read for this batch's request events (0: none was). */
  private reportBatch(requests: number, rows: number, computeMs: number, error: unknown, timestamp = 0): void {
    const { events } = this.config;
    if (error === undefined) {
      if (events.wants('batchCompleted')) {
        events.emit('batchCompleted', { model: this.config.model, version: this.config.version, timestamp: timestamp || Date.now(), batchSize: rows, requests, computeMs, queueDepth: this.queue.rows });
      }
    } else if (events.wants('batchFailed')) {
      const code = error instanceof ModelHostError ? error.code : ErrorCode.INFERENCE_FAILED;
      // The runtime's own text (graph node names, absolute paths) travels as `cause`, for logs only.
      const own = error instanceof ModelHostError && (code !== ErrorCode.INFERENCE_FAILED || isHostWorded(error));
      const message = own ? error.message : `${this.prefix}inference failed: the runtime failed on this batch`;
      events.emit('batchFailed', { model: this.config.model, version: this.config.version, timestamp: Date.now(), batchSize: rows, requests, computeMs, code, message, cause: error });
    }
  }

  private notifyIdle(): void {
    // Asked per batch: `splice(0)` made an empty array every time.
    if (this.pending !== 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** An admission refusal: the same error, without a stack trace (cheap under overload). */
  private refusal(code: ErrorCode, message: string): ModelHostError {
    return refusalError(code, `model '${this.config.model}' v${this.config.version}: ${message}`, this.context);
  }

  private error(code: ErrorCode, message: string, cause?: unknown): ModelHostError {
    return new ModelHostError(code, `${this.prefix}${message}`, { ...this.context, cause });
  }

  private get prefix(): string {
    return `model '${this.config.model}' v${this.config.version}: `;
  }
}

/** A received value for a message: short, never the value's contents. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 32));
  if (Array.isArray(value)) return value.length > 8 ? `an array of ${value.length}` : `[${value.map((v) => (typeof v === 'number' ? v : typeof v)).join(', ')}]`;
  return value === null ? 'null' : typeof value;
}

function storageName(data: unknown): string {
  if (Array.isArray(data)) return 'an array';
  return data === null || data === undefined ? String(data) : typeof data === 'object' ? (data.constructor?.name ?? 'an object') : typeof data;
}

/**
 * An event payload while it is built: written as one literal (its fields in one order, so
 * every payload shares one hidden class; spreading a context object into it cost ~3 µs per
 * event), then the optional fields.
 */
type Building<T> = { -readonly [K in keyof T]: T[K] };

/** Inputs of a batch whose inputs could not be built (its run fails at once). */
const NO_INPUTS: Record<string, Tensor> = Object.freeze({}) as Record<string, Tensor>;

/** `enqueuedAt` of a request admitted without reading the clock. */
const UNTIMED = -1;

/** One tensor per input: the tasks' rows, concatenated in task order. */
function batchInputs(tasks: readonly Task[]): Record<string, Tensor> {
  if (tasks.length === 1) return tasks[0]!.inputs;
  const inputs: Record<string, Tensor> = {};
  const parts: Tensor[] = new Array(tasks.length);
  for (const name in tasks[0]!.inputs) {
    for (let i = 0; i < tasks.length; i++) parts[i] = tasks[i]!.inputs[name]!;
    inputs[name] = concatRows(parts);
  }
  return inputs;
}

/**
 * Whether `shape` is an array of non-negative safe integers. Loops, not `every` with an arrow:
 * this runs per output per batch (per request at one caller), and each arrow was a closure.
 */
function isDimensions(shape: unknown): shape is readonly number[] {
  if (!Array.isArray(shape)) return false;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (!Number.isSafeInteger(d) || (d as number) < 0) return false;
  }
  return true;
}

/** Whether `shape` has the rank of `spec` and its fixed dimensions (-1 is free). */
function fitsSpec(shape: readonly number[], spec: readonly number[]): boolean {
  if (shape.length !== spec.length) return false;
  for (let i = 0; i < spec.length; i++) if (spec[i] !== -1 && spec[i] !== shape[i]) return false;
  return true;
}

/** `batchInputs` of several tasks, concatenated into `buffers`. */
function pooledInputs(tasks: readonly Task[], buffers: BatchBuffers): Record<string, Tensor> {
  const inputs: Record<string, Tensor> = {};
  const parts: Tensor[] = new Array(tasks.length);
  for (const name in tasks[0]!.inputs) {
    for (let i = 0; i < tasks.length; i++) parts[i] = tasks[i]!.inputs[name]!;
    inputs[name] = buffers.concat(name, parts);
  }
  return inputs;
}

/** Whether `dims` equals `shape` from index `from` on. */
function sameDims(dims: readonly number[], shape: readonly number[], from: number): boolean {
  if (dims.length !== shape.length - from) return false;
  for (let i = 0; i < dims.length; i++) if (dims[i] !== shape[i + from]) return false;
  return true;
}

/** A request a failed batch could not clear: `alone` when it failed on its own, `hung` when its run got no answer. */
interface Failed {
  readonly task: Task;
  readonly cause: unknown;
  readonly alone: boolean;
  readonly hung: boolean;
  /** The requests it failed together with (itself when `alone`): a verdict against the baseline is per group. */
  readonly group: readonly Task[];
}

/** What the baseline showed of the failures about to be pinned on their requests (`againstBaseline`). */
interface BaselineVerdict {
  readonly version: number;
  /** Groups of failures whose every request the baseline answered: the version's fault. */
  readonly model: ReadonlySet<readonly Task[]>;
  /** The baseline's answers the callers get (`Baseline.answers`), in each request's own form. */
  readonly answers: ReadonlyMap<Task, Record<string, Tensor>>;
  /** Groups the baseline did not fail on but could not run either, with why (`notRunBecause`): judged by neither. */
  readonly unjudged: ReadonlyMap<readonly Task[], string>;
}

/** Why a baseline check bounded by its request's deadline gave no verdict: that deadline passed. */
const CHECK_EXPIRED = "the request's deadline passed first";

/**
 * Why a baseline check gave no verdict on its inputs (undefined: it did, the baseline failed
 * on them too): it was refused or dropped before the baseline could run them, or its time ran out.
 */
function notRunBecause(error: unknown): string | undefined {
  const code = error instanceof ModelHostError ? error.code : undefined;
  switch (code) {
    case ErrorCode.INVALID_INPUT: // its signature, or its runtime on these inputs alone
    case ErrorCode.INFERENCE_FAILED:
      return undefined;
    case undefined:
      return 'it could not take them';
    case ErrorCode.QUEUE_FULL:
      return 'its queue was full';
    case ErrorCode.DEADLINE_EXCEEDED:
      return CHECK_EXPIRED;
    case ErrorCode.CIRCUIT_OPEN:
      return 'its circuit breaker was open';
    case ErrorCode.MODEL_NOT_READY:
      return 'it was not ready';
    case ErrorCode.SHUTTING_DOWN:
      return 'it was shutting down';
    case ErrorCode.CANCELLED:
      return 'the request was cancelled';
    default:
      return `it refused them (${code})`;
  }
}

/** What a refusal names: the request's inputs, and for a chunk of a split `predictBatch` which of its rows ran. */
function describeTaskInputs(task: Task): string {
  const whole = task.chunkOf;
  if (whole === undefined) return describeInputs(task.inputs);
  const last = whole.firstRow + task.rows - 1;
  return `${describeInputs(whole.inputs)}; rows ${whole.firstRow} to ${last} of them (from 0), run as one chunk: maxBatchSize ${whole.maxBatchSize}`;
}

/** A request's inputs as a refusal names them: `x: float32 [1, 3, 40, 40]`, the first four. */
function describeInputs(inputs: Readonly<Record<string, Tensor>>): string {
  const names = Object.keys(inputs);
  const shown = names.slice(0, 4).map((name) => `${name}: ${inputs[name]!.dtype} [${inputs[name]!.shape.join(', ')}]`);
  return names.length > 4 ? `${shown.join(', ')} and ${names.length - 4} more` : shown.join(', ');
}

/** Why a failure is not the model's, as the end of its message says (docs/observability.md, "Who is blamed"). */
function blameReason(alone: boolean, hung: boolean): string {
  return `blamed on the ${hung && !alone ? 'requests of its batch' : 'request'}: ${blameGrounds(alone, hung)}`;
}

/** What points at the request (or its batch) rather than the version. */
function blameGrounds(alone: boolean, hung: boolean): string {
  if (hung && alone) return 'it got no answer while other inputs succeed on this version; a run that got none is not run again';
  if (hung) return 'it got no answer while other inputs succeed on this version; a run that got none is not run again, so which request hung it is not known';
  if (alone) return `it fails again on its own, with the same error, ${REPRODUCTIONS} more times, and other inputs succeed on this version after each failure`;
  return 'its group of requests was not split further, the isolation budget ran out; other inputs succeed on this version';
}

/** Why a failure was not run again to judge it: the judging budget (judging-budget.ts) was spent. */
const OVER_BUDGET = `running failures again may take ${JUDGING_SHARE * 100}% of the version's execution time, and other failures have taken it`;

/** Why a failure alone that other inputs survive is counted against neither the version nor the request: it was not run again. */
const UNREPRODUCED_REASON = `not judged: it failed on its own and other inputs succeed on this version, but it was not run again to confirm it: ${OVER_BUDGET}`;

/** Why the requests of a failed batch that other inputs survive are counted against neither the version nor a request: it was not split. */
const UNSPLIT_REASON = `not judged: its batch failed and other inputs succeed on this version, but the batch was not split to find the request at fault: ${OVER_BUDGET}`;

/** Why a failure is counted against neither the version nor the request: its baseline could not run the inputs (`why`). */
function unjudgedReason(alone: boolean, hung: boolean, baseline: number, why: string): string {
  return `not judged: ${blameGrounds(alone, hung)}, but v${baseline}, the rollout's baseline, could not run the same inputs: ${why}`;
}

/** Why a failure that other inputs survive is still the version's: its baseline answers the same input. */
function baselineReason(baseline: number, batch: boolean): string {
  return batch
    ? `the version's fault, not the requests': v${baseline}, the rollout's baseline, answers each request of its batch`
    : `the version's fault, not the request's: v${baseline}, the rollout's baseline, answers the same inputs`;
}

/** A batch-form answer (one row) as a single instance's: every output without its leading dimension. */
function withoutBatchDimension(outputs: Record<string, Tensor>): Record<string, Tensor> {
  const single: Record<string, Tensor> = {};
  for (const name in outputs) {
    const { data, shape, dtype } = outputs[name]!;
    single[name] = { data, shape: shape.slice(1), dtype } as Tensor;
  }
  return single;
}

function noop(): void {}

/** Extra runs a failed batch may cost to find its culprits: enough for two of them. */
function isolationBudget(tasks: number): { runs: number } {
  return { runs: 4 * Math.ceil(Math.log2(Math.max(2, tasks))) };
}
