/**
 * False blame: how many requests that fail on a runtime whose failures do not depend on the
 * input are answered 400 INVALID_INPUT ("the runtime rejected this request's inputs") rather
 * than 500 INFERENCE_FAILED, at several failure rates, one request at a time and in bursts
 * of 8 batched together (a failed batch is bisected). The runtime throws on a seeded random
 * share of its runs, always with the same message (test/helpers/flaky-runtime.ts). Counts,
 * not timings: it runs modelhost from its sources, and each side takes well under a second.
 * docs/observability.md ("Who is blamed") quotes its output.
 *
 *   flock /tmp/modelhost-bench.lock npx tsx bench/false-blame.ts [--quick]
 */
import { ErrorCode, ModelHost, type ModelHostError } from '../src/index.js';
import { FAKE_SOURCE } from '../test/helpers/fake-runtime.js';
import { flakyRuntime } from '../test/helpers/flaky-runtime.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 2_000 : 8_000;
const RATES = [0.05, 0.1, 0.25, 0.5];
const SIDES = [
  { label: 'one at a time', burst: 1 },
  { label: 'bursts of 8', burst: 8 },
] as const;

async function measure(rate: number, burst: number, seed: number) {
  const runtime = flakyRuntime(rate, seed);
  const host = new ModelHost({
    runtimes: { flaky: runtime },
    // The breaker never opens: every failure reaches its classification.
    defaults: { batching: burst === 1 ? false : { maxBatchSize: burst, maxDelayMs: 1 }, breaker: { volumeThreshold: 1_000_000 }, warmup: false, queue: { maxSize: 10_000 } },
  });
  await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'flaky' } });
  let failed = 0;
  let blamed = 0;
  for (let sent = 0; sent < REQUESTS; sent += burst) {
    const answers = await Promise.all(Array.from({ length: burst }, (_, i) => host.predict('m', [(sent + i) % 512, 0, 0, 0]).then(() => undefined, (error: ModelHostError) => error)));
    for (const error of answers) {
      if (error === undefined) continue;
      failed++;
      if (error.code === ErrorCode.INVALID_INPUT) blamed++;
    }
  }
  await host.close();
  return { failed, blamed, runs: runtime.runs };
}

console.log(`false blame: ${REQUESTS} healthy requests per row; the runtime throws on a random share of its runs\n`);
console.log('| runs failing | sent | requests failed | answered 400 | share of failures | runtime runs per request |');
console.log('|---|---|---|---|---|---|');
for (const { label, burst } of SIDES) {
  for (const rate of RATES) {
    const { failed, blamed, runs } = await measure(rate, burst, 17);
    const share = failed === 0 ? 0 : blamed / failed;
    console.log(`| ${(rate * 100).toFixed(0)}% | ${label} | ${failed} | ${blamed} | ${(share * 100).toFixed(1)}% | ${(runs / REQUESTS).toFixed(2)} |`);
  }
}
