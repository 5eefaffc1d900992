import { ErrorCode, ModelHostError } from '../errors/index.js';
import { hostWorded } from '../errors/error-detail.js';
import { runTimedOut } from '../errors/run-timeout.js';
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
  /**
   * Whether a run computes on the calling thread before it returns (tfjs inline): then
   * nothing can arrive while it runs, and the scheduler gathers a batch over a whole
   * event-loop turn instead of the current tick.
   */
  readonly blocking: boolean;
  /** Batches running now. */
  readonly running: number;
  /**
   * Whether a run is done with its inputs once it settles (it runs them on this thread and
   * moves nothing elsewhere): the scheduler may then write the next batch into their buffers.
   */
  readonly releasesInputs: boolean;
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
  /**
   * Why the executor cannot answer now although its version is loaded (its runs stopped
   * returning), or undefined: readiness and routing treat the version as not ready meanwhile.
   */
  readonly stalled?: string | undefined;
}

/** How an inline executor bounds a run that never returns. */
export interface InlineExecutorOptions {
  /**
   * A watched run without an answer after this long (ms; checked every quarter of it, so within
   * 1.25×) is abandoned: its batch fails, its slot serves the next batch. Default: none (no run
   * is watched, `runWatched` included).
   */
  readonly runTimeoutMs?: number | undefined;
  /**
   * Watch every run (`run`), not only those of `runWatched` (warmup). A run watched costs a
   * promise and a reaction more (~2–3% of a one-caller request on a small model). Default false.
   */
  readonly watchRuns?: boolean;
  /** Who the abandoned run's error names. */
  readonly context?: { readonly model: string; readonly version: number };
}

/**
 * Abandoned runs that have not returned yet, at most: past it no run is abandoned (each one
 * still holds what the runtime holds for it) and the executor reports itself `stalled`.
 */
export const MAX_ABANDONED_RUNS = 8;

