/**
 * The floor of a hop on this machine, without modelhost: one sequential caller posts a
 * 64-float row to a bare worker thread that answers with 10 floats (structured clone both
 * ways), against the same closed loop running a no-op. Their p50 difference is what Node's
 * postMessage and the two thread wake-ups cost; modelhost's hop adds its own work on top.
 */
import { Worker } from 'node:worker_threads';
import { mergeResults, runClosedLoop, type ClosedLoopResult } from '../lib/closed-loop.js';
import type { CpuShare } from '../lib/cpu-contention.js';
import type { SideBudget } from './plan.js';

const ECHO_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, y: new Float32Array(10) }));
`;

export interface RawHopResult {
  readonly noop: ClosedLoopResult;
  readonly worker: ClosedLoopResult;
  /** worker p50 − no-op p50 (ms). */
  readonly p50DiffMs: number;
}

/** `guard` wraps each measured run (the bench's quiet guard; identity by default). */
export async function measureRawHop(
  budget: SideBudget,
  guard: <R extends { readonly cpu: CpuShare | undefined }>(run: () => Promise<R>) => Promise<R> = (run) => run(),
): Promise<RawHopResult> {
  // No inherited loader flags (tsx): the echo worker is plain CommonJS.
  const worker = new Worker(ECHO_WORKER, { eval: true, execArgv: [] });
  const waiting = new Map<number, () => void>();
  worker.on('message', (m: { id: number }) => {
    const resolve = waiting.get(m.id);
    waiting.delete(m.id);
    resolve?.();
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });
  let nextId = 0;
  const row = new Float32Array(64);
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ id, x: row });
    });
  try {
    const run = (request: () => unknown, first: boolean) =>
      guard(() => runClosedLoop({ concurrency: 1, request, warmup: first ? budget.warmup : budget.rewarm, measure: budget.measure }));
    const noops: ClosedLoopResult[] = [];
    const hops: ClosedLoopResult[] = [];
    // A B B A, so drift hits both alike.
    noops.push(await run(() => Promise.resolve(), true));
    hops.push(await run(roundTrip, true));
    hops.push(await run(roundTrip, false));
    noops.push(await run(() => Promise.resolve(), false));
    const noop = mergeResults(noops);
    const echo = mergeResults(hops);
    return { noop, worker: echo, p50DiffMs: echo.latency.p50 - noop.latency.p50 };
  } finally {
    await worker.terminate();
  }
}
