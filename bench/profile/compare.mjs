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
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { batches, closedLoop, ort, rawSession, rows } from './mlp-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

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
const session = await rawSession(root);

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