/** The settle functions `new Promise(captureSettlers)` left (taken at once): no closure per promise. */
let capturedResolve: ((outputs: Record<string, Tensor>) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function captureSettlers(resolve: (outputs: Record<string, Tensor>) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A run in flight under the watchdog. Its caller's promise is settled by whichever comes first:
 * the run's own end (`fulfilled`/`rejected`, attached once to the runtime's promise) or the
 * watchdog (`abandon`). One object and one reaction per run: the common run pays no more.
 */
class WatchedRun {
  abandoned = false;

  constructor(
    private readonly executor: InlineExecutor,
    readonly startedTick: number,
    /** When it started (performance.now()) if this run is timed to learn `blocking`, else undefined. */
    readonly started: number | undefined,
    readonly returned: number,
    private readonly resolve: (outputs: Record<string, Tensor>) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  readonly fulfilled = (outputs: Record<string, Tensor>): void => {
    if (!this.abandoned) this.resolve(outputs);
    this.executor.ended(this, true);
  };

  readonly rejected = (error: Error): void => {
    if (!this.abandoned) this.reject(error);
    this.executor.ended(this, false);
  };

  abandon(error: Error): void {
    this.abandoned = true;
    this.reject(error);
  }
}

/** Watchdog ticks per `runTimeoutMs`: a run is abandoned between 1× and 1.25× of it, with no clock read per run. */
const TICKS_PER_TIMEOUT = 4;

/** Runs timed to learn `blocking`: every one of the first SAMPLE_FIRST, then one in SAMPLE_EVERY. */
const SAMPLE_FIRST = 8;
const SAMPLE_EVERY = 8;

/**
 * Runs batches on the calling thread, at most `concurrency` at once; owns the session. The
 * scheduler hands it a batch only when a slot is free, so a run starts at once, with no
 * queue's promise hops in between (at one caller every request is a batch, and each hop
 * shows); only the extra runs of a failed batch's bisection may have to wait for a slot.
 */
export class InlineExecutor implements Executor {
  private active = 0;
  /** Runs waiting for a slot, oldest first. */
  private readonly waiting: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Share of a run spent before `session.run` returned (an average over sampled runs). */
  private syncShare = 1;
  /** Runs started; the first few and then one in `SAMPLE_EVERY` are timed (three clock reads each). */
  private runs = 0;
  /** Runs in flight, watched when `runTimeoutMs` is set (abandoned ones until they return). */
  private readonly inFlight = new Set<WatchedRun>();
  private abandonedRuns = 0;
  private tick = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** close() ran while abandoned runs were still out: the session is disposed when the last returns. */
  private disposeWhenReturned: (() => void) | undefined;
  private readonly runTimeoutMs: number | undefined;
  private readonly watchRuns: boolean;
  private readonly context: { readonly model: string; readonly version: number } | undefined;

  constructor(
    private readonly session: Session,
    readonly concurrency: number,
    options: InlineExecutorOptions = {},
  ) {
    this.runTimeoutMs = options.runTimeoutMs;
    this.watchRuns = options.watchRuns === true && options.runTimeoutMs !== undefined;
    this.context = options.context;
  }

  get stalled(): string | undefined {
    if (this.abandonedRuns < MAX_ABANDONED_RUNS) return undefined;
    return `${this.abandonedRuns} runs got no answer within ${this.runTimeoutMs} ms (instances.runTimeoutMs) and have not returned`;
  }

  get running(): number {
    return this.active;
  }

  get blocking(): boolean {
    return this.syncShare > 0.5;
  }

  /** The session runs on this thread and must not keep its inputs after settling (the Session SPI). */
  readonly releasesInputs = true;

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.take(inputs, this.watchRuns);
  }

  /**
   * A run bounded by `runTimeoutMs` whether or not every run is (`watchRuns`): a warmup or
   * measuring run at load, so one that never returns fails the load instead of hanging it.
   */
  runWatched(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.take(inputs, this.runTimeoutMs !== undefined);
  }

  private take(inputs: Record<string, Tensor>, watch: boolean): Promise<Record<string, Tensor>> {
    if (this.active < this.concurrency) {
      this.active++;
      return this.start(inputs, watch);
    }
    // The slot a finishing run hands over (`release`): `active` already counts it.
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.start(inputs, watch));
  }

  /** Runs in a slot already counted in `active`. */
  private start(inputs: Record<string, Tensor>, watch: boolean): Promise<Record<string, Tensor>> {
    // Learn whether this runtime computes synchronously (tfjs) or defers (onnxruntime-node):
    // a property of the runtime, so a sample of runs tells it.
    const timed = this.runs < SAMPLE_FIRST || this.runs % SAMPLE_EVERY === 0;
    this.runs++;
    const started = timed ? performance.now() : 0;
    let pending: Promise<Record<string, Tensor>>;
    try {
      pending = Promise.resolve(this.session.run(inputs));
    } catch (error) {
      pending = Promise.reject(error as Error);
    }
    if (watch) return this.watched(pending, timed ? started : undefined);
    if (timed) {
      const returned = performance.now();
      pending.then(() => {
        this.learn(started, returned);
        this.release();
      }, this.released);
    } else pending.then(this.released, this.released); // shared handlers: no closures per run
    return pending;
  }

  private readonly released = (): void => this.release();

  /**
   * `pending`, unless the watchdog abandons it first: then the caller gets INFERENCE_FAILED and
   * the slot goes to the next batch at once; the run's own end, whenever it comes, only counts
   * it back (and disposes the session if close() is waiting for it).
   */
  private watched(pending: Promise<Record<string, Tensor>>, started: number | undefined): Promise<Record<string, Tensor>> {
    const answer = new Promise<Record<string, Tensor>>(captureSettlers);
    const run = new WatchedRun(this, this.tick, started, started === undefined ? 0 : performance.now(), capturedResolve!, capturedReject!);
    this.inFlight.add(run);
    this.watchdog ??= this.startWatchdog();
    pending.then(run.fulfilled, run.rejected);
    return answer;
  }

  /** A watched run returned (`ok`: with outputs). Internal: called by {@link WatchedRun}. */
  ended(run: WatchedRun, ok: boolean): void {
    this.inFlight.delete(run);
    if (!run.abandoned) {
      if (ok && run.started !== undefined) this.learn(run.started, run.returned);
      return this.release();
    }
    this.abandonedRuns--;
    if (this.abandonedRuns === 0 && this.disposeWhenReturned !== undefined) this.disposeWhenReturned();
  }

  private startWatchdog(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.abandonOverdue(), Math.max(1, this.runTimeoutMs! / TICKS_PER_TIMEOUT));
    timer.unref();
    return timer;
  }

  private abandonOverdue(): void {
    this.tick++;
    for (const run of this.inFlight) {
      if (run.abandoned || this.tick - run.startedTick <= TICKS_PER_TIMEOUT) continue;
      if (this.abandonedRuns >= MAX_ABANDONED_RUNS) return; // stalled: the run keeps its slot
      this.abandonedRuns++;
      const reason = `no answer within ${this.runTimeoutMs} ms (instances.runTimeoutMs): the run was abandoned`;
      const context = this.context;
      run.abandon(runTimedOut(hostWorded(new ModelHostError(ErrorCode.INFERENCE_FAILED, context === undefined ? reason : `model '${context.model}' v${context.version}: ${reason}`, context ?? {}))));
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) return next(); // the slot passes to the oldest waiting run
    this.active--;
    // Per run: `splice(0)` of no waiters made an empty array every time.
    if (this.active === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private learn(started: number, returned: number): void {
    const total = performance.now() - started;
    if (total <= 0) return;
    this.syncShare = this.syncShare * 0.7 + ((returned - started) / total) * 0.3;
  }

  onIdle(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.onIdle();
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    if (this.abandonedRuns > 0) {
      // A runtime may not survive disposing a session a run is still inside: the last run to return does it.
      this.disposeWhenReturned = () => void Promise.resolve().then(() => this.session.dispose()).catch(noop);
      return;
    }
    await this.session.dispose();
  }
}

function noop(): void {}
