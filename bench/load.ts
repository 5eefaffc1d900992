/**
 * Closed-loop load bench: for each model, in one run on one machine,
 *   (a) naive       C callers, each calling the raw runtime with one row per request,
 *   (b) raw batched the raw runtime on back-to-back full batches (the ceiling, rows/s),
 *   (c) modelhost   the same C callers through host.predict,
 * and the ratios c÷a (batching gain) and c÷b (batching efficiency) of DESIGN §9; then the
 * paired cells of issue 17 (load/pair-cells.ts): predictBatch ÷ raw, stats on ÷ off.
 *
 *   npx tsx bench/load.ts [--quick] [--only mlp-tfjs,mlp-onnx,tiny-tfjs,mobilenet] [--json path] [--mobilenet-64]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelHost } from '../src/index.js';
import { isMain, parseBenchArgs, type BenchArgs } from './lib/cli.js';
import { mergeResults, runClosedLoop, warmUp, type Budget, type ClosedLoopOptions, type ClosedLoopResult } from './lib/closed-loop.js';
import { mergeCpuShares, type CpuShare } from './lib/cpu-contention.js';
import { EVENT_LOOP_RESOLUTION_MS } from './lib/event-loop.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { formatCount, formatMs, formatRatio, formatTable, NONE } from './lib/table.js';
import { BATCHING, createHost, hostOptions } from './load/host.js';
import { batchesOf, inputRows, MODEL_IDS, MODELS, openRawModel, writeRepository, type ModelId } from './load/models.js';
import { formatPairCells, predictBatchCell, statsCell, type PairCell } from './load/pair-cells.js';
import { evaluateTargets, type TargetResult } from './load/targets.js';

/** One side's runs in a cell: the first warms up, the second (later in the cell) re-warms briefly. */
interface SideBudget {
  readonly warmup: Budget;
  readonly rewarm: Budget;
  readonly half: Budget;
}

/**
 * How long each cell runs. A cell measures its three sides in rounds of a c b b c a, so every
 * side sits at the same mean position in time and samples the machine at several moments:
 * this VM's speed drifts by 10–30% over seconds, and that must hit all sides alike. MLP
 * cells are timed; MobileNetV2 (~0.1 s per image here) counts images.
 */
interface Plan {
  readonly concurrencies: readonly number[];
  /** Rounds of a c b b c a in the cell of `concurrency` callers: each side runs 2 × rounds times. */
  readonly rounds: (concurrency: number) => number;
  /** (a) and (c) at `concurrency` callers. */
  readonly cell: (concurrency: number) => SideBudget;
  /** (b), in requests of one full batch each. */
  readonly batched: SideBudget;
  /** Rows per raw batch (b). */
  readonly batchSize: number;
  /** Unmeasured load on every path before the first cell: a process's first seconds run slower (JIT, wasm tier-up). */
  readonly engineWarmup: Budget;
}

// A cap on count budgets, so a pathological run still ends.
const CAP_MS = 60_000;

