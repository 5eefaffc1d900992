import { ErrorCode, ModelHostError } from '../errors/index.js';
import { verifyIntegrity } from '../repository/index.js';
import { BUILTIN_RUNTIMES, ModelFiles, type ModelSource, type Runtime, type RuntimeRegistry } from '../runtime/index.js';
import type { RuntimeRef } from '../runtime/worker/messages.js';
import { WorkerInstance } from '../runtime/worker/worker-instance.js';
import { checkMonitoringFits } from '../monitoring/monitoring-fit.js';
import { VersionBreaker, type BreakerTransition } from '../breaker/version-breaker.js';
import { BatchScheduler, type Baseline, type SchedulerEvents } from '../scheduler/batch-scheduler.js';
import type { Clock } from '../scheduler/clock.js';
import { InlineExecutor, type Executor } from '../scheduler/executor.js';
import { DEFAULT_MAX_BATCH_SIZE } from '../scheduler/scheduler-options.js';
import { ThreadExecutor } from '../scheduler/thread-executor.js';
import type { Tensor } from '../tensor/index.js';
import { LoadPhaseTimer, type LoadPhase, type LoadPhaseDurations } from './load-phases.js';
import type { LoadedVersion } from './loaded-version.js';
import type { ResolvedModelOptions } from './model-options.js';
import { expandWarmupInputs, isFullyShaped, syntheticInputs, withRows } from './warmup.js';

export interface VersionLoaderDeps {
  readonly runtimes: RuntimeRegistry;
  /** Refuse directory versions without a SHA256SUMS (`repository.requireChecksums`). */
  readonly requireChecksums?: boolean;
  readonly clock: Clock;
  /** Where a version's scheduler reports. */
  readonly events: (model: string) => SchedulerEvents;
  readonly warn: (message: string, model: string, version: number, cause?: unknown) => void;
  readonly fail: (error: Error, model: string, version: number) => void;
  /** A version's breaker changed state. */
  readonly breakerChanged: (entry: LoadedVersion, transition: BreakerTransition) => void;
  /** The version a failure on `entry` is judged against while a rollout watches it; default: none. */
  readonly baseline?: (entry: LoadedVersion) => Baseline | undefined;
  /** A load entered a phase (`elapsedMs` since it started): for progress displays. */
  readonly phaseStarted?: (entry: LoadedVersion, phase: LoadPhase, elapsedMs: number) => void;
}

type Run = (inputs: Record<string, Tensor>) => Promise<unknown>;

/**
 * Takes a version from `loading` to `ready`: integrity, runtime, session(s) inline or on
 * worker-thread instances, warmup on every instance, then the scheduler in front.
 */
export class VersionLoader {
  constructor(private readonly deps: VersionLoaderDeps) {}

  async load(entry: LoadedVersion, given: ModelSource, verify: boolean, options: ResolvedModelOptions): Promise<{ runtime: string; warmupMs: number; phases: LoadPhaseDurations }> {
    const context = { model: entry.model, version: entry.version };
    const phases = new LoadPhaseTimer((phase, elapsedMs) => this.deps.phaseStarted?.(entry, phase, elapsedMs));
    let source = given;
    if (verify && source.kind === 'directory') {
      phases.start('verifying');
      const { checksums } = await verifyIntegrity(source.path, { ...context, root: source.root, required: this.deps.requireChecksums === true });
      // The runtime's reads are checked against the same sums: a file rewritten since is refused.
      if (checksums !== undefined) source = { ...source, checksums };
    }
    phases.start('reading');
    const runtime = await this.pickRuntime(source, options, context);
    let kind = this.instanceKind(runtime, options, context);
    const settings = options.settings[runtime.name] ?? {};
    let executor: Executor | undefined;
    // Set when the warmup already ran: `auto` warms a version up inline to measure it.
    let warmupMs: number | undefined;
    try {
      let runs: Run[];
      phases.start('compiling');
      if (kind !== 'thread') {
        const session = await runtime.load(source, { ...context, settings });
        const inline = new InlineExecutor(session, options.scheduler.concurrency, { runTimeoutMs: options.scheduler.runTimeoutMs, watchRuns: options.scheduler.watchInlineRuns, context });
        executor = inline;
        entry.attach(runtime.name, session.signature, { kind: 'inline', count: 1 }, options.padding);
        // Through the executor, so instances.runTimeoutMs bounds a warmup or measuring run that never returns.
        const run: Run = (inputs) => inline.runWatched(inputs);
        runs = [run];
        if (kind === 'auto') {
          phases.start('measuring');
          const measureStarted = performance.now();
          const measuredRunMs = await this.measureInlineRun(entry, options, { run });
          kind = measuredRunMs !== undefined && measuredRunMs >= AUTO_THREAD_THRESHOLD_MS ? 'thread' : 'inline';
          if (kind === 'inline') {
            if (measuredRunMs !== undefined) {
              entry.attach(runtime.name, session.signature, { kind, count: 1, measuredRunMs }, options.padding);
              // The measurement warmed the base set up; configured batch sizes still run.
              if (options.warmup.batchSizes !== undefined) await this.warmUp(entry, options, runs);
              warmupMs = performance.now() - measureStarted;
            }
          } else {
            // Too slow for the event loop: the inline session only served to measure.
            executor = undefined;
            await inline.close();
            phases.start('compiling');
            const threads = await this.startThreads(entry, runtime, source, settings, options, measuredRunMs);
            executor = threads;
            runs = threads.runners();
          }
        }
      } else {
        const threads = await this.startThreads(entry, runtime, source, settings, options);
        executor = threads;
        runs = threads.runners();
      }
      checkMonitoringFits(options.monitoring, entry.signature!, entry.validator!, context);
      assertStillLoading(entry);
      entry.transition('warming');
      if (warmupMs === undefined) {
        phases.start('warming');
        const warmupStarted = performance.now();
        await this.warmUp(entry, options, runs);
        warmupMs = performance.now() - warmupStarted;
      }
      const durations = phases.finish();
      assertStillLoading(entry);
      entry.executor = executor;
      entry.dispatcher = this.scheduler(entry, executor, options);
      return { runtime: runtime.name, warmupMs, phases: durations };
    } catch (error) {
      await executor?.close().catch(() => undefined);
      entry.breaker?.shutdown();
      throw error;
    }
  }

