/**
 * modelhost against the least a promise-returning batcher can do (issue 17, session 7): the
 * MLP (onnx) at 64 callers through `host.predict`, through {@link MinimalBatcher} (a promise
 * per request, an array queue, a cut per tick, one copy into a reused buffer, a view and a
 * record out per request: no validation, stats, events, breaker, deadlines or cancellation),
 * and raw back-to-back batches (b), in one process on the load bench's closed loop, alternated.
 * The minimal batcher's ÷ b is the most any promise-returning `predict` can read in that cell.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/checks/batcher-floor.ts [ms per run, default 500]   # ~40 s
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { runClosedLoop } from '../lib/closed-loop.js';
import { ModelHost } from '../lib/modelhost.js';
import { hostOptions } from '../load/host.js';
import { batchesOf, inputRows, openRawModel, writeRepository } from '../load/models.js';

const ms = Number(process.argv[2] ?? 500);
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-batcher-floor-'));
await writeRepository(root, ['mlp-onnx']);
const host = new ModelHost(hostOptions(root));
await host.load('mlp-onnx');
const raw = await openRawModel('mlp-onnx', root);
const session = await ort.InferenceSession.create(path.join(root, 'mlp-onnx/1/model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
const rows = inputRows('mlp-onnx', 256);
const batches = batchesOf(rows, 64, 4);

/** The least a batcher does: a promise per request, a queue, a cut per tick, one copy in, a view out per request. */
class MinimalBatcher {
  private queue: { row: Float32Array; resolve: (v: { y: { data: Float32Array; shape: number[]; dtype: string } }) => void }[] = [];
  private running = false;
  private scheduled = false;
  private readonly buffer = new Float32Array(64 * 64);
  private readonly shape = [10];
  predict(row: Float32Array): Promise<{ y: { data: Float32Array; shape: number[]; dtype: string } }> {
    return new Promise((resolve) => {
      this.queue.push({ row, resolve });
      if (!this.running && !this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.cut());
      }
    });
  }
  private cut(): void {
    this.scheduled = false;
    if (this.running || this.queue.length === 0) return;
    const tasks = this.queue.splice(0, 64);
    const n = tasks.length;
    for (let i = 0; i < n; i++) this.buffer.set(tasks[i]!.row, i * 64);
    this.running = true;
    void session.run({ x: new ort.Tensor('float32', this.buffer.subarray(0, n * 64), [n, 64]) }).then((out) => {
      const y = out[session.outputNames[0]!]!.data as Float32Array;
      for (let i = 0; i < n; i++) tasks[i]!.resolve({ y: { data: new Float32Array(y.buffer, y.byteOffset + i * 40, 10), shape: this.shape, dtype: 'float32' } });
      this.running = false;
      if (this.queue.length > 0) this.cut();
    });
  }
}
const minimal = new MinimalBatcher();
let i = 0;
let j = 0;
/** Rows per CPU second of this process, by side (the runs' rows at their measured rate over warmup and measure alike). */
const cpuRates = { c: [] as number[], m: [] as number[], b: [] as number[] };
let lastCpuRate = 0;
const run = async (concurrency: number, request: () => unknown, rowsPer = 1) => {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const rate = (await runClosedLoop({ concurrency, request, warmup: { ms: 100 }, measure: { ms }, rowsPerRequest: rowsPer })).rowsPerSec;
  const used = process.cpuUsage(cpu);
  lastCpuRate = (rate * (performance.now() - t0)) / 1000 / ((used.user + used.system) / 1e6);
  return rate;
};
const sides = {
  c: () => run(64, () => host.predict('mlp-onnx', rows[i++ & 255]!)),
  m: () => run(64, () => minimal.predict(rows[i++ & 255]!)),
  b: () => run(1, () => raw.runBatch(batches[j++ & 3]!, 64), 64),
};
const acc = { c: [] as number[], m: [] as number[], b: [] as number[] };
for (const s of Object.values(sides)) await s();
for (let r = 0; r < 3; r++) for (const k of (r % 2 ? ['m', 'c', 'b', 'b', 'c', 'm'] : ['c', 'm', 'b', 'b', 'm', 'c']) as (keyof typeof sides)[]) { acc[k].push(await sides[k]()); cpuRates[k].push(lastCpuRate); }
const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
const [c, m, b] = [mean(acc.c), mean(acc.m), mean(acc.b)];
console.log(`modelhost ÷ b ${(c / b).toFixed(3)}; minimal batcher ÷ b ${(m / b).toFixed(3)}; modelhost ÷ minimal ${(c / m).toFixed(3)} (req/s: c ${c.toFixed(0)}, minimal ${m.toFixed(0)}, b rows/s ${b.toFixed(0)}; µs per request: c ${(1e6 / c).toFixed(3)}, minimal ${(1e6 / m).toFixed(3)}, b per row ${(1e6 / b).toFixed(3)})`);
const [cc, mc, bc] = [mean(cpuRates.c), mean(cpuRates.m), mean(cpuRates.b)];
console.log(`by CPU time: modelhost ÷ b ${(cc / bc).toFixed(3)}; minimal batcher ÷ b ${(mc / bc).toFixed(3)}; modelhost ÷ minimal ${(cc / mc).toFixed(3)}`);
await host.close();
await raw.dispose();
await session.release();
await rm(root, { recursive: true, force: true });