function planFor(id: ModelId, args: BenchArgs): Plan {
  if (id === 'tiny-tfjs') {
    // Issue 17's cell: 64 callers against raw batches of 32 (one cell: the bench stays under 3 minutes).
    const timed: SideBudget = args.quick ? { warmup: { ms: 150 }, rewarm: { ms: 50 }, half: { ms: 250 } } : { warmup: { ms: 400 }, rewarm: { ms: 100 }, half: { ms: 500 } };
    return { concurrencies: [64], rounds: () => (args.quick ? 1 : 2), cell: () => timed, batched: timed, batchSize: 32, engineWarmup: { ms: args.quick ? 200 : 600 } };
  }
  if (id !== 'mobilenet') {
    const timed: SideBudget = args.quick
      ? { warmup: { ms: 150 }, rewarm: { ms: 50 }, half: { ms: 250 } }
      : { warmup: { ms: 400 }, rewarm: { ms: 100 }, half: { ms: 500 } };
    return {
      concurrencies: [1, 8, 64],
      rounds: () => (args.quick ? 1 : 2),
      cell: () => timed,
      batched: timed,
      batchSize: BATCHING.maxBatchSize,
      engineWarmup: { ms: args.quick ? 200 : 600 },
    };
  }
  const concurrencies = args.mobilenet64 ? [1, 8, 64] : [1, 8];
  const count = (requests: number): Budget => ({ requests, ms: CAP_MS });
  return {
    concurrencies,
    // Two rounds (one image takes 80–130 ms here depending on the moment); one at 64 callers,
    // whose runs are long enough already.
    rounds: (c) => (args.quick || c > 8 ? 1 : 2),
    // Multiples of C requests, so every measured batch the host can form is full.
    cell: (c) => ({ warmup: count(c === 1 ? 2 : c), rewarm: count(0), half: count(args.quick || c > 8 ? c : c === 1 ? 4 : 16) }),
    batched: { warmup: count(1), rewarm: count(0), half: count(1) },
    // MobileNetV2's cost per image stops falling by batch 8 (a 64-image batch takes ~9 s here
    // and is no cheaper per image), and its target is stated at 8 callers, whose batches the
    // host can never make larger than 8: so its ceiling is full batches of 8.
    batchSize: 8,
    engineWarmup: count(0),
  };
}

export interface CellReport {
  readonly concurrency: number;
  readonly naive: ClosedLoopResult;
  readonly host: ClosedLoopResult;
  /** (b), measured within this cell. */
  readonly batched: ClosedLoopResult;
  /** Mean rows per batch of the measured modelhost runs (the host's `stats()`); undefined when it ran none or could not tell. */
  readonly meanBatch: number | undefined;
  readonly batches: number;
  readonly overNaive: number;
  readonly overBatched: number;
  /** modelhost p50 − raw p50 (ms). */
  readonly p50DiffMs: number;
}

export interface ModelReport {
  readonly id: ModelId;
  readonly title: string;
  readonly runtime: string;
  readonly batchSize: number;
  /** (b) over every cell of the model. */
  readonly batched: ClosedLoopResult;
  readonly cells: readonly CellReport[];
  readonly hostLoadMs: number;
  /** tfjs tensors alive before and after the model's cells (both sides dispose everything). */
  readonly tfTensors: { readonly before: number; readonly after: number } | undefined;
}