  private async startThreads(entry: LoadedVersion, runtime: Runtime, source: ModelSource, settings: Readonly<Record<string, unknown>>, options: ResolvedModelOptions, measuredRunMs?: number) {
    const { model, version } = entry;
    const { instanceCount, runTimeoutMs } = options.scheduler;
    const setup = { runtime: runtimeRef(runtime)!, source, model, version, settings };
    let executor: ThreadExecutor | undefined;
    const start = () =>
      WorkerInstance.start(setup, {
        runTimeoutMs,
        onLost: (instance, reason) => {
          this.deps.warn(`model '${model}' v${version}: a worker instance was lost (${reason}); starting a replacement`, model, version);
          executor?.lost(instance);
        },
      });
    const started = await Promise.allSettled(Array.from({ length: instanceCount }, start));
    const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failure = started.find((s) => s.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(instances.map((i) => i.dispose()));
      throw (failure as PromiseRejectedResult).reason;
    }
    entry.attach(runtime.name, instances[0]!.signature, { kind: 'thread', count: instanceCount, ...(measuredRunMs === undefined ? {} : { measuredRunMs }) }, options.padding);
    executor = new ThreadExecutor(instances, {
      // A replacement is warmed up like the originals before it takes batches.
      replace: async () => {
        const instance = await start();
        try {
          await this.warmUp(entry, options, [(inputs) => instance.run(inputs, false)]);
        } catch (error) {
          await instance.dispose();
          throw error;
        }
        return instance;
      },
      onReplaceFailed: (error, attempt) => {
        const reason = (error as Error)?.message ?? String(error);
        this.deps.fail(new ModelHostError(ErrorCode.LOAD_FAILED, `model '${model}' v${version}: replacing a worker instance failed (attempt ${attempt}): ${reason}`, { model, version, cause: error }), model, version);
      },
    });
    return Object.assign(executor, { runners: () => instances.map((i): Run => (inputs) => i.run(inputs, false)) });
  }

  private scheduler(entry: LoadedVersion, executor: Executor, options: ResolvedModelOptions): BatchScheduler {
    const scheduler = options.scheduler;
    const batched = entry.batched && scheduler.batching;
    const context = { model: entry.model, version: entry.version };
    entry.breaker = options.breaker.enabled ? new VersionBreaker(options.breaker, context, (transition) => this.deps.breakerChanged(entry, transition)) : undefined;
    entry.maxBatchSize = this.maxBatchSizeOf(entry, options);
    entry.queueMaxSize = scheduler.queueMaxSize;
    return new BatchScheduler(executor, {
      model: entry.model,
      version: entry.version,
      batched,
      maxBatchSize: entry.maxBatchSize,
      maxDelayMs: scheduler.maxDelayMs,
      queueMaxSize: scheduler.queueMaxSize,
      queueMaxWaitMs: scheduler.queueMaxWaitMs,
      timeoutMs: scheduler.timeoutMs,
      clock: this.deps.clock,
      events: this.deps.events(entry.model),
      breaker: entry.breaker,
      outputs: entry.signature!.outputs,
      padding: entry.padding,
      // Only inputs someone chose prove that a request's input is what the runtime refused:
      // synthetic zeros with every variable dimension 1 pass on a version broken for every real
      // input, whose failures would all be pinned on the requests (400, never the breaker nor
      // the rollout guard). They do show that a runtime a request hung still answers.
      baseline: this.deps.baseline === undefined ? undefined : () => this.deps.baseline!(entry),
      probeInputs: (synthetic) => (options.warmup.runs === 0 || (options.warmup.inputs === undefined && !synthetic) ? undefined : this.warmupInputs(entry, options)),
    });
  }

