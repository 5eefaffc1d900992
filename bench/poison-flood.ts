/**
 * Poison flood: what a client that sends only inputs the runtime refuses (each passes
 * validation; the runtime throws on it) does to other clients' well-formed requests, in one
 * process with `host.predict`. A failure alone is re-run to be blamed (docs/observability.md,
 * "Who is blamed"), so each poisoned request costs extra runs; this measures how many, and the
 * goodput and p99 of the other callers while the flood runs, against the same load without it.
 *
 * The runtime: inline, `x: float32 [-1, 4]` → `2x + 1`, a synchronous busy run of RUN_MS per
 * batch (a CPU runtime on the host's thread), throwing on any batch holding a row whose first
 * value is POISON (always with the same message: an input the runtime refuses).
 *
 * `--http`: the same over HTTP (KServe v2 infer, `createNodeListener` on `node:http`), the host
 * in a child process, the callers here (answers counted by status: 400, 500, 429).
 *
 *   flock /tmp/modelhost-bench.lock npx tsx bench/poison-flood.ts [--quick] [--http]
 *
 * Compare the ratios within one run (flood / no flood), not absolute numbers.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeListener } from '../src/adapters/http/index.js';
import { ModelHost, type ModelHostError, type Runtime, type Session, type Tensor } from '../src/index.js';

const quick = process.argv.includes('--quick');
const http = process.argv.includes('--http');
const SECONDS = quick ? 3 : 6;
const RUN_MS = 1;
const POISON = 666;
const GOOD_CALLERS = 4;
/** Poisoned requests the attacker sends per second, open loop (it does not wait for answers). */
const FLOOD_RATES = quick ? [0, 200, 1000] : [0, 100, 300, 1000];

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

interface CountingRuntime extends Runtime {
  runs: number;
  failedRuns: number;
}

function floodRuntime(): CountingRuntime {
  const runtime: CountingRuntime = {
    name: 'flood',
    runs: 0,
    failedRuns: 0,
    canLoad: () => true,
    async load(): Promise<Session> {
      return {
        signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 4] }] },
        async run(inputs: Record<string, Tensor>) {
          runtime.runs++;
          const x = inputs['x']!.data as Float32Array;
          busy(RUN_MS);
          for (let r = 0; r < x.length; r += 4) {
            if (x[r] === POISON) {
              runtime.failedRuns++;
              throw new Error('Got invalid value in input x');
            }
          }
          const y = new Float32Array(x.length);
          for (let i = 0; i < y.length; i++) y[i] = 2 * x[i]! + 1;
          return { y: { data: y, shape: [...inputs['x']!.shape], dtype: 'float32' } };
        },
        dispose() {},
      };
    },
  };
  return runtime;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function floodHost() {
  const runtime = floodRuntime();
  const host = new ModelHost({
    runtimes: { flood: runtime },
    defaults: { batching: { maxBatchSize: 8, maxDelayMs: 1 }, warmup: false, queue: { maxSize: 256 } },
  });
  await host.load('m', { source: { files: { 'model.fake': 'fake' } }, config: { runtime: 'flood' } });
  const stats = { breakerChanges: 0 };
  host.on('breakerStateChanged', () => stats.breakerChanges++);
  return { host, runtime, stats };
}

/** `--server`: a flood host behind node:http; prints its port, then on stdin EOF prints its counts and exits. */
async function server(): Promise<void> {
  const { host, runtime, stats } = await floodHost();
  const listener = createServer(createNodeListener(host));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  console.log(JSON.stringify({ port: (listener.address() as AddressInfo).port }));
  process.stdin.resume();
  process.stdin.on('end', () => {
    console.log(JSON.stringify({ runs: runtime.runs, failedRuns: runtime.failedRuns, breakerChanges: stats.breakerChanges }));
    process.exit(0);
  });
}

const STATUS_CODES: Record<number, string> = { 400: 'INVALID_INPUT', 429: 'QUEUE_FULL', 500: 'INFERENCE_FAILED', 503: 'CIRCUIT_OPEN?' };

