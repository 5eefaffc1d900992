/**
 * The raw ceiling of MobileNetV2 on worker threads, without modelhost: bare worker threads
 * each run tfjs-wasm `predictOnBatch` on a batch of 4 images back to back, and 2 of them at
 * once are compared with 1 alone (images/s). Whatever 2 bare workers cannot reach, 2 thread
 * instances cannot either: it tells whether DESIGN §9's 1.6× is reachable on this machine.
 *
 *   npx tsx bench/threads/raw-scaling.ts [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { materializeMobileNetV2 } from '../../test/fixtures/third-party.js';
import { isMain, parseBenchArgs } from '../lib/cli.js';
import { cpuShareSince, cpuSnapshot, mergeCpuShares, type CpuShare } from '../lib/cpu-contention.js';
import { describeMachine, machineInfo } from '../lib/machine.js';
import { formatMs, formatRatio, formatTable } from '../lib/table.js';
import { batchesOf, inputRows, MODELS } from '../load/models.js';

const require = createRequire(import.meta.url);

const BATCH = 4;
/** One round of runs: mirrored, so drift over the round hits both sides alike. */
const ROUND = [1, 2, 2, 1] as const;

/**
 * Plain CommonJS, so no TypeScript loader or bundle is involved: tfjs and the wasm backend are
 * required from the paths the parent resolved. The model is read from disk like the test
 * fixtures' tfjsDirHandler does. Messages: warm (ms, at least 1 call) → warmed; measure (ms) → measured,
 * then it keeps computing until the parent raises `stop`, so a worker that finishes its
 * window first does not leave the other one the machine alone for its last batch.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFile } = require('node:fs/promises');
const path = require('node:path');
const tf = require(workerData.tfjs);
const { setWasmPaths } = require(workerData.wasm);

async function artifacts(dir) {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
    const joined = Buffer.concat(shards);
    return [tf.io.getWeightSpecs(manifest), joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength)];
  });
}

async function main() {
  setWasmPaths(workerData.wasmDir);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not initialize the wasm backend');
  await tf.ready();
  const model = await tf.loadLayersModel({ load: () => artifacts(workerData.modelDir) });
  const { batch, shape } = workerData;
  const stop = new Int32Array(workerData.stop);
  const once = () => tf.tidy(() => model.predictOnBatch(tf.tensor(batch, shape)).dataSync());
  parentPort.on('message', (m) => {
    if (m.type === 'warm') {
      const t0 = performance.now();
      do {
        once();
      } while (performance.now() - t0 < m.ms);
      parentPort.postMessage({ type: 'warmed' });
    } else if (m.type === 'measure') {
      const t0 = performance.now();
      let batches = 0;
      do {
        once();
        batches++;
      } while (performance.now() - t0 < m.ms);
      parentPort.postMessage({ type: 'measured', batches, elapsedMs: performance.now() - t0 });
      while (Atomics.load(stop, 0) === 0) once();
      parentPort.postMessage({ type: 'stopped' });
    }
  });
  parentPort.postMessage({ type: 'ready', backend: tf.getBackend() });
}

main().catch((e) => parentPort.postMessage({ type: 'failed', message: String((e && e.stack) || e) }));
`;

type Reply =
  | { type: 'ready'; backend: string }
  | { type: 'warmed' }
  | { type: 'measured'; batches: number; elapsedMs: number }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };

/** One bare worker, and the replies it sent that nobody has taken yet (they arrive in order). */
class BareWorker {
  private readonly worker: Worker;
  private readonly inbox: Reply[] = [];
  private waiting: ((reply: Reply) => void) | undefined;
  private failure: Error | undefined;
  private onFailure: ((error: Error) => void) | undefined;
  private closing = false;

