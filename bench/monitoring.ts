/**
 * What monitoring costs: the MLP (onnx) at 64 closed-loop callers with the default host
 * (stats on) against the same host with payload sampling at 0.01 and at 1.0 (a JSON-lines
 * sink listening, writing to a discarding stream), sampling 1.0 with drift on, and the
 * response cache missing every time (distinct rows) or hitting every time (repeated rows).
 * Then one sequential caller: a cache hit against a run of the MLP (a miss).
 * Sides are interleaved (a b c … c b a) so drift of the machine hits all alike.
 *
 *   npx tsx bench/monitoring.ts [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { JsonlSink, ModelHost, type ModelOptions } from '../src/index.js';
import { runClosedLoop } from './lib/closed-loop.js';
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
  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  for (const side of SIDES) {
    const host = new ModelHost({
      repository: root,
      defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } },
      models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 }, ...OPTIONS[side] } },
    });
    if (side.startsWith('sampling')) sinks.push(await JsonlSink.open(host, { stream: discard() }));
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

  const rate = (side: Side) => totals.get(side)!.requests / (totals.get(side)!.ms / 1000);
  const lines = ['| host | req/s | ÷ default |', '|---|--:|--:|'];
  for (const side of SIDES) lines.push(`| ${side} | ${Math.round(rate(side)).toLocaleString('en-US')} | ${(rate(side) / rate('default')).toFixed(3)} |`);
  console.log(`\nMLP onnx, 64 closed-loop callers, ${ROUNDS} interleaved rounds of ${MEASURE_MS} ms per side\n`);
  console.log(lines.join('\n'));
  console.log(`\nsampling 0.01 ÷ default: ${(rate('sampling 0.01') / rate('default')).toFixed(3)}, with drift: ${(rate('sampling 0.01 + drift') / rate('default')).toFixed(3)} (target ≥ 0.97)`);
  console.log(
    `one sequential caller, p50: cache hit ${(hit.p50 * 1000).toFixed(1)} µs, a run of the MLP (default host) ${(run.p50 * 1000).toFixed(1)} µs, a cache miss ${(miss.p50 * 1000).toFixed(1)} µs: a hit is ${(run.p50 / hit.p50).toFixed(1)}× faster than a run (target ≥ 10×)`,
  );
  const dropped = sinks.reduce((n, s) => n + s.dropped, 0);
  console.log(`JSON-lines sink: ${sinks.reduce((n, s) => n + s.written, 0).toLocaleString('en-US')} lines written, ${dropped} dropped`);
  for (const sink of sinks) await sink.close();
  for (const host of hosts.values()) await host.close();
  await rm(root, { recursive: true, force: true });
}

await main();
