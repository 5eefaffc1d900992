/**
 * Issue 17: what modelhost/http's handler costs per KServe v2 infer request beyond a bare
 * one, in-process and without sockets: 64 callers (waves of 64 awaited together) on a
 * runtime that does no work, each request from the same JSON body bytes. `bare` parses it,
 * awaits `host.predict` and stringifies the answer (bench/http/bare-server.mjs's handler);
 * `handler` calls `createHttpHandler(host)` with the request. Prints µs per request (best of
 * the rounds) and minor GCs per 10k requests (a proxy for bytes allocated), alternated.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock node bench/http/handler-cost.mjs [requests=100000] [rounds=5]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { ModelHost } from '../../dist/index.js';
import { createHttpHandler } from '../../dist/http.js';

const REQUESTS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);
/** `handler` alone (e.g. under --cpu-prof), or both alternated. */
const ONLY = process.argv[4];
const WAVE = 64;

const signature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 10] }] };
const runtime = {
  name: 'null',
  canLoad: () => true,
  load: async () => ({
    signature,
    run: async (inputs) => {
      const rows = inputs['x'].shape[0];
      const data = new Float32Array(rows * 10);
      for (let i = 0; i < data.length; i++) data[i] = i / 7;
      return { y: { data, shape: [rows, 10], dtype: 'float32' } };
    },
    dispose: () => undefined,
  }),
};
const host = new ModelHost({ runtimes: { null: runtime }, defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } }, models: { m: { runtime: 'null' } } });
await host.load('m', { source: { files: { 'model.null': 'null' } } });

let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const bodies = Array.from({ length: 256 }, () => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, () => Math.fround(random() * 2 - 1)) }] })));
const signal = new AbortController().signal;
const handle = createHttpHandler(host);
const headers = { host: 'localhost', 'content-type': 'application/json', 'content-length': String(bodies[0].byteLength) };

async function bare(body) {
  const input = JSON.parse(body.toString('utf8')).inputs[0];
  const outputs = await host.predict('m', { [input.name]: new Float32Array(input.data) });
  return JSON.stringify({ model_name: 'm', outputs: Object.entries(outputs).map(([name, t]) => ({ name, datatype: 'FP32', shape: [1, ...t.shape], data: Array.from(t.data) })) });
}

async function handler(body) {
  const response = await handle({ method: 'POST', url: '/v2/models/m/infer', headers, body, signal });
  if (response.status !== 200) throw new Error(`${response.status} ${response.body}`);
  return response.body;
}

let minorGcs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail?.kind === 1 /* minor */) minorGcs++;
}).observe({ entryTypes: ['gc'] });

async function round(call) {
  const wave = new Array(WAVE);
  const gcBefore = minorGcs;
  const started = performance.now();
  for (let r = 0; r < REQUESTS / WAVE; r++) {
    for (let i = 0; i < WAVE; i++) wave[i] = call(bodies[(r * WAVE + i) & 255]);
    await Promise.all(wave);
  }
  const us = ((performance.now() - started) / REQUESTS) * 1000;
  await new Promise((resolve) => setImmediate(resolve)); // let the gc observer report
  return { us, gcs: ((minorGcs - gcBefore) / REQUESTS) * 10_000 };
}

const sides = { bare, handler };
const best = { bare: { us: Infinity, gcs: 0 }, handler: { us: Infinity, gcs: 0 } };
const names = ONLY === undefined ? ['bare', 'handler'] : [ONLY];
for (const name of names) await round(sides[name]);
for (let i = 0; i < ROUNDS; i++) {
  for (const name of i % 2 === 0 ? names : [...names].reverse()) {
    const r = await round(sides[name]);
    if (r.us < best[name].us) best[name] = r;
  }
}
console.log(`in-process, null runtime, ${WAVE} callers, ${REQUESTS} requests × ${ROUNDS} rounds (best):`);
for (const name of names) console.log(`  ${name.padEnd(8)} ${best[name].us.toFixed(2)} µs/request, ${best[name].gcs.toFixed(1)} minor GCs per 10k`);
if (names.length === 2) console.log(`  handler − bare: ${(best.handler.us - best.bare.us).toFixed(2)} µs/request`);
await host.close();