  constructor(workerData: object) {
    // No inherited loader flags (tsx): the worker is plain CommonJS.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData });
    this.worker.on('message', (reply: Reply) => {
      if (reply.type === 'failed') return this.fail(new Error(`bare worker: ${reply.message}`));
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting === undefined) this.inbox.push(reply);
      else waiting(reply);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`bare worker exited with code ${code}`)));
  }

  post(message: { type: 'warm' | 'measure'; ms: number }): void {
    this.worker.postMessage(message);
  }

  /** The next reply, which must be of `type`. */
  async next<T extends Reply['type']>(type: T): Promise<Extract<Reply, { type: T }>> {
    const reply = await new Promise<Reply>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure);
      const queued = this.inbox.shift();
      if (queued !== undefined) return resolve(queued);
      this.waiting = resolve;
      this.onFailure = reject;
    });
    if (reply.type !== type) throw new Error(`bare worker: expected '${type}', got '${reply.type}'`);
    return reply as Extract<Reply, { type: T }>;
  }

  async terminate(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    if (this.closing || this.failure !== undefined) return;
    this.failure = error;
    this.onFailure?.(error);
  }
}

export interface RawScalingOptions {
  /** A MobileNetV2 folder (model.json + shards), as materializeMobileNetV2 writes it. */
  readonly modelDir: string;
  /** One round instead of 3 (about 15 s in all instead of 35). */
  readonly quick?: boolean;
  readonly log?: (line: string) => void;
  /** Wraps each measured run (the threads bench's quiet guard; identity by default). */
  readonly guard?: <R extends { readonly cpu: CpuShare | undefined }>(run: () => Promise<R>) => Promise<R>;
}

export interface RawScalingRun {
  readonly workers: 1 | 2;
  /** Σ over the workers of their images ÷ their window. */
  readonly imagesPerSec: number;
  /** Each worker's mean time per batch in its window. */
  readonly msPerBatch: readonly number[];
  readonly elapsedMs: number;
  readonly cpu: CpuShare | undefined;
}

export interface RawScalingResult {
  readonly batch: number;
  readonly measureMs: number;
  /** In run order: rounds of 1, 2, 2, 1 workers. */
  readonly runs: readonly RawScalingRun[];
  /** Each round's 2 ÷ 1 (its two runs of each side): the spread of `ratio`. */
  readonly roundRatios: readonly number[];
  /** Mean images/s of the runs with 1 and with 2 workers. */
  readonly one: number;
  readonly two: number;
  /** two ÷ one. */
  readonly ratio: number;
}

/**
 * A batch of 4 takes 0.3–0.5 s here, and one worker alone drifts between the two in phases of
 * seconds (the VM's host, not visible as steal): short windows in several mirrored rounds
 * sample both sides across those phases. A window ends with a whole batch, so it loses none.
 * The first warm-up is seconds long: V8 tiers the wasm code up while the first calls run.
 */
function budget(quick: boolean): { warmupMs: number; measureMs: number; rounds: number } {
  return quick ? { warmupMs: 2_000, measureMs: 2_000, rounds: 1 } : { warmupMs: 3_000, measureMs: 2_000, rounds: 3 };
}

