/**
 * What monitoring costs: the MLP (onnx) at 64 closed-loop callers with the default host
 * (stats on) against the same host with payload sampling at 0.01 and at 1.0 (a JSON-lines
 * sink listening, writing a rotating file from its worker thread), sampling 1.0 with drift on, and the
 * response cache missing every time (distinct rows) or hitting every time (repeated rows).
 * Then one sequential caller: a cache hit against a run of the MLP (a miss).
 * Sides are interleaved (a b c … c b a) so drift of the machine hits all alike.
 *
 * Then the sampling target alone (rate 0.01 costs ≤ 3% of throughput): the default host, a
 * second default host (the control) and the sampling host only, in short back-to-back rounds,
 * and the same sink with `thread: false` (lines built and written on the request's thread),
 * reported as medians of the per-round ratios with their 95% intervals (bench/lib/paired.ts).
 * `--sampling-parts` adds the steps between default and the sink (no listener, a listener that
 * does nothing with and without copies, the sink without tensors), 16 rounds (~2.5 min).
 *
 *   npx tsx bench/monitoring.ts [--quick] [--cost-only | --sampling-target | --sampling-parts]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { JsonlSink, ModelHost, type ModelOptions } from './lib/modelhost.js';
import { nullRuntime } from './lib/null-runtime.js';
import { runClosedLoop } from './lib/closed-loop.js';
import { medianInterval } from './lib/paired.js';
import { threadCpu } from './lib/thread-cpu.js';
import { inputRows, writeRepository } from './load/models.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 4;
const MEASURE_MS = quick ? 1000 : 2500;

type Side = 'default' | 'sampling 0.01' | 'sampling 0.01 + drift' | 'sampling 1.0' | 'sampling 1.0 + drift' | 'cache miss' | 'cache hit';
const SIDES: readonly Side[] = ['default', 'sampling 0.01', 'sampling 0.01 + drift', 'sampling 1.0', 'sampling 1.0 + drift', 'cache miss', 'cache hit'];
const DRIFT = { enabled: true, referenceSize: 1000, windowSize: 500 };
const OPTIONS: Record<Side, ModelOptions> = {
  default: {},
  'sampling 0.01': { sampling: { rate: 0.01 } },
  'sampling 0.01 + drift': { sampling: { rate: 0.01 }, drift: DRIFT },
  'sampling 1.0': { sampling: { rate: 1 } },
  'sampling 1.0 + drift': { sampling: { rate: 1 }, drift: DRIFT },
  'cache miss': { cache: { enabled: true } },
  'cache hit': { cache: { enabled: true } },
};

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-monitoring-'));
  await writeRepository(root, ['mlp-onnx']);
  const repeated = inputRows('mlp-onnx', 256);
  const hosts = new Map<Side, ModelHost>();
  const sinks: JsonlSink[] = [];
  for (const side of SIDES) {
    const host = new ModelHost({
      repository: root,
      defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } },
      models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 }, ...OPTIONS[side] } },
    });
    if (side.startsWith('sampling')) sinks.push(await JsonlSink.open(host, { path: path.join(root, `samples-${sinks.length}.jsonl`), size: '10M', maxFiles: 2 }));
    await host.load('mlp-onnx');
    hosts.set(side, host);
  }

  let next = 0;
  let stamp = 0;
  // 'cache miss': every row distinct (a copy stamped with a counter; float32 is exact to 2^24), so every request runs the model.
  const distinctRow = () => {
    const row = repeated[stamp & 255]!.slice();
    row[0] = ++stamp;
    return row;
  };
  const rowFor = (side: Side) => (side === 'cache miss' ? distinctRow() : repeated[next++ & 255]!);
  const totals = new Map<Side, { requests: number; ms: number }>(SIDES.map((s) => [s, { requests: 0, ms: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of order) {
      const host = hosts.get(side)!;
      const result = await runClosedLoop({ concurrency: 64, request: () => host.predict('mlp-onnx', rowFor(side)), warmup: { ms: 300 }, measure: { ms: MEASURE_MS } });
      if (result.errors > 0) throw new Error(`${side}: ${result.errors} errors, first: ${result.firstError}`);
      const t = totals.get(side)!;
      t.requests += result.requests;
      t.ms += result.elapsedMs;
      process.stderr.write(`round ${round + 1} ${side}: ${Math.round(result.requestsPerSec)} req/s\n`);
    }
  }

  // One sequential caller: what a cache hit costs against running the MLP (every request a miss).
  const sequential = async (side: 'default' | 'cache hit' | 'cache miss') => {
    const host = hosts.get(side)!;
    const r = await runClosedLoop({ concurrency: 1, request: () => host.predict('mlp-onnx', rowFor(side)), warmup: { ms: 300 }, measure: { ms: MEASURE_MS } });
    return r.latency;
  };
  const run = await sequential('default');
  const miss = await sequential('cache miss');
  const hit = await sequential('cache hit');
  // The same, as back-to-back calls timed in aggregate: no clock read or histogram record per
  // request, so the harness's ~1 µs per request (which dwarfs a hit) is not counted on either side.
  const back = { run: Infinity, hit: Infinity };
  for (let round = 0; round < 3; round++) {
    for (const [side, host] of [['run', hosts.get('default')!], ['hit', hosts.get('cache hit')!]] as const) {
      const n = quick ? 50_000 : 200_000;
      const row = rowFor(side === 'run' ? 'default' : 'cache hit');
      const began = performance.now();
      for (let i = 0; i < n; i++) await host.predict('mlp-onnx', row);
      back[side] = Math.min(back[side], ((performance.now() - began) * 1000) / n);
    }
  }

  const rate = (side: Side) => totals.get(side)!.requests / (totals.get(side)!.ms / 1000);
  const lines = ['| host | req/s | ÷ default |', '|---|--:|--:|'];
  for (const side of SIDES) lines.push(`| ${side} | ${Math.round(rate(side)).toLocaleString('en-US')} | ${(rate(side) / rate('default')).toFixed(3)} |`);
  console.log(`\nMLP onnx, 64 closed-loop callers, ${ROUNDS} interleaved rounds of ${MEASURE_MS} ms per side\n`);
  console.log(lines.join('\n'));
  console.log(`\nsampling 0.01 ÷ default: ${(rate('sampling 0.01') / rate('default')).toFixed(3)}, with drift: ${(rate('sampling 0.01 + drift') / rate('default')).toFixed(3)} (target ≥ 0.97)`);
  console.log(
    `one sequential caller, p50: cache hit ${(hit.p50 * 1000).toFixed(1)} µs, a run of the MLP (default host) ${(run.p50 * 1000).toFixed(1)} µs, a cache miss ${(miss.p50 * 1000).toFixed(1)} µs: a hit is ${(run.p50 / hit.p50).toFixed(1)}× faster than a run (each p50 holds the harness's own ~1 µs per request, more than a hit costs: the target is read in aggregate, below)`,
  );
  console.log(
    `one sequential caller, back-to-back calls timed in aggregate (best of 3): cache hit ${back.hit.toFixed(2)} µs, a run of the MLP ${back.run.toFixed(2)} µs: a hit is ${(back.run / back.hit).toFixed(1)}× faster than a run (target ≥ 10×: ${back.run / back.hit >= 10 ? 'met' : 'missed'})`,
  );
  const dropped = sinks.reduce((n, s) => n + s.dropped, 0);
  console.log(`JSON-lines sink: ${sinks.reduce((n, s) => n + s.written, 0).toLocaleString('en-US')} lines written, ${dropped} dropped`);
  for (const sink of sinks) await sink.close();
  for (const host of hosts.values()) await host.close();
  await rm(root, { recursive: true, force: true });
}

/**
 * The same sides on a runtime that does no work (outputs 10 constant scores), 64 requests
 * at a time, sequential rounds: what monitoring itself costs per request, in µs, with the
 * model's own time out of the way. Less exposed to other processes than req/s ratios.
 */