export interface LoadReport {
  readonly startedAt: string;
  readonly args: BenchArgs;
  readonly host: { readonly batching: boolean; readonly options: object; readonly note: string | undefined };
  readonly eventLoopResolutionMs: number;
  /** The closed loop's own cost per request (µs) with a no-op request, by concurrency: part of (a) and (c), once per batch in (b). */
  readonly harnessUsPerRequest: Readonly<Record<number, number>>;
  readonly tfjsBackend: string | undefined;
  readonly models: readonly ModelReport[];
  /** predictBatch ÷ raw (tiny MLP) and stats on ÷ off (MLP onnx), when those models ran. */
  readonly pairs: readonly PairCell[];
  readonly targets: readonly TargetResult[];
  readonly wallMs: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const noop = () => Promise.resolve();

export async function runLoadBench(args: BenchArgs): Promise<LoadReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const ids = selectModels(args.only);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-'));
  const models: ModelReport[] = [];
  const pairs: PairCell[] = [];
  const harnessUsPerRequest: Record<number, number> = {};
  let host: ModelHost | undefined;
  let hostStartedAt = 0;
  let batching = false;
  let note: string | undefined;
  try {
    ({ host, batching, note } = createHost(root));
    hostStartedAt = performance.now();
    log(`load: writing ${ids.join(', ')} into ${root}`);
    await writeRepository(root, ids);
    if (note !== undefined) log(`load: note: ${note}`);
    for (const concurrency of [1, 8, 64]) {
      const floor = await runClosedLoop({ concurrency, request: noop, warmup: { ms: 100 }, measure: { ms: args.quick ? 100 : 300 } });
      harnessUsPerRequest[concurrency] = 1e6 / floor.requestsPerSec;
    }
    const hostLoadMs: Partial<Record<ModelId, number>> = {};
    for (const id of ids) {
      const t0 = performance.now();
      await host.load(id);
      hostLoadMs[id] = performance.now() - t0;
    }
    for (const id of ids) models.push(await benchModel(id, host, hostStartedAt, root, planFor(id, args), hostLoadMs[id] ?? Number.NaN));
    if (ids.includes('tiny-tfjs')) pairs.push(await predictBatchCell(host, root, args.quick, log));
    if (ids.includes('mlp-onnx')) pairs.push(await statsCell(host, root, args.quick, log));
  } finally {
    await host?.close();
    await rm(root, { recursive: true, force: true });
  }
  const targets = evaluateTargets((model, concurrency, metric) => {
    if (metric === 'predictBatch/raw') return model === 'tiny-tfjs' ? pairs.find((p) => p.label.includes('predictBatch'))?.ratio : undefined;
    if (metric === 'stats on/off') return model === 'mlp-onnx' ? pairs.find((p) => p.label.includes('stats'))?.ratio : undefined;
    const cell = models.find((m) => m.id === model)?.cells.find((c) => c.concurrency === concurrency);
    if (cell === undefined) return undefined;
    return metric === 'c/a' ? cell.overNaive : metric === 'c/b' ? cell.overBatched : cell.p50DiffMs;
  });
  return {
    startedAt,
    args,
    host: { batching, options: hostOptions(root, { batching }), note },
    eventLoopResolutionMs: EVENT_LOOP_RESOLUTION_MS,
    harnessUsPerRequest,
    tfjsBackend: ids.some((id) => id !== 'mlp-onnx') ? tf.getBackend() : undefined,
    models,
    pairs,
    targets,
    wallMs: performance.now() - started,
  };
}