/** Rounds of 1 bare worker alone, 2 at once, 2, 1: mean images/s of each side, and 2 ÷ 1. */
export async function measureRawScaling(options: RawScalingOptions): Promise<RawScalingResult> {
  const { modelDir, quick = false, log = () => {}, guard = (run) => run() } = options;
  const plan = budget(quick);
  const shape = [BATCH, ...MODELS.mobilenet.instanceShape];
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const setup = {
    tfjs: require.resolve('@tensorflow/tfjs'),
    wasm: require.resolve('@tensorflow/tfjs-backend-wasm'),
    wasmDir: `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`,
    modelDir,
    batch: batchesOf(inputRows('mobilenet', BATCH), BATCH, 1)[0]!,
    shape,
    stop: stop.buffer,
  };
  const workers = [new BareWorker(setup), new BareWorker(setup)];
  try {
    const t0 = performance.now();
    const backends = await Promise.all(workers.map((w) => w.next('ready')));
    log(`raw scaling: 2 bare workers loaded MobileNetV2 on tfjs ${backends.map((r) => r.backend).join(', ')} in ${Math.round(performance.now() - t0)} ms`);
    await Promise.all(workers.map(async (w) => (w.post({ type: 'warm', ms: plan.warmupMs }), w.next('warmed'))));

    const run = async (count: 1 | 2): Promise<RawScalingRun> => {
      const active = workers.slice(0, count);
      Atomics.store(stop, 0, 0);
      const started = performance.now();
      const cpuAt = cpuSnapshot();
      for (const w of active) w.post({ type: 'measure', ms: plan.measureMs });
      const windows = await Promise.all(active.map((w) => w.next('measured')));
      const cpu = cpuShareSince(cpuAt);
      const elapsedMs = performance.now() - started;
      Atomics.store(stop, 0, 1);
      await Promise.all(active.map((w) => w.next('stopped')));
      return {
        workers: count,
        imagesPerSec: windows.reduce((sum, m) => sum + (m.batches * BATCH * 1000) / m.elapsedMs, 0),
        msPerBatch: windows.map((m) => m.elapsedMs / m.batches),
        elapsedMs,
        cpu,
      };
    };

    const runs: RawScalingRun[] = [];
    for (const count of Array.from({ length: plan.rounds }, () => ROUND).flat()) {
      const r = await guard(() => run(count));
      runs.push(r);
      log(`raw scaling: ${count} worker${count > 1 ? 's' : ''}: ${r.imagesPerSec.toFixed(2)} images/s, ${r.msPerBatch.map((ms) => formatMs(ms)).join(' / ')} ms per batch of ${BATCH}`);
    }
    const mean = (of: readonly RawScalingRun[], count: 1 | 2) => {
      const mine = of.filter((r) => r.workers === count);
      return mine.reduce((sum, r) => sum + r.imagesPerSec, 0) / mine.length;
    };
    const roundRatios = Array.from({ length: plan.rounds }, (_, i) => {
      const round = runs.slice(i * ROUND.length, (i + 1) * ROUND.length);
      return mean(round, 2) / mean(round, 1);
    });
    const [one, two] = [mean(runs, 1), mean(runs, 2)];
    return { batch: BATCH, measureMs: plan.measureMs, runs, roundRatios, one, two, ratio: two / one };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export function formatRawScaling(result: RawScalingResult): string {
  const rows = ([1, 2] as const).map((count) => {
    const mine = result.runs.filter((r) => r.workers === count);
    const cpu = mergeCpuShares(mine.map((r) => ({ share: r.cpu, ms: r.elapsedMs })));
    const perWorker = Array.from({ length: count }, (_, i) => formatMs(mine.reduce((sum, r) => sum + r.msPerBatch[i]!, 0) / mine.length));
    return [
      String(count),
      String(mine.length),
      (count === 1 ? result.one : result.two).toFixed(2),
      mine.map((r) => r.imagesPerSec.toFixed(2)).join(', '),
      perWorker.join(' / '),
      cpu === undefined ? '–' : `${cpu.otherCores.toFixed(2)} + steal ${cpu.stealCores.toFixed(2)}`,
    ];
  });
  return [
    `Raw ceiling: MobileNetV2 (tfjs wasm) predictOnBatch, batch ${result.batch}, back to back on bare worker threads (no modelhost); ${result.measureMs / 1000} s windows, ${result.roundRatios.length} × runs of 1 2 2 1 workers`,
    '',
    formatTable(['workers', 'runs', 'images/s', 'per run', `ms per batch (per worker)`, 'others, cores'], rows),
    '',
    `raw ceiling: 2 bare workers ÷ 1, images/s: ${formatRatio(result.ratio)} (per round: ${result.roundRatios.map(formatRatio).join(', ')})`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`machine: ${describeMachine(machineInfo())}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'modelhost-raw-scaling-'));
  try {
    await materializeMobileNetV2(dir);
    const started = performance.now();
    const result = await measureRawScaling({ modelDir: dir, quick: args.quick, log });
    console.log(formatRawScaling(result));
    console.log(`\nraw scaling: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await main();
