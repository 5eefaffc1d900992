/**
 * Why `npm run bench`'s MLP (onnx) 64-caller c÷b reads below bench/profile.ts's (issue 17,
 * session 7): in one process, on the same model, rows and raw session, alternated in rounds,
 *   - the load bench's closed loop (bench/lib/closed-loop.ts: a latency sample per request)
 *     against bench/profile's (bench/profile/mlp-harness.mjs: counts only), and
 *   - a host with a `batchCompleted` listener (as the load bench had to count batches) against
 *     the same options without one.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/checks/cell-harness.ts [ms per run, default 500]   # ~60 s
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runClosedLoop } from '../lib/closed-loop.js';
import { ModelHost } from '../lib/modelhost.js';
import { hostOptions } from '../load/host.js';
import { batchesOf, inputRows, openRawModel, writeRepository } from '../load/models.js';
// @ts-expect-error a plain .mjs module without types
import { closedLoop } from '../profile/mlp-harness.mjs';

const ms = Number(process.argv[2] ?? 500);
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-cell-harness-'));
try {
  await writeRepository(root, ['mlp-onnx']);
  const host = new ModelHost(hostOptions(root));
  const listened = new ModelHost(hostOptions(root));
  await host.load('mlp-onnx');
  await listened.load('mlp-onnx');
  let batches = 0;
  listened.on('batchCompleted', () => batches++);
  const raw = await openRawModel('mlp-onnx', root);
  const rows = inputRows('mlp-onnx', 256);
  const rawBatches = batchesOf(rows, 64, 4);
  let next = 0;
  const c = () => host.predict('mlp-onnx', rows[next++ & 255]!);
  const cListened = () => listened.predict('mlp-onnx', rows[next++ & 255]!);
  const b = () => raw.runBatch(rawBatches[next++ & 3]!, 64);
  const loadLoop = async (concurrency: number, request: () => unknown, rowsPerRequest = 1) =>
    (await runClosedLoop({ concurrency, request, warmup: { ms: 100 }, measure: { ms }, rowsPerRequest })).rowsPerSec;
  /** Rows per second of wall time, and per second of this process's CPU time (the MLP runs on this thread), which other processes' load moves less. */
  const timed = async (side: () => Promise<number>) => {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const wall = await side();
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (wall * (performance.now() - t0)) / 1000 / ((used.user + used.system) / 1e6) };
  };
  const sides = {
    'load loop, c': () => loadLoop(64, c),
    'load loop, c with a batchCompleted listener': () => loadLoop(64, cListened),
    'load loop, b': () => loadLoop(1, b, 64),
    'profile loop, c': async () => ((await closedLoop(64, c, ms)) as { wall: number }).wall,
    'profile loop, b': async () => ((await closedLoop(1, b, ms, 64)) as { wall: number }).wall,
  };
  type Side = keyof typeof sides;
  const names = Object.keys(sides) as Side[];
  const runs = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Side, number[]>;
  const cpuRuns = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Side, number[]>;
  for (const name of names) await sides[name](); // warm
  for (let round = 0; round < 4; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const rate = await timed(sides[name]);
      runs[name].push(rate.wall);
      cpuRuns[name].push(rate.cpu);
    }
  }
  const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
  const ratio = (x: Side, y: Side) => `${(mean(runs[x]) / mean(runs[y])).toFixed(3)} (by CPU time ${(mean(cpuRuns[x]) / mean(cpuRuns[y])).toFixed(3)})`;
  for (const name of names) console.log(`${name}: ${mean(runs[name]).toFixed(0)} rows/s`);
  console.log(`c÷b, load loop: ${ratio('load loop, c', 'load loop, b')}; with the listener: ${ratio('load loop, c with a batchCompleted listener', 'load loop, b')}`);
  console.log(`c÷b, profile loop: ${ratio('profile loop, c', 'profile loop, b')}`);
  console.log(`(${batches} batchCompleted events)`);
  await host.close();
  await listened.close();
  await raw.dispose();
} finally {
  await rm(root, { recursive: true, force: true });
}
