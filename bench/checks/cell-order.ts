/**
 * Whether the load bench's order of runs in a cell (a c b b c a: the naive 64-caller side
 * between modelhost's and the raw batches') moves the MLP's (onnx) 64-caller c÷b against
 * bench/profile's order (c b b c): both orders in one process, alternated (issue 17, session 7).
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/checks/cell-order.ts [ms per run, default 500]   # ~50 s
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runClosedLoop } from '../lib/closed-loop.js';
import { ModelHost } from '../lib/modelhost.js';
import { hostOptions } from '../load/host.js';
import { batchesOf, inputRows, openRawModel, writeRepository } from '../load/models.js';

const ms = Number(process.argv[2] ?? 500);
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-cell-order-'));
await writeRepository(root, ['mlp-onnx']);
const host = new ModelHost(hostOptions(root));
await host.load('mlp-onnx');
const raw = await openRawModel('mlp-onnx', root);
const rows = inputRows('mlp-onnx', 256);
const batches = batchesOf(rows, 64, 4);
let i = 0;
let j = 0;
let k = 0;
const run = async (concurrency: number, request: () => unknown, rowsPer = 1) => (await runClosedLoop({ concurrency, request, warmup: { ms: 100 }, measure: { ms }, rowsPerRequest: rowsPer })).rowsPerSec;
const c = () => run(64, () => host.predict('mlp-onnx', rows[i++ % 256]!));
const b = () => run(1, () => raw.runBatch(batches[j++ % 4]!, 64), 64);
const a = () => run(64, () => raw.runOne(rows[k++ % 256]!));
await c(); await b(); await a();
const withA = { c: [] as number[], b: [] as number[] };
const withoutA = { c: [] as number[], b: [] as number[] };
for (let r = 0; r < 3; r++) {
  const seqA = async () => { await a(); withA.c.push(await c()); withA.b.push(await b()); withA.b.push(await b()); withA.c.push(await c()); await a(); };
  const seqN = async () => { withoutA.c.push(await c()); withoutA.b.push(await b()); withoutA.b.push(await b()); withoutA.c.push(await c()); };
  if (r % 2) { await seqN(); await seqA(); } else { await seqA(); await seqN(); }
}
const m = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
console.log(`a c b b c a: c÷b ${(m(withA.c) / m(withA.b)).toFixed(3)} (c ${m(withA.c).toFixed(0)}, b ${m(withA.b).toFixed(0)}); c b b c: c÷b ${(m(withoutA.c) / m(withoutA.b)).toFixed(3)} (c ${m(withoutA.c).toFixed(0)}, b ${m(withoutA.b).toFixed(0)})`);
await host.close();
await raw.dispose();
await rm(root, { recursive: true, force: true });