async function perRequestCost(): Promise<void> {
  const runtime = nullRuntime(0.1);

  const rows = inputRows('mlp-onnx', 256);
  // The sink: none, in-thread to a discarding stream, or its worker (the default) or `thread: false` writing a rotating file.
  type SinkKind = false | 'noop' | 'stream' | 'worker' | 'file in-thread';
  const cases: [string, ModelOptions, SinkKind][] = [
    ['default', {}, false],
    ['sampling 0.01 + JSON-lines sink (in-thread, discarding stream)', { sampling: { rate: 0.01 } }, 'stream'],
    ['sampling 0.01 + sink + drift', { sampling: { rate: 0.01 }, drift: { enabled: true } }, 'stream'],
    ['sampling 1.0, no listener', { sampling: { rate: 1 } }, false],
    ['sampling 1.0 + a listener that does nothing (copies, the event)', { sampling: { rate: 1 } }, 'noop'],
    ['sampling 1.0 + JSON-lines sink (in-thread, discarding stream)', { sampling: { rate: 1 } }, 'stream'],
    ['sampling 1.0 + sink in its worker, rotating file', { sampling: { rate: 1 } }, 'worker'],
    ['sampling 1.0 + sink `thread: false`, rotating file', { sampling: { rate: 1 } }, 'file in-thread'],
    ['sampling 1.0 + sink + drift (64 + 1 features)', { sampling: { rate: 1 }, drift: { enabled: true } }, 'stream'],
    ['cache, every request a hit', { cache: { enabled: true } }, false],
    ['cache, every request a miss', { cache: { enabled: true } }, false],
  ];
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-cost-'));
  const results: [string, number][] = [];
  let stamp = 0;
  // A throwaway first case warms the JIT on the shared path, so 'default' is not measured cold.
  for (const [name, options, sink] of [['warmup', {}, false] as (typeof cases)[number], ...cases]) {
    const host = new ModelHost({ runtimes: { null: runtime }, models: { m: { runtime: 'null', ...options } } });
    const opened =
      sink === 'stream'
        ? await JsonlSink.open(host, { stream: new Writable({ write: (_chunk, _encoding, done) => done() }) })
        : sink === false || sink === 'noop'
          ? undefined
          : // 64 MiB: room for every sample of a case (~250 bytes each in the ring), so none is dropped and each is counted.
            await JsonlSink.open(host, { path: path.join(root, `cost-${results.length}.jsonl`), size: '10M', maxFiles: 2, thread: sink === 'worker', maxBufferBytes: 64 * 1024 * 1024 });
    if (sink === 'noop') host.on('requestSampled', () => undefined);
    await host.load('m', { source: { files: { 'model.null': 'null' } } });
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      // A miss: a row stamped with a counter (the copy is made for every case, so only the cache differs).
      const row = (i: number) => {
        const copy = rows[i & 255]!.slice();
        if (name.endsWith('miss')) copy[0] = ++stamp;
        return copy;
      };
      for (let r = 0; r < 20_000 / 64; r++) await Promise.all(Array.from({ length: 64 }, (_, i) => host.predict('m', row(r * 64 + i))));
      best = Math.min(best, ((performance.now() - started) / 20_000) * 1000);
    }
    await opened?.close();
    if (name !== 'warmup') results.push([opened === undefined || opened.dropped === 0 ? name : `${name} (${opened.dropped.toLocaleString('en-US')} of ${(opened.written + opened.dropped).toLocaleString('en-US')} dropped)`, best]);
    await host.close();
  }
  await rm(root, { recursive: true, force: true });
  const base = results[0]![1];
  console.log('\nPer request on a runtime that does no work (best of 5 × 20 000 requests, 64 at a time)\n');
  console.log(['| host | µs / request | monitoring\'s own µs |', '|---|--:|--:|', ...results.map(([name, us]) => `| ${name} | ${us.toFixed(2)} | ${(us - base).toFixed(2)} |`)].join('\n'));
}

