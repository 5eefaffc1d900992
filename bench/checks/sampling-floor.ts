/**
 * What payload sampling at rate 0.01 must cost at the least (issue 19), against what
 * modelhost's costs: the MLP (onnx) at 64 callers, in one process, alternated 1 s rounds, each
 * side's req/s and main-thread CPU per request (/proc/self/task) ÷ its own base:
 *
 * - `minimal` — the 30-line batcher of batcher-floor.ts (a promise per request, one copy in,
 *   one `session.run`, a view out), and `minimal + sampling`: the same with the least a sampler
 *   does: a skip counter drawn geometrically (as modelhost's `Sampler`), and for a sampled
 *   request its input row and, when its batch returns, its output row and latency copied into
 *   a preallocated shared ring (no event, no listener, no worker, no file);
 * - `minimal + side branch`: the same sample, its outputs copied by a `.then` on the request's
 *   promise (as modelhost's monitor attaches) instead of in the batch's loop;
 * - modelhost's default host and its target host (sampling 0.01, the JSON-lines sink in its worker).
 *
 * The `minimal + sampling` ÷ `minimal` ratio is what any sampler costs on this model and
 * machine; modelhost's target ÷ default is what it costs in modelhost.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/checks/sampling-floor.ts [rounds, default 12]   # ~1.5 min
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { runClosedLoop } from '../lib/closed-loop.js';
import { JsonlSink, ModelHost } from '../lib/modelhost.js';
import { medianInterval } from '../lib/paired.js';
import { threadCpu } from '../lib/thread-cpu.js';
import { inputRows, writeRepository } from '../load/models.js';

const rounds = Number(process.argv[2] ?? 12);
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-sampling-floor-'));
await writeRepository(root, ['mlp-onnx']);
const hostOf = (sampling: boolean) =>
  new ModelHost({
    repository: root,
    defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } },
    models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 }, ...(sampling ? { sampling: { rate: 0.01 } } : {}) } },
  });
const plain = hostOf(false);
const target = hostOf(true);
const sink = await JsonlSink.open(target, { path: path.join(root, 'samples.jsonl'), size: '10M', maxFiles: 2 });
await plain.load('mlp-onnx');
await target.load('mlp-onnx');
const session = await ort.InferenceSession.create(path.join(root, 'mlp-onnx/1/model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
const rows = inputRows('mlp-onnx', 256);

type Out = { y: { data: Float32Array; shape: number[]; dtype: string } };
type Mode = 'off' | 'in-batch' | 'side-branch';

/** Where the least sampler keeps a sample: input row, output row, latency (a reused shared ring of 1024 slots). */
class SampleSlots {
  private readonly inputs = new Float32Array(new SharedArrayBuffer(1024 * 64 * 4));
  private readonly outputs = new Float32Array(new SharedArrayBuffer(1024 * 10 * 4));
  private readonly meta = new Float64Array(new SharedArrayBuffer(1024 * 2 * 8));
  private next = 0;
  taken = 0;
  open(row: Float32Array): number {
    const slot = this.next;
    this.next = (slot + 1) & 1023;
    this.inputs.set(row, slot * 64);
    this.meta[slot * 2] = performance.now();
    return slot;
  }
  close(slot: number, y: Float32Array): void {
    this.outputs.set(y, slot * 10);
    this.meta[slot * 2 + 1] = performance.now() - this.meta[slot * 2]!;
    this.taken++;
  }
}