  /** `auto` (unless told otherwise) where the runtime can run in a worker; inline otherwise. */
  private instanceKind(runtime: Runtime, options: ResolvedModelOptions, context: { model: string; version: number }): 'auto' | 'thread' | 'inline' {
    const requested = options.scheduler.instanceKind;
    const threadable = runtimeRef(runtime) !== undefined;
    if (requested === 'thread' && !threadable) {
      throw new ModelHostError(
        ErrorCode.INVALID_CONFIG,
        `model '${context.model}': instances.kind is 'thread', but runtime '${runtime.name}' declares no worker module (Runtime.worker), so it can only run inline`,
        context,
      );
    }
    if (!threadable) return 'inline';
    // Without warmup there is nothing safe to measure with: stay inline.
    if ((requested ?? DEFAULT_INSTANCE_KIND) === 'auto' && options.warmup.runs === 0) return 'inline';
    return requested ?? DEFAULT_INSTANCE_KIND;
  }

  /**
   * How long one warm run of the warmup batch takes on the calling thread, ms: the warmup
   * (JIT, kernels, allocations) first, then timed runs. Undefined when the model refuses the
   * warmup inputs: the version stays inline, and the warmup proper reports them.
   */
  private measureInlineRun(entry: LoadedVersion, options: ResolvedModelOptions, session: { run: Run }): Promise<number | undefined> {
    // One measurement at a time in the process: versions loading side by side share the
    // calling thread, and each would time the others' runs as its own.
    // A measurement that never ends (a runtime that hangs) holds the others up for at most
    // MEASURE_WAIT_MS, not forever.
    const measured = Promise.race([measuring, waitMs(MEASURE_WAIT_MS)]).then(() => this.timeInlineRun(entry, options, session));
    measuring = measured.catch(() => undefined);
    return measured;
  }

  private async timeInlineRun(entry: LoadedVersion, options: ResolvedModelOptions, session: { run: Run }): Promise<number | undefined> {
    let inputs: Record<string, Tensor>;
    try {
      inputs = this.warmupInputs(entry, options);
      for (let i = 0; i < options.warmup.runs; i++) await session.run(inputs);
    } catch {
      return undefined;
    }
    const timed = async () => {
      const started = performance.now();
      await session.run(inputs);
      return performance.now() - started;
    };
    // Whatever else runs on this thread meanwhile (requests to other versions) lengthens a
    // run: a first run over the threshold is checked by up to two more, and the fastest
    // counts; one ten times over is no accident, and a big model's runs are not wasted on it.
    let fastest = await timed();
    for (let i = 0; i < 2 && fastest >= AUTO_THREAD_THRESHOLD_MS && fastest < AUTO_THREAD_THRESHOLD_MS * 10; i++) fastest = Math.min(fastest, await timed());
    return fastest;
  }

  /** The most rows the scheduler puts in one run of this version (1 without batching). */
  private maxBatchSizeOf(entry: LoadedVersion, options: ResolvedModelOptions): number {
    const scheduler = options.scheduler;
    return entry.batched && scheduler.batching ? (scheduler.maxBatchSize ?? entry.signature!.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE) : 1;
  }

  /**
   * The sets the warmup runs, one per `warmup.batchSizes` entry (`'max'`: the version's
   * `maxBatchSize`; sizes above it are capped there), or the base set alone. Built one at a
   * time as they are run (a set at `maxBatchSize` rows can be most of the memory a batch
   * takes: never several at once), and a size that repeats the previous one reuses its set.
   */
  private *warmupSets(entry: LoadedVersion, options: ResolvedModelOptions): Generator<Record<string, Tensor>> {
    const { batchSizes, inputs } = options.warmup;
    if (batchSizes === undefined || !entry.batched) {
      yield this.warmupInputs(entry, options);
      return;
    }
    const max = this.maxBatchSizeOf(entry, options);
    const configured = inputs !== undefined ? entry.validator!.prepare(expandWarmupInputs(inputs, entry.signature!), 'batch').tensors : undefined;
    let last: { rows: number; set: Record<string, Tensor> } | undefined;
    for (const size of batchSizes) {
      const rows = size === 'max' ? max : Math.min(size, max);
      if (last?.rows !== rows) {
        last = undefined; // the previous set is garbage before the next one is built
        const set = configured !== undefined ? Object.fromEntries(Object.entries(configured).map(([name, t]) => [name, withRows(t, rows)])) : syntheticInputs(entry.signature!, rows, true);
        last = { rows, set: entry.padding?.complete(set) ?? set };
      }
      yield last.set;
    }
  }

