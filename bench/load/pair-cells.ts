import { ModelHost } from '../lib/modelhost.js';
import { mergeResults, runClosedLoop, type Budget, type ClosedLoopResult } from '../lib/closed-loop.js';
import { formatCount, formatMs, formatRatio, formatTable } from '../lib/table.js';
import { hostOptions } from './host.js';
import { batchesOf, inputRows, openRawModel } from './models.js';

/** Two sides of one comparison, measured in interleaved rounds (x y y x) so drift of the machine hits both alike. */
export interface PairCell {
  readonly label: string;
  readonly concurrency: number;
  /** What each request is, for the report. */
  readonly unit: string;
  readonly subject: { readonly name: string; readonly result: ClosedLoopResult };
  readonly baseline: { readonly name: string; readonly result: ClosedLoopResult };
  /** subject ÷ baseline, requests/s. */
  readonly ratio: number;
}

interface PairBudget {
  readonly warmup: Budget;
  readonly half: Budget;
  readonly rounds: number;
}

const budgetFor = (quick: boolean): PairBudget => (quick ? { warmup: { ms: 150 }, half: { ms: 250 }, rounds: 1 } : { warmup: { ms: 400 }, half: { ms: 500 }, rounds: 2 });

async function pair(
  label: string,
  unit: string,
  concurrency: number,
  budget: PairBudget,
  subject: { name: string; request: () => unknown },
  baseline: { name: string; request: () => unknown },
  log: (line: string) => void,
): Promise<PairCell> {
  const runs: { x: ClosedLoopResult[]; y: ClosedLoopResult[] } = { x: [], y: [] };
  const sides = { x: subject, y: baseline };
  for (let round = 0; round < budget.rounds; round++) {
    for (const side of ['x', 'y', 'y', 'x'] as const) {
      const warmup = runs[side].length === 0 ? budget.warmup : { ms: 100 };
      const result = await runClosedLoop({ concurrency, request: sides[side].request, warmup, measure: budget.half });
      if (result.errors > 0) throw new Error(`${label}, ${sides[side].name}: ${result.errors} errors, first: ${result.firstError}`);
      log(`  ${label}, ${sides[side].name}: ${formatCount(result.requestsPerSec)} req/s, p50 ${formatMs(result.latency.p50)} ms`);
      runs[side].push(result);
    }
  }
  const x = mergeResults(runs.x);
  const y = mergeResults(runs.y);
  return { label, unit, concurrency, subject: { name: subject.name, result: x }, baseline: { name: baseline.name, result: y }, ratio: x.requestsPerSec / y.requestsPerSec };
}

/**
 * `predictBatch` of 32 rows against the raw runtime on the same 32 rows, one caller (issue 17):
 * what modelhost adds to a request that is already a batch (validation, queue, no concat).
 */
export async function predictBatchCell(host: ModelHost, root: string, quick: boolean, log: (line: string) => void): Promise<PairCell> {
  const id = 'tiny-tfjs';
  const raw = await openRawModel(id, root);
  try {
    const batches = batchesOf(inputRows(id, 256), 32, 4);
    let next = 0;
    let nextRaw = 0;
    const tensors = batches.map((data) => ({ data, shape: [32, 16] }));
    return await pair(
      'tiny MLP, predictBatch of 32 rows',
      'a batch of 32 rows',
      1,
      budgetFor(quick),
      { name: 'modelhost predictBatch', request: () => host.predictBatch(id, tensors[next++ & 3]!) },
      { name: 'raw runtime', request: () => raw.runBatch(batches[nextRaw++ & 3]!, 32) },
      log,
    );
  } finally {
    await raw.dispose();
  }
}

/**
 * The MLP (onnx) at 64 callers on the bench's host (default: stats on) against the same
 * options with `stats: false` (issue 17): what the default stats recorder costs.
 */
export async function statsCell(host: ModelHost, root: string, quick: boolean, log: (line: string) => void): Promise<PairCell> {
  const id = 'mlp-onnx';
  const off = new ModelHost({ ...hostOptions(root), stats: false });
  try {
    await off.load(id);
    const rows = inputRows(id, 256);
    let next = 0;
    const row = () => rows[next++ & 255]!;
    return await pair(
      'MLP onnx, stats recorder',
      'one row',
      64,
      budgetFor(quick),
      { name: 'stats on (default)', request: () => host.predict(id, row()) },
      { name: 'stats: false', request: () => off.predict(id, row()) },
      log,
    );
  } finally {
    await off.close();
  }
}

export function formatPairCells(cells: readonly PairCell[]): string {
  if (cells.length === 0) return '';
  const rows = cells.map((c) => [
    c.label,
    String(c.concurrency),
    c.subject.name,
    formatCount(c.subject.result.requestsPerSec),
    c.baseline.name,
    formatCount(c.baseline.result.requestsPerSec),
    formatRatio(c.ratio),
  ]);
  return [`Paired cells (interleaved rounds x y y x; requests/s)`, '', formatTable(['cell', 'C', 'subject', 'req/s', 'baseline', 'req/s', 'ratio'], rows)].join('\n');
}
