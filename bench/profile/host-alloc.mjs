/**
 * What modelhost itself allocates and costs per request, on a runtime that does no work
 * (bench/lib/null-runtime.ts's model, written here in plain JS so no transform touches it),
 * over a built package: ours, or another tree's (`--dist /tmp/base/dist`) for a before/after.
 *
 *   node bench/profile/host-alloc.mjs [--dist <dir>] [--callers 64] [--requests 200000] [--alloc] [--breaker off] [--stats off]
 *
 * Prints µs per request (best of 5 rounds) and, with `--alloc`, bytes allocated per request
 * by V8's sampling heap profiler with collected objects included, by allocating function.
 */
import inspector from 'node:inspector/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    dist: { type: 'string', default: path.join(here, '../../dist') },
    callers: { type: 'string', default: '64' },
    requests: { type: 'string', default: '200000' },
    alloc: { type: 'boolean', default: false },
    breaker: { type: 'string', default: 'on' },
    stats: { type: 'string', default: 'on' },
    top: { type: 'string', default: '25' },
  },
});
const { ModelHost } = await import(pathToFileURL(path.join(path.resolve(args.dist), 'index.js')).href);
const callers = Number(args.callers);
const requests = Math.floor(Number(args.requests) / callers) * callers;

const signature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 10] }] };
const runtime = {
  name: 'null',
  canLoad: () => true,
  load: async () => ({
    signature,
    run: (inputs) => {
      const rows = inputs.x.shape[0];
      return Promise.resolve({ y: { data: new Float32Array(rows * 10), shape: [rows, 10], dtype: 'float32' } });
    },
    dispose: () => undefined,
  }),
};
const model = { runtime: 'null', ...(args.breaker === 'off' ? { breaker: { enabled: false } } : {}) };
const host = new ModelHost({ runtimes: { null: runtime }, stats: args.stats !== 'off', defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 } }, models: { m: model } });
await host.load('m', { source: { files: { 'model.null': 'null' } } });

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const rows = Array.from({ length: 256 }, () => Float32Array.from({ length: 64 }, random));
const wave = new Array(callers);

async function round() {
  const started = performance.now();
  for (let r = 0; r < requests / callers; r++) {
    for (let i = 0; i < callers; i++) wave[i] = host.predict('m', rows[(r * callers + i) & 255]);
    await Promise.all(wave);
  }
  return ((performance.now() - started) / requests) * 1000;
}

await round(); // JIT warmup
if (args.alloc) {
  const session = new inspector.Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await round();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  // Self bytes per function (where the allocation happened), per request.
  const byFunction = new Map();
  let total = 0;
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-1)[0]}:${lineNumber + 1}`;
    if (node.selfSize > 0) byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  console.log(`allocated: ${(total / requests).toFixed(0)} B per request (${callers} callers, sampled)`);
  for (const [key, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) console.log(`${(bytes / requests).toFixed(1).padStart(8)} B  ${key}`);
} else {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) best = Math.min(best, await round());
  console.log(`${callers} callers: ${best.toFixed(3)} µs per request (best of 5 rounds of ${requests})`);
}
await host.close();