  /** The configured warmup inputs, or zeros of one row with variable dimensions set to 1. */
  private warmupInputs(entry: LoadedVersion, options: ResolvedModelOptions): Record<string, Tensor> {
    const { inputs } = options.warmup;
    const set =
      inputs !== undefined
        ? entry.validator!.prepare(expandWarmupInputs(inputs, entry.signature!), entry.batched ? 'batch' : 'instance').tensors
        : syntheticInputs(entry.signature!, 1, entry.batched);
    return entry.padding?.complete(set) ?? set; // the mask the host fills: ones
  }

  /** The name of the runtime that would load this source. */
  async runtimeName(source: ModelSource, options: ResolvedModelOptions): Promise<string> {
    return (await this.pickRuntime(source, options, { model: '', version: 0 })).name;
  }

  private async pickRuntime(source: ModelSource, options: ResolvedModelOptions, context: { model: string; version: number }): Promise<Runtime> {
    if (options.runtime !== undefined) return this.deps.runtimes.get(options.runtime);
    const files = await new ModelFiles(source).list();
    const runtime = this.deps.runtimes.detect(files);
    if (runtime === undefined) {
      throw new ModelHostError(
        ErrorCode.UNSUPPORTED_MODEL,
        source.kind === 'url'
          ? `model '${context.model}' v${context.version}: found neither model.json (tfjs) nor model.onnx (onnx) under ${source.url}; name the model's folder, or set \`runtime\``
          : `model '${context.model}' v${context.version}: no runtime recognizes its files (${files.join(', ') || 'none'}); expected model.json (tfjs) or model.onnx (onnx), or set \`runtime\``,
        context,
      );
    }
    return runtime;
  }

  /** Runs warmup on every instance before the version is ready. */
  private async warmUp(entry: LoadedVersion, options: ResolvedModelOptions, runs: readonly Run[]): Promise<void> {
    const { runs: times, inputs } = options.warmup;
    if (times === 0) return;
    const signature = entry.signature!;
    const configured = inputs !== undefined;
    try {
      // Every instance runs one set before the next set is built.
      for (const set of this.warmupSets(entry, options)) {
        await Promise.all(runs.map(async (run) => {
          for (let i = 0; i < times; i++) await run(set);
        }));
      }
    } catch (error) {
      // The executor's words already name the version (`model 'm' v1: no answer within …`): said once.
      const prefix = `model '${entry.model}' v${entry.version}: `;
      const message = (error as Error)?.message ?? String(error);
      const reason = message.startsWith(prefix) ? message.slice(prefix.length) : message;
      // Zeros with guessed sizes for variable dimensions may be invalid for a sound model: warn, don't fail.
      if (!configured && !isFullyShaped(signature, entry.batched)) {
        this.deps.warn(`model '${entry.model}' v${entry.version}: warmup skipped, synthetic inputs (variable dimensions set to 1) were refused: ${reason}; set \`warmup.inputs\``, entry.model, entry.version, error);
        return;
      }
      throw new ModelHostError(ErrorCode.LOAD_FAILED, `model '${entry.model}' v${entry.version} failed its warmup run: ${reason}`, {
        model: entry.model,
        version: entry.version,
        cause: error,
      });
    }
  }
}

/** The measurement of `auto` in progress in this process (they run one at a time). */
let measuring: Promise<unknown> = Promise.resolve();
const MEASURE_WAIT_MS = 30_000;

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Where batches run when the config does not say; chosen from the measurements in docs/benchmarks.md. */
export const DEFAULT_INSTANCE_KIND = 'auto' as const;

/**
 * `auto` moves a version to a worker thread when one warm run of its warmup batch takes at
 * least this long on the calling thread. Below it the hop (0.1–0.4 ms a batch here) costs
 * more than it saves: thread instances halved small MLPs' throughput. Above it, every batch
 * stalls every other request of the service for as long (MobileNetV2: 120 ms an image).
 */
export const AUTO_THREAD_THRESHOLD_MS = 2;

/** How a worker finds this runtime, or undefined when it can only run inline. */
function runtimeRef(runtime: Runtime): RuntimeRef | undefined {
  for (const [name, builtin] of Object.entries(BUILTIN_RUNTIMES)) if (builtin === runtime) return { builtin: name };
  return runtime.worker === undefined ? undefined : { module: runtime.worker.module, export: runtime.worker.export };
}

function assertStillLoading(entry: LoadedVersion): void {
  if (entry.state === 'draining') {
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `model '${entry.model}' v${entry.version} was unloaded while loading`, { model: entry.model, version: entry.version });
  }
}