/** batcher-floor.ts's batcher, with the least sampler when `mode` is not 'off'. */
class MinimalBatcher {
  private queue: { row: Float32Array; slot: number; resolve: (v: Out) => void }[] = [];
  private running = false;
  private scheduled = false;
  private readonly buffer = new Float32Array(64 * 64);
  private readonly shape = [10];
  readonly slots = new SampleSlots();
  private skip = 0;
  private readonly logKeep = Math.log1p(-0.01);
  constructor(private readonly mode: Mode) {
    this.skip = this.draw();
  }
  private draw(): number {
    return Math.floor(Math.log(1 - Math.random()) / this.logKeep);
  }
  predict(row: Float32Array): Promise<Out> {
    let slot = -1;
    if (this.mode !== 'off') {
      if (this.skip > 0) this.skip--;
      else {
        this.skip = this.draw();
        slot = this.slots.open(row);
      }
    }
    const promise = new Promise<Out>((resolve) => {
      this.queue.push({ row, slot: this.mode === 'in-batch' ? slot : -1, resolve });
      if (!this.running && !this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.cut());
      }
    });
    if (slot !== -1 && this.mode === 'side-branch') void promise.then((out) => this.slots.close(slot, out.y.data));
    return promise;
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
      for (let i = 0; i < n; i++) {
        const task = tasks[i]!;
        const data = new Float32Array(y.buffer, y.byteOffset + i * 40, 10);
        if (task.slot !== -1) this.slots.close(task.slot, data);
        task.resolve({ y: { data, shape: this.shape, dtype: 'float32' } });
      }
      this.running = false;
      if (this.queue.length > 0) this.cut();
    });
  }
}

const minimal = new MinimalBatcher('off');
const sampledInBatch = new MinimalBatcher('in-batch');
const sampledBranch = new MinimalBatcher('side-branch');
let next = 0;
const sides: { name: string; base: number; request: () => Promise<unknown> }[] = [
  { name: 'minimal', base: 0, request: () => minimal.predict(rows[next++ & 255]!) },
  { name: 'minimal + sampling (in the batch loop)', base: 0, request: () => sampledInBatch.predict(rows[next++ & 255]!) },
  { name: 'minimal + sampling (side branch)', base: 0, request: () => sampledBranch.predict(rows[next++ & 255]!) },
  { name: 'modelhost default', base: 3, request: () => plain.predict('mlp-onnx', rows[next++ & 255]!) },
  { name: 'modelhost sampling 0.01 + sink', base: 3, request: () => target.predict('mlp-onnx', rows[next++ & 255]!) },
];
const rate: number[][] = sides.map(() => []);
const cpu: number[][] = sides.map(() => []);
const measure = async (i: number) => {
  const side = sides[i]!;
  await runClosedLoop({ concurrency: 64, request: side.request, warmup: { ms: 200 }, measure: { ms: 10 } });
  const before = threadCpu();
  const r = await runClosedLoop({ concurrency: 64, request: side.request, warmup: { ms: 0 }, measure: { ms: 1000 } });
  const after = threadCpu();
  rate[i]!.push(r.requestsPerSec);
  if (before !== undefined && after !== undefined) cpu[i]!.push((after.mainNs - before.mainNs) / r.requests);
};
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < sides.length; k++) await measure((k + round) % sides.length);
  process.stderr.write(`round ${round + 1}/${rounds}: ${sides.map((s, i) => `${s.name} ${Math.round(rate[i]!.at(-1)!)}`).join(', ')} req/s\n`);
}
const show = (m: ReturnType<typeof medianInterval>) => `${m.median.toFixed(3)} (${m.low.toFixed(3)}–${m.high.toFixed(3)})`;
console.log(`\nMLP onnx, 64 callers, ${rounds} rotating rounds of 1 s per side; each side ÷ its base in the same round, median (${(medianInterval(rate[0]!).confidence * 100).toFixed(1)}% interval)`);
console.log('| side | req/s ÷ base | main-thread CPU per request ÷ base | main ns per request |');
console.log('|---|--:|--:|--:|');
for (let i = 0; i < sides.length; i++) {
  const side = sides[i]!;
  const byRate = medianInterval(rate[i]!.map((r, k) => r / rate[side.base]![k]!));
  const byCpu = cpu[i]!.length === rounds ? medianInterval(cpu[i]!.map((c, k) => c / cpu[side.base]![k]!)) : undefined;
  const ns = cpu[i]!.length === rounds ? medianInterval(cpu[i]!).median.toFixed(0) : '–';
  console.log(`| ${side.name} | ${i === side.base ? '1' : show(byRate)} | ${i === side.base ? '1' : byCpu ? show(byCpu) : '–'} | ${ns} |`);
}
console.log(`samples: minimal in-batch ${sampledInBatch.slots.taken}, side branch ${sampledBranch.slots.taken}; modelhost ${sink.written} lines, ${sink.dropped} dropped`);
await sink.close();
await plain.close();
await target.close();
await session.release();
await rm(root, { recursive: true, force: true });
