/**
 * What inproc.mjs and compare.mjs share: onnxruntime, the MLP's raw session, the same seeded
 * rows and batches of 64, and the closed loop both measure with.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ort = createRequire(path.join(here, '../../package.json'))('onnxruntime-node');

/** The raw onnxruntime session on the MLP in `root`, one thread, as modelhost's options set it. */
export function rawSession(root) {
  return ort.InferenceSession.create(path.join(root, 'mlp-onnx/1/model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
}

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
/** 256 input rows of 64 features. */
export const rows = Array.from({ length: 256 }, () => Float32Array.from({ length: 64 }, random));
/** Four batches of 64 of those rows. */
export const batches = Array.from({ length: 4 }, (_, b) => {
  const x = new Float32Array(64 * 64);
  for (let r = 0; r < 64; r++) x.set(rows[(b * 64 + r) % 256], r * 64);
  return x;
});

/**
 * bench/lib/closed-loop.ts's loop, without its measurements: requests (× rows) per second of
 * wall time, and per second of this process's CPU time (user + system), which other
 * processes' load moves much less.
 */
export async function closedLoop(concurrency, request, durationMs, rowsPerRequest = 1) {
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
