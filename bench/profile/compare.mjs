/**
 * Two builds of modelhost against one raw side, in one process, interleaved: for a
 * before/after on a machine other processes share, where separate runs moved by more than the
 * change (issue 17, session 6). Each side's rate is measured twice: by the wall clock, and by
 * this process's CPU time (user + system), which other processes' load moves much less. The
 * MLP (onnx) is computed on this thread (one intra-op thread), so CPU time is the work.
 * Started by bench/profile.ts like inproc.mjs:
 *
 *   npx tsx bench/profile.ts -- compare <cb|ca> [seconds] [callers] -- <other dist dir>
 *   (node bench/profile/compare.mjs <repository> <cb|ca> [seconds] [callers] <other dist>)
 *
 * `cb`: 64 callers, each build ÷ raw back-to-back batches of 64; `ca`: one caller, each build
 * ÷ naive requests. Rounds of A B r r B A (r: the raw side), 4 rounds. Both hosts share the
 * process's heap: each one's garbage is collected during both sides alike.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
const ort = require('onnxruntime-node');

const [root, mode = 'cb', seconds = '1', callersArg, otherDist] = process.argv.slice(2);
if (root === undefined || otherDist === undefined) throw new Error('usage: node bench/profile/compare.mjs <repository> <cb|ca> <seconds> <callers> <other dist dir>');
const dists = { A: path.resolve(otherDist), B: path.join(here, '../../dist') };
const ms = Number(seconds) * 1000;
const callers = Number(callersArg || (mode === 'ca' ? 1 : 64));
const options = { repository: root, defaults: { instances: { kind: 'inline' }, batching: { maxBatchSize: 64, maxDelayMs: 2 } }, models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 } } } };
const hosts = {};
for (const [side, dist] of Object.entries(dists)) {
  const { ModelHost } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  hosts[side] = new ModelHost(options);
  await hosts[side].load('mlp-onnx');
}
const session = await ort.InferenceSession.create(path.join(root, 'mlp-onnx/1/model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const rows = Array.from({ length: 256 }, () => Float32Array.from({ length: 64 }, random));
const batches = Array.from({ length: 4 }, (_, b) => {
  const x = new Float32Array(64 * 64);
  for (let r = 0; r < 64; r++) x.set(rows[(b * 64 + r) % 256], r * 64);
  return x;
});

/** inproc.mjs's closed loop: requests (× rows) per second of wall time and of CPU time. */
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
  return { wall: (done * rowsPerRequest) / ((last - started) / 1000), cpu: (done * rowsPerRequest) / ((used.user + used.system) / 1e6) };
}

let next = 0;
const sides = {
  A: () => closedLoop(callers, () => hosts.A.predict('mlp-onnx', rows[next++ & 255]), ms),
  B: () => closedLoop(callers, () => hosts.B.predict('mlp-onnx', rows[next++ & 255]), ms),
  r: mode === 'cb'
    ? () => closedLoop(1, () => session.run({ x: new ort.Tensor('float32', batches[next++ & 3], [64, 64]) }), ms, 64)
    : () => closedLoop(callers, () => session.run({ x: new ort.Tensor('float32', rows[next++ & 255], [1, 64]) }), ms),
};
for (const side of ['A', 'B', 'r']) await sides[side](); // warm
const runs = { A: [], B: [], r: [] };
for (let round = 0; round < 4; round++) for (const side of ['A', 'B', 'r', 'r', 'B', 'A']) runs[side].push(await sides[side]());
const mean = (side, key) => runs[side].reduce((sum, run) => sum + run[key], 0) / runs[side].length;
const raw = mode === 'cb' ? `raw batches of 64 (rows/s)` : 'naive requests';
for (const key of ['wall', 'cpu']) {
  const a = mean('A', key) / mean('r', key);
  const b = mean('B', key) / mean('r', key);
  console.log(`${mode}, ${callers} caller(s), by ${key} time: A ${a.toFixed(3)}, B ${b.toFixed(3)} (÷ ${raw} ${mean('r', key).toFixed(0)}/s); B ÷ A ${(b / a).toFixed(3)}`);
}
for (const host of Object.values(hosts)) await host.close();
await session.release();