class HttpError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** A flood host in a child process, and a `predict` that calls it over HTTP. */
async function httpHost() {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--server'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let at: number;
    while ((at = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
      waiting?.();
    }
  });
  const nextLine = async () => {
    while (lines.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    return JSON.parse(lines.shift()!) as Record<string, number>;
  };
  const { port } = await nextLine();
  const url = `http://127.0.0.1:${port}/v2/models/m/infer`;
  const predict = async (_model: string, data: number[]) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data }] }) });
    await response.arrayBuffer();
    if (response.status !== 200) throw new HttpError(STATUS_CODES[response.status] ?? String(response.status));
  };
  const close = async () => {
    child.stdin.end();
    return nextLine();
  };
  return { predict, close };
}

async function measure(floodRate: number) {
  let predict: (model: string, data: number[]) => Promise<unknown>;
  let close: () => Promise<{ runs: number; failedRuns: number; breakerChanges: number }>;
  if (http) {
    const remote = await httpHost();
    predict = remote.predict;
    close = remote.close as typeof close;
  } else {
    const { host, runtime, stats } = await floodHost();
    predict = (model, data) => host.predict(model, data);
    close = async () => {
      await host.close();
      return { runs: runtime.runs, failedRuns: runtime.failedRuns, breakerChanges: stats.breakerChanges };
    };
  }
  const until = performance.now() + SECONDS * 1000;
  const latencies: number[] = [];
  let goodFailed = 0;
  const goodCodes = new Map<string, number>();
  const poisonCodes = new Map<string, number>();
  let poisonSent = 0;
  const good = async (caller: number) => {
    let i = caller;
    while (performance.now() < until) {
      const started = performance.now();
      try {
        await predict('m', [i % 512, 1, 2, 3]);
        latencies.push(performance.now() - started);
      } catch (error) {
        goodFailed++;
        const code = (error as ModelHostError).code ?? 'none';
        goodCodes.set(code, (goodCodes.get(code) ?? 0) + 1);
      }
      i += GOOD_CALLERS;
    }
  };
  const poisoned: Promise<void>[] = [];
  const flood = async () => {
    if (floodRate === 0) return;
    const started = performance.now();
    while (performance.now() < until) {
      const due = Math.floor(((performance.now() - started) / 1000) * floodRate);
      while (poisonSent < due) {
        poisonSent++;
        poisoned.push(
          predict('m', [POISON, 0, 0, 0]).then(
            () => {
              poisonCodes.set('ok', (poisonCodes.get('ok') ?? 0) + 1);
            },
            (error: ModelHostError) => {
              const code = error.code ?? 'none';
              poisonCodes.set(code, (poisonCodes.get(code) ?? 0) + 1);
            },
          ),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await Promise.all([flood(), ...Array.from({ length: GOOD_CALLERS }, (_, c) => good(c))]);
  await Promise.all(poisoned);
  const { runs, failedRuns, breakerChanges } = await close();
  latencies.sort((a, b) => a - b);
  return {
    floodRate,
    goodPerSecond: latencies.length / SECONDS,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    goodFailed,
    goodCodes: [...goodCodes].map(([c, n]) => `${c}:${n}`).join(' ') || '-',
    poisonSent,
    poisonCodes: [...poisonCodes].map(([c, n]) => `${c}:${n}`).join(' ') || '-',
    runs,
    failedRuns,
    breakerChanges,
  };
}

if (process.argv.includes('--server')) {
  await server();
} else {
  await main();
}

async function main(): Promise<void> {
console.log(`poison flood${http ? ' over HTTP' : ''}: ${GOOD_CALLERS} closed-loop callers of well-formed requests for ${SECONDS} s, a runtime run of ${RUN_MS} ms (sync), batches of up to 8\n`);
console.log('| poison/s sent | good answered/s | good p50 ms | good p99 ms | good failed (codes) | poison answered (codes) | runtime runs | runs that threw | breaker changes |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const rate of FLOOD_RATES) {
  const r = await measure(rate);
  console.log(
    `| ${r.floodRate} (${r.poisonSent} sent) | ${r.goodPerSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.goodFailed} (${r.goodCodes}) | ${r.poisonCodes} | ${r.runs} | ${r.failedRuns} | ${r.breakerChanges} |`,
  );
}
}
