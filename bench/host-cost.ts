/**
 * What modelhost itself costs per request: 64 callers (waves of 64 `predict` calls awaited
 * together) and one, on a runtime that does no work, with the default host, stats off, and
 * the circuit breaker off, and with an AbortSignal per caller (an HTTP connection's).
 * Microseconds per request, best of 5 rounds.
 *
 *   npx tsx bench/host-cost.ts [--quick]
 */
import { ModelHost, type ModelHostOptions } from './lib/modelhost.js';
import { nullRuntime } from './lib/null-runtime.js';
import { inputRows } from './load/models.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 20_000 : 100_000;
const runtime = nullRuntime();

const rows = inputRows('mlp-onnx', 256);

/** `signals`: each caller passes its own AbortSignal with every request, as a keep-alive HTTP connection's requests do. */
async function cost(options: Partial<ModelHostOptions>, concurrency: number, signals = false): Promise<number> {
  const host = new ModelHost({ runtimes: { null: runtime }, defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 } }, models: { m: { runtime: 'null' } }, ...options });
  await host.load('m', { source: { files: { 'model.null': 'null' } } });
  let best = Number.POSITIVE_INFINITY;
  const wave = new Array<Promise<unknown>>(concurrency);
  const callers = Array.from({ length: concurrency }, () => (signals ? { signal: new AbortController().signal } : undefined));
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (let r = 0; r < REQUESTS / concurrency; r++) {
      for (let i = 0; i < concurrency; i++) wave[i] = host.predict('m', rows[(r * concurrency + i) & 255]!, callers[i]);
      await Promise.all(wave);
    }
    best = Math.min(best, ((performance.now() - started) / REQUESTS) * 1000);
  }
  await host.close();
  return best;
}

await cost({}, 64); // JIT warmup
for (const c of [64, 1]) {
  const on = await cost({}, c);
  const off = await cost({ stats: false }, c);
  // The circuit breaker records every batch's verdict (opossum's fire): at one caller, every request's.
  const noBreaker = await cost({ models: { m: { runtime: 'null', breaker: { enabled: false } } } }, c);
  const signal = await cost({}, c, true);
  console.log(`C=${c}: default ${on.toFixed(3)} µs/request, stats off ${off.toFixed(3)} µs/request, breaker off ${noBreaker.toFixed(3)} µs/request, a signal per caller ${signal.toFixed(3)} µs/request`);
}