/** One host of a paired sampling run: its model options and what listens to `requestSampled`. */
interface SamplingSide {
  readonly name: string;
  readonly options: ModelOptions;
  /** `sink`: a JsonlSink writing a rotating file from its worker thread (the default); `sink in-thread`: the same with `thread: false`. */
  readonly listener: 'none' | 'noop' | 'sink' | 'sink in-thread';
}

const TARGET_SIDES: readonly SamplingSide[] = [
  { name: 'default', options: {}, listener: 'none' },
  { name: 'control', options: {}, listener: 'none' },
  { name: 'sampling 0.01 + sink', options: { sampling: { rate: 0.01 } }, listener: 'sink' },
  { name: 'sampling 0.01 + sink, thread: false', options: { sampling: { rate: 0.01 } }, listener: 'sink in-thread' },
];

/** The target's sampling host taken apart: what each step of a sampled request adds. */
const PARTS_SIDES: readonly SamplingSide[] = [
  ...TARGET_SIDES.slice(0, 2),
  { name: 'rate 0.01, no listener', options: { sampling: { rate: 0.01 } }, listener: 'none' },
  { name: 'include [], noop listener', options: { sampling: { rate: 0.01, include: [] } }, listener: 'noop' },
  { name: 'copies, noop listener', options: { sampling: { rate: 0.01 } }, listener: 'noop' },
  { name: 'include [], sink', options: { sampling: { rate: 0.01, include: [] } }, listener: 'sink' },
  ...TARGET_SIDES.slice(2),
];