function selectModels(only: readonly string[] | undefined): ModelId[] {
  if (only === undefined) return [...MODEL_IDS];
  const unknown = only.filter((name) => !(MODEL_IDS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`--only: unknown model ${unknown.join(', ')} (known: ${MODEL_IDS.join(', ')})`);
  return MODEL_IDS.filter((id) => only.includes(id));
}

async function benchModel(id: ModelId, host: ModelHost, hostStartedAt: number, root: string, plan: Plan, hostLoadMs: number): Promise<ModelReport> {
  const spec = MODELS[id];
  const raw = await openRawModel(id, root);
  const usesTfjs = id !== 'mlp-onnx';
  const tensorsBefore = usesTfjs ? tf.memory().numTensors : 0;
  const rows = inputRows(id, id === 'mobilenet' ? 4 : 256);
  const batches = batchesOf(rows, plan.batchSize, id === 'mobilenet' ? 1 : 4);

  // Batches the host ran while a measured modelhost phase ran, from its stats recorder
  // (read before and after the phase). Not a `batchCompleted` listener: a listener makes the
  // host build and emit an event per batch, work the default host does not do, and that cost
  // ~0.01 of c÷b at 64 callers on the MLP (bench/profile, session 7).
  const batchCounter = new BatchCounter(host, id, hostStartedAt);
  try {
    // Unmeasured: every path the cells use, so the first measured one is not the slowest.
    let warmIndex = 0;
    const warmRow = () => rows[warmIndex++ % rows.length]!;
    await warmUp({ concurrency: 8, request: () => raw.runOne(warmRow()) }, plan.engineWarmup);
    await warmUp({ concurrency: 8, request: () => host.predict(id, warmRow()) }, plan.engineWarmup);

    let nextBatch = 0;
    const batchedSide = (warmup: Budget) =>
      measure(`${id} raw batched ×${plan.batchSize}`, 1, { warmup, measure: plan.batched.half }, () => raw.runBatch(batches[nextBatch++ % batches.length]!, plan.batchSize), {
        rowsPerRequest: plan.batchSize,
      });

    const cells: CellReport[] = [];
    for (const concurrency of plan.concurrencies) {
      const budget = plan.cell(concurrency);
      let rowIndex = 0;
      const row = () => rows[rowIndex++ % rows.length]!; // (a) and (c) send the same rows
      const naiveSide = (warmup: Budget) => measure(`${id} C=${concurrency} naive`, concurrency, { warmup, measure: budget.half }, () => raw.runOne(row()));
      const hostSide = (warmup: Budget) =>
        measure(`${id} C=${concurrency} modelhost`, concurrency, { warmup, measure: budget.half }, () => host.predict(id, row()), {
          onMeasureStart: () => batchCounter.start(),
          onMeasureEnd: () => batchCounter.stop(),
        });
      batchCounter.reset();
      const sides = {
        a: (first: boolean) => naiveSide(first ? budget.warmup : budget.rewarm),
        c: (first: boolean) => hostSide(first ? budget.warmup : budget.rewarm),
        b: (first: boolean) => batchedSide(first ? plan.batched.warmup : plan.batched.rewarm),
      };
      const runs: Record<keyof typeof sides, ClosedLoopResult[]> = { a: [], b: [], c: [] };
      for (let round = 0; round < plan.rounds(concurrency); round++) {
        for (const side of ['a', 'c', 'b', 'b', 'c', 'a'] as const) runs[side].push(await sides[side](runs[side].length === 0));
      }
      const naive = mergeResults(runs.a);
      const hosted = mergeResults(runs.c);
      const batched = mergeResults(runs.b, plan.batchSize);
      cells.push({
        concurrency,
        naive,
        host: hosted,
        batched,
        meanBatch: batchCounter.meanBatch,
        batches: batchCounter.batches,
        overNaive: hosted.requestsPerSec / naive.requestsPerSec,
        overBatched: hosted.requestsPerSec / batched.rowsPerSec,
        p50DiffMs: hosted.latency.p50 - naive.latency.p50,
      });
    }

    return {
      id,
      title: spec.title,
      runtime: spec.runtime,
      batchSize: plan.batchSize,
      batched: mergeResults(
        cells.map((c) => c.batched),
        plan.batchSize,
      ),
      cells,
      hostLoadMs,
      tfTensors: usesTfjs ? { before: tensorsBefore, after: tf.memory().numTensors } : undefined,
    };
  } finally {
    await raw.dispose();
  }
}

/**
 * Batches and rows a model's default version ran during measured phases, as differences of its
 * stats recorder's 5-minute window (exact while the host is under 270 s old:
 * the window then still holds every slice since; later, or with `stats: false`, it reports none).
 */
class BatchCounter {
  batches = 0;
  private rows = 0;
  private at: { batches: number; rows: number } | undefined;
  constructor(
    private readonly host: ModelHost,
    private readonly model: string,
    /** When the host started (performance.now()): its first traffic came after. */
    private readonly since: number,
  ) {}

  get meanBatch(): number | undefined {
    return this.batches === 0 || Number.isNaN(this.rows) ? undefined : this.rows / this.batches;
  }

  reset(): void {
    this.batches = 0;
    this.rows = 0;
  }

  start(): void {
    this.at = this.read();
  }

  stop(): void {
    const now = this.read();
    const at = this.at;
    this.at = undefined;
    if (at === undefined || now === undefined || performance.now() - this.since > 270_000) {
      this.rows = Number.NaN;
      return;
    }
    this.batches += now.batches - at.batches;
    this.rows += now.rows - at.rows;
  }

  private read(): { batches: number; rows: number } | undefined {
    const stats = this.host.stats(this.model);
    const version = stats.defaultVersion === undefined ? undefined : stats.versions[stats.defaultVersion]?.windows['5m'];
    return version === undefined ? undefined : { batches: version.batches, rows: version.batches * version.meanBatchSize };
  }
}

async function measure(
  label: string,
  concurrency: number,
  budget: { warmup: Budget; measure: Budget },
  request: () => unknown,
  extra: Pick<ClosedLoopOptions, 'onMeasureStart' | 'onMeasureEnd' | 'rowsPerRequest'> = {},
): Promise<ClosedLoopResult> {
  const result = await runClosedLoop({ concurrency, request, ...budget, ...extra });
  const rate = extra.rowsPerRequest === undefined ? `${formatCount(result.requestsPerSec)} req/s` : `${formatCount(result.rowsPerSec)} rows/s`;
  const errors = result.errors > 0 ? `, ${result.errors} errors (${result.firstError})` : '';
  log(`  ${label}: ${rate}, p50 ${formatMs(result.latency.p50)} ms, p99 ${formatMs(result.latency.p99)} ms${errors}`);
  return result;
}

/**
 * A loop p99 with a star when the monitor's timer fired in under 10% of its intervals: the
 * loop was blocked for most of the window (synchronous tfjs work on the main thread), and
 * the few samples are the stalls themselves.
 */
function formatLoop(result: ClosedLoopResult, resolutionMs: number): string {
  const expectedTicks = result.elapsedMs / resolutionMs;
  const starved = result.eventLoop.samples < expectedTicks / 10;
  return `${formatMs(result.eventLoop.p99Ms)}${starved ? '*' : ''}`;
}

/** The tables printed to stdout (Markdown, aligned). */
export function formatLoadReport(report: LoadReport): string {
  const res = report.eventLoopResolutionMs;
  const cells = report.models.flatMap((m) =>
    m.cells.map((c) => [
      m.id,
      String(c.concurrency),
      formatCount(c.naive.requestsPerSec),
      formatMs(c.naive.latency.p50),
      formatMs(c.naive.latency.p99),
      formatCount(c.host.requestsPerSec),
      formatMs(c.host.latency.p50),
      formatMs(c.host.latency.p99),
      `${c.p50DiffMs >= 0 ? '+' : ''}${formatMs(c.p50DiffMs)}`,
      c.meanBatch === undefined ? NONE : c.meanBatch.toFixed(1),
      formatLoop(c.naive, res),
      formatLoop(c.host, res),
      formatRatio(c.overNaive),
      formatRatio(c.overBatched),
    ]),
  );
  const batched = report.models.map((m) => [
    m.id,
    m.runtime,
    String(m.batchSize),
    formatCount(m.batched.rowsPerSec),
    formatMs(1e6 / m.batched.rowsPerSec),
    formatMs(m.batched.latency.p50),
    formatMs(m.batched.latency.p99),
    formatLoop(m.batched, res),
  ]);
  const targets = report.targets.map((t) => [
    t.label,
    `${t.bound === 'min' ? '≥' : '≤'} ${t.metric === 'p50 diff' ? `${t.goal} ms` : `${t.goal}×`}`,
    // Three decimals: a ratio of 0.947 against a goal of 0.95 must not read as 0.95.
    t.measured === undefined ? NONE : t.metric === 'p50 diff' ? `${t.measured.toFixed(3)} ms` : `${t.measured.toFixed(3)}×`,
    t.status,
  ]);
  const errors = report.models.flatMap((m) =>
    m.cells.flatMap((c) =>
      (
        [
          ['naive', c.naive],
          ['modelhost', c.host],
        ] as const
      ).flatMap(([side, r]) => (r.errors > 0 ? [`errors: ${m.id} C=${c.concurrency} ${side}: ${r.errors}, first: ${r.firstError}`] : [])),
    ),
  );
  const starred = [...cells, ...batched].some((row) => row.some((cell) => cell.endsWith('*')));
  const windows = report.models.flatMap((m) =>
    m.cells.flatMap((c) =>
      (
        [
          ['a', c.naive],
          ['c', c.host],
          ['b', c.batched],
        ] as const
      ).map(([side, r]) => ({ label: `${m.id} C=${c.concurrency} ${side}`, cpu: r.cpu, ms: r.elapsedMs })),
    ),
  );
  return [
    `Closed-loop load: (a) naive = raw runtime, one call per request; (c) modelhost = host.predict; C callers`,
    '',
    formatTable(['model', 'C', 'a req/s', 'a p50', 'a p99', 'c req/s', 'c p50', 'c p99', 'Δp50', 'batch', 'a loop p99', 'c loop p99', 'c÷a', 'c÷b'], cells),
    '',
    `(b) raw batched: back-to-back full batches, one at a time, measured inside every cell (latency per batch)`,
    '',
    formatTable(['model', 'runtime', 'rows/batch', 'b rows/s', 'µs/row', 'p50', 'p99', 'loop p99'], batched),
    '',
    ...(report.pairs.length > 0 ? [formatPairCells(report.pairs), ''] : []),
    `Targets (DESIGN §9)`,
    '',
    formatTable(['target', 'goal', 'measured', 'result'], targets),
    '',
    `Times in ms. Δp50 = c p50 − a p50. batch = mean rows per batch of the measured modelhost runs, from the host's stats() (– if none ran).`,
    `loop p99 = event-loop delay p99 beyond the ${res} ms sampling interval (perf_hooks.monitorEventLoopDelay).`,
    ...(starred ? [`* the monitor's timer fired in under 10% of its intervals: the loop was blocked for most of the window (tfjs runs synchronously on the main thread).`] : []),
    `c÷b compares modelhost's requests/s with the rows/s of (b) measured in the same cell (rounds of a c b b c a).`,
    `The p50 target is checked on the MLPs only: MobileNetV2's Δp50 is below the jitter of one ~0.1 s image.`,
    `The closed loop itself costs ${Object.entries(report.harnessUsPerRequest)
      .map(([c, us]) => `${us.toFixed(2)} µs per request at C=${c}`)
      .join(', ')} (a no-op request); (a) and (c) include it, (b) pays it once per batch.`,
    ...contentionLines(windows),
    `host: ${report.host.batching ? `batching ${JSON.stringify(BATCHING)}` : 'WITHOUT batching options'}${report.host.note ? ` — ${report.host.note}` : ''}.`,
    ...errors,
  ].join('\n');
}

/** Noise made visible: how much CPU other processes took while the windows were measured. */
function contentionLines(windows: readonly { label: string; cpu: CpuShare | undefined; ms: number }[]): string[] {
  const all = mergeCpuShares(windows.map((w) => ({ share: w.cpu, ms: w.ms })));
  if (all === undefined) return [];
  const busy = windows.filter((w) => (w.cpu?.otherCores ?? 0) > BUSY_CORES).map((w) => `${w.label} ${w.cpu!.otherCores.toFixed(2)}`);
  return [
    `Other processes took ${all.otherCores.toFixed(2)} cores on average during the measured windows (steal ${all.stealCores.toFixed(2)})${busy.length > 0 ? `; more than ${BUSY_CORES} during: ${busy.join(', ')}` : ''}.`,
  ];
}

// Above this, another process visibly competes with the bench for the 2 cores.
const BUSY_CORES = 0.2;

async function main(): Promise<void> {
  const args = parseBenchArgs();
  const machine = machineInfo();
  log(`machine: ${describeMachine(machine)}`);
  const report = await runLoadBench(args);
  console.log(formatLoadReport(report));
  const written = await writeResults({ command: ['npx tsx bench/load.ts', ...process.argv.slice(2)].join(' '), machine, load: report }, { extraPath: args.json });
  console.log(`\nload bench: ${(report.wallMs / 1000).toFixed(1)} s; results in ${written.join(', ')}`);
}

if (isMain(import.meta.url)) await main();
