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
 *   flock /tmp/modelhost-bench.lock npx tsx bench/poison-flood.ts [--quick]
 *
 * Compare the ratios within one run (flood / no flood), not absolute numbers.
 */
import { ModelHost, type ModelHostError, type Runtime, type Session, type Tensor } from '../src/index.js';

const quick = process.argv.includes('--quick');
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

async function measure(floodRate: number) {
  const runtime = floodRuntime();
  const host = new ModelHost({
    runtimes: { flood: runtime },
    defaults: { batching: { maxBatchSize: 8, maxDelayMs: 1 }, warmup: false, queue: { maxSize: 256 } },
  });
  await host.load('m', { source: { files: { 'model.fake': 'fake' } }, config: { runtime: 'flood' } });
  let breakerChanges = 0;
  host.on('breakerStateChanged', () => breakerChanges++);
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
        await host.predict('m', [i % 512, 1, 2, 3]);
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
          host.predict('m', [POISON, 0, 0, 0]).then(
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
  const runsBefore = runtime.runs;
  await Promise.all([flood(), ...Array.from({ length: GOOD_CALLERS }, (_, c) => good(c))]);
  await Promise.all(poisoned);
  const runs = runtime.runs - runsBefore;
  await host.close();
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
    failedRuns: runtime.failedRuns,
    breakerChanges,
  };
}

console.log(`poison flood: ${GOOD_CALLERS} closed-loop callers of well-formed requests for ${SECONDS} s, a runtime run of ${RUN_MS} ms (sync), batches of up to 8\n`);
console.log('| poison/s sent | good answered/s | good p50 ms | good p99 ms | good failed (codes) | poison answered (codes) | runtime runs | runs that threw | breaker changes |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const rate of FLOOD_RATES) {
  const r = await measure(rate);
  console.log(
    `| ${r.floodRate} (${r.poisonSent} sent) | ${r.goodPerSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.goodFailed} (${r.goodCodes}) | ${r.poisonCodes} | ${r.runs} | ${r.failedRuns} | ${r.breakerChanges} |`,
  );
}
