/**
 * Micro benchmarks of modelhost's per-request hot path (tinybench 6): input validation,
 * batch concat/split and the scheduler's queue. Each sample times a loop of many calls,
 * because one call (~100 ns) is close to the timer's own cost.
 *
 *   npx tsx bench/micro.ts [--quick] [--json path]
 */
import { Bench, type FnReturnedObject, type Task as BenchTask } from 'tinybench';
import { concatRows, InputValidator, splitRows, type Signature, type Tensor } from '../src/tensor/index.js';
import { isMain, parseBenchArgs, type BenchArgs } from './lib/cli.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { formatCount, formatNs, formatTable } from './lib/table.js';
import { taskQueueCases } from './micro/task-queue-cases.js';

export interface MicroResult {
  readonly name: string;
  readonly opsPerSec: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  /** Relative margin of error of the mean, percent. */
  readonly rme: number;
  readonly samples: number;
  readonly innerCalls: number;
}

export interface MicroReport {
  readonly startedAt: string;
  readonly results: readonly MicroResult[];
  readonly notes: readonly string[];
  readonly wallMs: number;
}

// Results land here so the engine cannot drop the calls as dead code.
let sink: unknown;

/**
 * Calls timed together as one sample: 0.2–5 ms per sample for these 0.2–5 µs operations,
 * so the ~0.1 µs cost of reading the clock disappears; tinybench's warmup phase lets the
 * JIT settle first (it needs tens of ms here).
 */
const CALLS_PER_SAMPLE = 1000;

const MLP_SIGNATURE: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: [-1, 10] }],
};

export async function runMicroBench(args: Pick<BenchArgs, 'quick'>): Promise<MicroReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const bench = new Bench({ name: 'hot path', time: args.quick ? 100 : 400, warmupTime: args.quick ? 50 : 150, iterations: 10, throws: true });
  const add = (name: string, fn: () => unknown) => {
    bench.add(
      name,
      (): FnReturnedObject => {
        const t0 = performance.now();
        for (let i = 0; i < CALLS_PER_SAMPLE; i++) sink = fn();
        const elapsed = performance.now() - t0;
        return { overriddenDuration: elapsed / CALLS_PER_SAMPLE, overriddenIterationCost: elapsed };
      },
      { async: false },
    );
  };

  const validator = new InputValidator(MLP_SIGNATURE, { model: 'bench', version: 1 });
  const row = new Float32Array(64).map((_, i) => i / 64);
  const tensorInput = { x: { data: row, shape: [64] } };
  const nested = Array.from(row);
  const nestedBatch = [Array.from(row)];
  add('InputValidator.prepare: Float32Array(64), bare', () => validator.prepare(row, 'instance'));
  const namedInput = { x: row };
  add('InputValidator.prepare: { x: Float32Array(64) }', () => validator.prepare(namedInput, 'instance'));
  add('InputValidator.prepare: { x: { data, shape: [64] } }', () => validator.prepare(tensorInput, 'instance'));
  add('InputValidator.prepare: number[64] (nested array)', () => validator.prepare(nested, 'instance'));
  add('InputValidator.prepare: number[1][64], predictBatch', () => validator.prepare(nestedBatch, 'batch'));

  const parts: Tensor[] = Array.from({ length: 32 }, (_, i) => ({ data: new Float32Array(64).fill(i), shape: [1, 64], dtype: 'float32' }));
  add('concatRows: 32 × [1, 64] → [32, 64]', () => concatRows(parts));
  const batch: Tensor = { data: new Float32Array(32 * 10), shape: [32, 10], dtype: 'float32' };
  const ones = new Array<number>(32).fill(1);
  add('splitRows: [32, 10] → 32 × [1, 10]', () => splitRows(batch, ones));

  for (const [name, fn] of taskQueueCases()) add(name, fn);

  await bench.run();
  const results = bench.tasks.map(toResult);
  void sink;
  return {
    startedAt,
    results,
    notes: [`ns/op is per call (a TaskQueue call is 32 pushes + one take); one sample is the mean of ${CALLS_PER_SAMPLE} calls.`],
    wallMs: performance.now() - started,
  };
}

function toResult(task: BenchTask): MicroResult {
  const result = task.result;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    throw new Error(`micro bench '${task.name}' did not complete: ${result.state === 'errored' ? result.error.message : result.state}`);
  }
  const { latency } = result; // ms per call
  return {
    name: task.name,
    opsPerSec: 1000 / latency.mean,
    meanNs: latency.mean * 1e6,
    p50Ns: latency.p50 * 1e6,
    rme: latency.rme,
    samples: latency.samplesCount,
    innerCalls: CALLS_PER_SAMPLE,
  };
}

export function formatMicroReport(report: MicroReport): string {
  const rows = report.results.map((r) => [r.name, formatCount(r.opsPerSec), formatNs(r.meanNs), formatNs(r.p50Ns), `${r.rme.toFixed(1)}%`, String(r.samples)]);
  return [`Micro benchmarks (tinybench)`, '', formatTable(['bench', 'ops/s', 'mean ns/op', 'p50 ns/op', '±', 'samples'], rows), '', ...report.notes].join('\n');
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  const machine = machineInfo();
  process.stderr.write(`machine: ${describeMachine(machine)}\n`);
  const report = await runMicroBench(args);
  console.log(formatMicroReport(report));
  // latest.json holds a full or load run; a micro-only run goes only where it is asked to.
  if (args.json !== undefined) await writeResults({ machine, micro: report }, { extraPath: args.json, latest: false });
}

if (isMain(import.meta.url)) await main();
