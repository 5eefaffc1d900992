/**
 * The MLP (onnx) in-process cells of bench/load.ts as a plain Node script over the built
 * package, for `node --cpu-prof` / `--trace-gc` / `--heap-prof` (tsx's keepNames transform
 * would add a `__name` call to the harness's closures and distort a profile). Started by
 * bench/profile.ts, which writes the model and passes its repository:
 *
 *   node [--cpu-prof] bench/profile/inproc.mjs <repository> <mode> [seconds] [callers]
 *
 * modes: c (modelhost only, for a profile), b (raw batches only), cb (c÷b, interleaved c b b c),
 * ca (c÷a, one caller by default), stats (stats on ÷ off), iterations (event-loop turns per batch).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
const ort = require('onnxruntime-node');
// MODELHOST_DIST: another build's dist/ (a before/after with the same harness), default ours.
const { ModelHost } = await import(pathToFileURL(path.join(process.env.MODELHOST_DIST ?? path.join(here, '../../dist'), 'index.js')).href);

const [root, mode = 'cb', seconds = '1', callersArg] = process.argv.slice(2);
if (root === undefined) throw new Error('usage: node bench/profile/inproc.mjs <repository> <mode> [seconds] [callers]');
const ms = Number(seconds) * 1000;
const callers = Number(callersArg ?? (mode === 'ca' ? 1 : 64));
const options = (stats) => ({ repository: root, stats, defaults: { instances: { kind: 'inline' }, batching: { maxBatchSize: 64, maxDelayMs: 2 } }, models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 } } } });
const host = new ModelHost(options(true));
await host.load('mlp-onnx');
const session = await ort.InferenceSession.create(path.join(root, 'mlp-onnx/1/model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const rows = Array.from({ length: 256 }, () => Float32Array.from({ length: 64 }, random));
const batches = Array.from({ length: 4 }, (_, b) => {
  const x = new Float32Array(64 * 64);
  for (let r = 0; r < 64; r++) x.set(rows[(b * 64 + r) % 256], r * 64);
  return x;
});

/** bench/lib/closed-loop.ts's loop, without its measurements: requests (× rows) per second. */
async function closedLoop(concurrency, request, durationMs, rowsPerRequest = 1) {
  const now = () => performance.now();
  const started = now();
  const cpu = process.cpuUsage();
  const deadline = started + durationMs;
  let done = 0;
  let last = started;
  let nextTurn;
  const turn = () => (nextTurn ??= new Promise((resolve) => setImmediate(() => { nextTurn = undefined; resolve(); })));
  const caller = async () => {
    let t0 = now();
    while (t0 < deadline) {
      await turn();
      await request();
      t0 = last = now();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const used = process.cpuUsage(cpu);
  lastCpuRate = (done * rowsPerRequest) / ((used.user + used.system) / 1e6);
  return (done * rowsPerRequest) / ((last - started) / 1000);
}
/** The last closed loop's rate per CPU second of this process: other processes' load moves it less than the wall clock's. */
let lastCpuRate = 0;

let next = 0;
const sides = {
  c: () => closedLoop(callers, () => host.predict('mlp-onnx', rows[next++ & 255]), ms),
  b: () => closedLoop(1, () => session.run({ x: new ort.Tensor('float32', batches[next++ & 3], [64, 64]) }), ms, 64),
  a: () => closedLoop(callers, () => session.run({ x: new ort.Tensor('float32', rows[next++ & 255], [1, 64]) }), ms),
};
const mean = (xs) => xs.reduce((p, q) => p + q, 0) / xs.length;

/** Rounds of x y y x: each side at the same mean position in time. */
async function ratio(x, y, label) {
  await x(); await y(); // warm
  const runs = { x: [], y: [] };
  const cpu = { x: [], y: [] };
  for (let round = 0; round < 3; round++) {
    for (const side of ['x', 'y', 'y', 'x']) {
      runs[side].push(await (side === 'x' ? x : y)());
      cpu[side].push(lastCpuRate);
    }
  }
  console.log(`${label}: ${mean(runs.x).toFixed(0)} ÷ ${mean(runs.y).toFixed(0)} = ${(mean(runs.x) / mean(runs.y)).toFixed(3)}`);
  console.log(`  by CPU time: ${mean(cpu.x).toFixed(0)} ÷ ${mean(cpu.y).toFixed(0)} = ${(mean(cpu.x) / mean(cpu.y)).toFixed(3)}`);
}

if (mode === 'c' || mode === 'b') {
  await sides[mode]();
  console.log(`${mode}: ${(await sides[mode]()).toFixed(0)} per second`);
} else if (mode === 'cb') await ratio(sides.c, sides.b, `modelhost req/s ÷ raw batched rows/s, ${callers} callers`);
else if (mode === 'ca') await ratio(sides.c, sides.a, `modelhost ÷ naive req/s, ${callers} callers`);
else if (mode === 'stats') {
  const off = new ModelHost(options(false));
  await off.load('mlp-onnx');
  await ratio(sides.c, () => closedLoop(callers, () => off.predict('mlp-onnx', rows[next++ & 255]), ms), `stats on ÷ off, ${callers} callers`);
  await off.close();
} else if (mode === 'iterations') {
  // A self-rearming setImmediate counts the loop's check phases while the host serves.
  let batchesRun = 0;
  host.on('batchCompleted', () => batchesRun++);
  await sides.c();
  let turns = 0;
  let ticking = true;
  const tick = () => { turns++; if (ticking) setImmediate(tick); };
  batchesRun = 0;
  setImmediate(tick);
  await sides.c();
  ticking = false;
  console.log(`event-loop iterations per batch: ${(turns / batchesRun).toFixed(2)} (${batchesRun} batches)`);
} else throw new Error(`unknown mode '${mode}'`);
await host.close();
await session.release();
