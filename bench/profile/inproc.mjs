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
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { batches, closedLoop as measuredLoop, ort, rawSession, rows } from './mlp-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// MODELHOST_DIST: another build's dist/ (a before/after with the same harness), default ours.
const { ModelHost } = await import(pathToFileURL(path.join(process.env.MODELHOST_DIST ?? path.join(here, '../../dist'), 'index.js')).href);

const [root, mode = 'cb', seconds = '1', callersArg] = process.argv.slice(2);
if (root === undefined) throw new Error('usage: node bench/profile/inproc.mjs <repository> <mode> [seconds] [callers]');
const ms = Number(seconds) * 1000;
const callers = Number(callersArg ?? (mode === 'ca' ? 1 : 64));
const options = (stats) => ({ repository: root, stats, defaults: { instances: { kind: 'inline' }, batching: { maxBatchSize: 64, maxDelayMs: 2 } }, models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 } } } });
const host = new ModelHost(options(true));
await host.load('mlp-onnx');
const session = await rawSession(root);

/** The shared closed loop's wall-clock rate; its rate per CPU second is kept in {@link lastCpuRate}. */
async function closedLoop(concurrency, request, durationMs, rowsPerRequest = 1) {
  const rate = await measuredLoop(concurrency, request, durationMs, rowsPerRequest);
  lastCpuRate = rate.cpu;
  return rate.wall;
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