/**
 * The sampling target on its own: hosts in a fresh repository (default; a second default, the
 * control; sampling 0.01 with a JSON-lines sink writing a rotating file from its worker, and
 * with `thread: false`; with
 * `--sampling-parts`, the steps between them too), nothing else loaded, so neither the cache
 * sides' ~100k LRU entries nor sampling 1.0's garbage slow the collector for the others.
 * Rounds of one 1 s window per host, the order rotating round to round; per round, each host ÷
 * default. The medians and their 95% intervals say what sampling costs, and what the bench
 * reads when nothing differs (the control: its bias and spread bound what a ratio can show).
 */
async function samplingTarget(sides: readonly SamplingSide[], rounds: number): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-sampling-'));
  await writeRepository(root, ['mlp-onnx']);
  const rows = inputRows('mlp-onnx', 256);
  const open = async (side: SamplingSide) => {
    const host = new ModelHost({
      repository: root,
      defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } },
      models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 }, ...side.options } },
    });
    // A rotating file in the bench's temporary directory (10 MB × 2 at most), as a user's sink writes.
    const file = path.join(root, `samples-${hosts.length}.jsonl`);
    const sink = side.listener.startsWith('sink') ? await JsonlSink.open(host, { path: file, size: '10M', maxFiles: 2, thread: side.listener === 'sink' }) : undefined;
    let heard = 0;
    if (side.listener === 'noop') host.on('requestSampled', () => void heard++);
    await host.load('mlp-onnx');
    return { host, sink, heard: () => heard };
  };
  const hosts: Awaited<ReturnType<typeof open>>[] = [];
  for (const side of sides) hosts.push(await open(side));
  let next = 0;
  const request = (host: ModelHost) => () => host.predict('mlp-onnx', rows[next++ & 255]!);
  // CPU per request of the main thread and of the process's other threads (the sink's worker, GC helpers, file writes).
  const cpu: { main: number; others: number }[][] = sides.map(() => []);
  const measure = async (i: number) => {
    const { host } = hosts[i]!;
    await runClosedLoop({ concurrency: 64, request: request(host), warmup: { ms: 200 }, measure: { ms: 10 } });
    const before = threadCpu();
    const r = await runClosedLoop({ concurrency: 64, request: request(host), warmup: { ms: 0 }, measure: { ms: 1000 } });
    const after = threadCpu();
    if (r.errors > 0) throw new Error(`${sides[i]!.name}: ${r.errors} errors, first: ${r.firstError}`);
    if (before !== undefined && after !== undefined) cpu[i]!.push({ main: (after.mainNs - before.mainNs) / r.requests, others: (after.othersNs - before.othersNs) / r.requests });
    return r.requestsPerSec;
  };
  const ratios: number[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const rate: number[] = new Array(sides.length).fill(0);
    // Each host goes first, second, … equally often over a multiple of the hosts' count of rounds.
    for (let k = 0; k < sides.length; k++) {
      const i = (k + round) % sides.length;
      rate[i] = await measure(i);
    }
    for (let i = 0; i < sides.length; i++) ratios[i]!.push(rate[i]! / rate[0]!);
    process.stderr.write(`round ${round + 1}/${rounds}: ${sides.map((s, i) => `${s.name} ${Math.round(rate[i]!)}`).join(', ')} req/s; ÷ default ${ratios.slice(1).map((r) => r.at(-1)!.toFixed(3)).join(' ')}\n`);
  }
  const interval = (m: ReturnType<typeof medianInterval>) => `${m.median.toFixed(3)} (${(m.confidence * 100).toFixed(1)}% interval ${m.low.toFixed(3)}–${m.high.toFixed(3)})`;
  console.log(`\nSampling: MLP onnx, 64 callers, ${rounds} rounds of 1 s per host, nothing else loaded; each host ÷ default, median of the rounds`);
  for (let i = 1; i < sides.length; i++) {
    const m = medianInterval(ratios[i]!);
    const side = sides[i]!;
    const target = side === TARGET_SIDES[2] ? `; target ≥ 0.97: ${m.median >= 0.97 ? 'met' : 'missed'}${m.low >= 0.97 ? ', by the whole interval' : ''}` : '';
    const seen = side.listener.startsWith('sink') ? `, ${hosts[i]!.sink!.written.toLocaleString('en-US')} lines, ${hosts[i]!.sink!.dropped.toLocaleString('en-US')} dropped` : side.listener === 'noop' ? `, ${hosts[i]!.heard().toLocaleString('en-US')} samples heard` : '';
    console.log(`| ${side.name} | ${interval(m)}${target}${seen} |`);
  }
  if (cpu[0]!.length === rounds) {
    // What each host's code costs in CPU, whatever else the machine runs: per round, its main thread's ns per request ÷ the default host's.
    console.log(`\nCPU per request (medians of the rounds; /proc/self/task): main thread ÷ default's, its ns, and the other threads' ns (the sink's worker, GC helpers, file writes)`);
    for (let i = 0; i < sides.length; i++) {
      const main = medianInterval(cpu[i]!.map((c, k) => c.main / cpu[0]![k]!.main));
      const ns = (pick: (c: { main: number; others: number }) => number) => medianInterval(cpu[i]!.map(pick)).median.toFixed(0);
      console.log(`| ${sides[i]!.name} | ${i === 0 ? '1' : interval(main)} | main ${ns((c) => c.main)} ns | others ${ns((c) => c.others)} ns |`);
    }
  }
  for (const { host, sink } of hosts) {
    await sink?.close();
    await host.close();
  }
  await rm(root, { recursive: true, force: true });
}

const samplingRounds = (hosts: number) => (quick ? 9 : hosts > 3 ? 16 : 24);

if (process.argv.includes('--sampling-target')) await samplingTarget(TARGET_SIDES, samplingRounds(TARGET_SIDES.length));
else if (process.argv.includes('--sampling-parts')) await samplingTarget(PARTS_SIDES, samplingRounds(PARTS_SIDES.length));
else {
  if (!process.argv.includes('--cost-only')) {
    await main();
    await samplingTarget(TARGET_SIDES, samplingRounds(TARGET_SIDES.length));
  }
  await perRequestCost();
}
